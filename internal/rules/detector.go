package rules

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/open-policy-agent/opa/v1/rego"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// Set is the rules of one library. Its detectors share one input document
// per run: the first rule to run builds it from the union of what the set
// reads, the others reuse it (cluster.State.Memo).
type Set struct {
	Rules     []*Rule
	kinds     []casebook.Kind
	relations []string
}

// NewSet returns the set of rules.
func NewSet(rules []*Rule) *Set {
	s := &Set{Rules: rules}
	kinds := map[casebook.Kind]bool{}
	rels := map[string]bool{}
	for _, r := range rules {
		for _, k := range r.kinds {
			kinds[k] = true
		}
		for _, rel := range r.relations {
			rels[rel] = true
		}
	}
	for k := range kinds {
		s.kinds = append(s.kinds, k)
	}
	sort.Slice(s.kinds, func(i, j int) bool { return s.kinds[i] < s.kinds[j] })
	for r := range rels {
		s.relations = append(s.relations, r)
	}
	sort.Strings(s.relations)
	return s
}

// Detectors returns one engine detector per rule.
func (s *Set) Detectors() []engine.Detector {
	out := make([]engine.Detector, 0, len(s.Rules))
	for _, r := range s.Rules {
		out = append(out, &Detector{rule: r, set: s})
	}
	return out
}

type inputKey struct{ set *Set }

// Input returns the run's input document, built once per state.
func (s *Set) Input(st *cluster.State) *Input {
	return st.Memo(inputKey{s}, func() any { return BuildInput(st, s.kinds, s.relations) }).(*Input)
}

// Detector runs one rule in the diagnose engine.
type Detector struct {
	rule *Rule
	set  *Set
}

var (
	_ engine.Detector  = (*Detector)(nil)
	_ engine.Stepper   = (*Detector)(nil)
	_ engine.Explainer = (*Detector)(nil)
	_ engine.Bystander = (*Detector)(nil)
)

// CaseID returns the case of the rule.
func (d *Detector) CaseID() string { return d.rule.CaseID }

// Rule returns the rule the detector runs.
func (d *Detector) Rule() *Rule { return d.rule }

// Kinds lists what the rule reads: the kinds under input.objects it names
// and the kinds its relations are built from.
func (d *Detector) Kinds() []casebook.Kind {
	seen := map[casebook.Kind]bool{}
	var out []casebook.Kind
	add := func(ks ...casebook.Kind) {
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	add(d.rule.kinds...)
	for _, r := range d.rule.relations {
		add(relationKinds[r]...)
	}
	return out
}

// NextSteps returns the steps the rule declares for the finding's cause.
func (d *Detector) NextSteps(f *casebook.Finding) []engine.StepTemplate { return d.rule.next[f.Cause] }

// Symptom reports whether the rule declares cause a consequence of another
// fault (its symptoms set), so the engine hangs it under its root cause.
func (d *Detector) Symptom(cause string) bool { return d.rule.symptoms[cause] }

// ExplainsNothing reports whether the rule declares cause one that explains
// no other finding (its explains_nothing set).
func (d *Detector) ExplainsNothing(cause string) bool { return d.rule.bystander[cause] }

// Detect evaluates the rule over the run's input document. Kinds that
// could not be read come back as the error, with the findings made from
// the rest.
func (d *Detector) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	in := d.set.Input(st)
	fs, err := d.rule.Eval(ctx, in)
	if err != nil {
		return nil, err
	}
	return fs, errors.Join(in.Errors...)
}

// Eval evaluates the rule over an input document under ctx's deadline.
func (r *Rule) Eval(ctx context.Context, in *Input) ([]casebook.Finding, error) {
	rs, err := r.query.Eval(ctx, rego.EvalParsedInput(in.Value))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: %w", r.File, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	list, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: findings must be a set of objects, not %T", r.File, rs[0].Expressions[0].Value)
	}
	out := make([]casebook.Finding, 0, len(list))
	var errs []error
	for i, v := range list {
		f, err := findingOf(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: finding %d: %w", r.File, i, err))
			continue
		}
		f.CaseID = r.CaseID
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// findingOf reads one finding in the output shape of docs/rules.md.
func findingOf(v any) (casebook.Finding, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return casebook.Finding{}, fmt.Errorf("not an object: %T", v)
	}
	var f casebook.Finding
	f.Cause, _ = m["cause"].(string)
	f.Message, _ = m["message"].(string)
	f.MessageZH, _ = m["message_zh"].(string)
	if f.Cause == "" || f.Message == "" {
		return f, errors.New("needs a cause and a message")
	}
	objs, _ := m["objects"].([]any)
	for _, o := range objs {
		ref, err := refOf(o)
		if err != nil {
			return f, fmt.Errorf("objects: %w", err)
		}
		f.Objects = append(f.Objects, ref)
	}
	if len(f.Objects) == 0 {
		return f, errors.New("names no objects")
	}
	evs, _ := m["evidence"].([]any)
	for _, e := range evs {
		em, ok := e.(map[string]any)
		if !ok {
			return f, fmt.Errorf("evidence: not an object: %T", e)
		}
		ref, err := refOf(em["object"])
		if err != nil {
			return f, fmt.Errorf("evidence: %w", err)
		}
		ev := casebook.Evidence{Object: ref}
		ev.Field, _ = em["field"].(string)
		ev.Text, _ = em["text"].(string)
		f.Evidence = append(f.Evidence, ev)
	}
	return f, nil
}

func refOf(v any) (casebook.ObjectRef, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return casebook.ObjectRef{}, fmt.Errorf("an object reference is {kind, namespace, name}, not %T", v)
	}
	var r casebook.ObjectRef
	r.Kind, _ = m["kind"].(string)
	r.Namespace, _ = m["namespace"].(string)
	r.Name, _ = m["name"].(string)
	if r.Kind == "" {
		return r, errors.New("an object reference needs a kind")
	}
	return r, nil
}

// Causes returns the causes the rule declares next steps or symptoms for.
func (r *Rule) Causes() map[string]bool {
	out := map[string]bool{}
	for c := range r.next {
		out[c] = true
	}
	for c := range r.symptoms {
		out[c] = true
	}
	for c := range r.bystander {
		out[c] = true
	}
	return out
}
