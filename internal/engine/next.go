package engine

import (
	"strings"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// StepTemplate is a next step a detector offers for one cause: a command
// with placeholders filled from the finding's own objects, and the step
// of the case's 排查过程 it comes from.
//
// Placeholders: %ns% and %name% are the namespace and name of the first
// object of Kind the finding names (its objects first, then the objects
// its evidence quotes); %kind% is that object's kind in lower case, as
// kubectl takes it; %node% is the node the object is on (a Node itself, a
// Pod's spec.nodeName). OnNode marks a command run in a shell on %node%.
// A template whose object or node cannot be found is left out: a step
// never names an object the cluster does not have.
type StepTemplate struct {
	Step   int
	Kind   casebook.Kind
	Cmd    string
	OnNode bool
}

// Translator is a detector that says its findings in Chinese too.
type Translator interface {
	MessageZH(f *casebook.Finding) string
}

// Stepper is a detector that offers next steps by cause.
type Stepper interface {
	NextSteps(f *casebook.Finding) []StepTemplate
}

// fillNext turns the templates of a finding into steps for its objects.
func fillNext(st *cluster.State, c *casebook.Case, f *casebook.Finding, ts []StepTemplate) []casebook.Step {
	var out []casebook.Step
	for _, t := range ts {
		obj, ok := objectOf(f, t.Kind)
		if !ok {
			continue
		}
		var names []casebook.ObjectRef
		switch {
		case strings.Contains(t.Cmd, "%name%"):
			names = append(names, obj)
		case strings.Contains(t.Cmd, "%ns%"):
			names = append(names, casebook.ObjectRef{Kind: string(casebook.KindNamespace), Name: obj.Namespace})
		}
		node := ""
		if t.OnNode || strings.Contains(t.Cmd, "%node%") {
			if node = nodeOf(st, obj); node == "" {
				continue
			}
			if !strings.Contains(t.Cmd, "%name%") || obj.Kind != string(casebook.KindNode) {
				names = append(names, casebook.ObjectRef{Kind: string(casebook.KindNode), Name: node})
			}
		}
		cmd := strings.NewReplacer("%ns%", obj.Namespace, "%name%", obj.Name, "%node%", node,
			"%kind%", strings.ToLower(obj.Kind)).Replace(t.Cmd)
		s := casebook.Step{Command: cmd, Ref: f.CaseID + "#排查过程", StepNo: t.Step, Objects: names}
		if t.OnNode {
			s.Node = node
		}
		if c != nil {
			s.Title = c.InvestigationStep(t.Step)
		}
		out = append(out, s)
	}
	return out
}

// defaultNext is the step of a finding whose detector offers none: describe
// its first object, the case's first step.
func defaultNext(f *casebook.Finding) []StepTemplate {
	if len(f.Objects) == 0 {
		return nil
	}
	o := f.Objects[0]
	cmd := "kubectl describe %kind% %name%"
	if o.Namespace != "" {
		cmd = "kubectl describe %kind% -n %ns% %name%"
	}
	return []StepTemplate{{Step: 1, Kind: casebook.Kind(o.Kind), Cmd: cmd}}
}

func objectOf(f *casebook.Finding, kind casebook.Kind) (casebook.ObjectRef, bool) {
	for _, o := range f.Objects {
		if o.Kind == string(kind) && o.Name != "" {
			return o, true
		}
	}
	for _, e := range f.Evidence {
		if e.Object.Kind == string(kind) && e.Object.Name != "" {
			return e.Object, true
		}
	}
	return casebook.ObjectRef{}, false
}

// nodeOf returns the node an object is on, or "".
func nodeOf(st *cluster.State, o casebook.ObjectRef) string {
	switch casebook.Kind(o.Kind) {
	case casebook.KindNode:
		return o.Name
	case casebook.KindPod:
		if idx, err := st.PodIndex(); err == nil {
			if p := idx.Get(o.Namespace, o.Name); p != nil {
				return p.Spec.NodeName
			}
		}
		if pods, err := st.PodsIn(o.Namespace); err == nil {
			for _, p := range pods {
				if p.Name == o.Name {
					return p.Spec.NodeName
				}
			}
		}
	}
	return ""
}
