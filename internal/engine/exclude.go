package engine

import (
	"fmt"
	"os"
	"path"
	"strings"

	"sigs.k8s.io/yaml"

	casebook "github.com/casebook-dev/casebook"
)

// Exclusions are findings known and accepted, read from a config file:
//
//	ignore:
//	  - case: N-002             # a case ID, or a glob: "N-*"
//	    namespace: kube-system  # glob
//	    name: "svclb-*"         # object name glob
//	    kind: Pod               # optional
//	    reason: ServiceLB pods are expected to wait for a free port
//
// Within a rule every field given must match; an object a rule matches is
// dropped from its finding, and a finding left without objects is dropped.
type Exclusions struct {
	Ignore []Rule `json:"ignore"`
}

// Rule is one exclusion.
type Rule struct {
	Case      string `json:"case,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// LoadExclusions reads and checks an exclusion config file.
func LoadExclusions(file string) (*Exclusions, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseExclusions(file, data)
}

// ParseExclusions parses an exclusion config; name is used in errors.
func ParseExclusions(name string, data []byte) (*Exclusions, error) {
	var ex Exclusions
	if err := yaml.UnmarshalStrict(data, &ex); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for i, r := range ex.Ignore {
		if r.Case == "" && r.Namespace == "" && r.Name == "" && r.Kind == "" {
			return nil, fmt.Errorf("%s: ignore[%d]: a rule needs at least one of case, namespace, name, kind", name, i)
		}
		for field, pattern := range map[string]string{"case": r.Case, "namespace": r.Namespace, "name": r.Name, "kind": r.Kind} {
			if _, err := path.Match(pattern, ""); err != nil {
				return nil, fmt.Errorf("%s: ignore[%d].%s: bad pattern %q: %w", name, i, field, pattern, err)
			}
		}
	}
	return &ex, nil
}

func globMatch(pattern, s string, fold bool) bool {
	if pattern == "" {
		return true
	}
	if fold {
		pattern, s = strings.ToUpper(pattern), strings.ToUpper(s)
	}
	ok, _ := path.Match(pattern, s)
	return ok
}

func (r Rule) matches(caseID string, o casebook.ObjectRef) bool {
	return globMatch(r.Case, caseID, true) && globMatch(r.Namespace, o.Namespace, false) &&
		globMatch(r.Name, o.Name, false) && globMatch(r.Kind, o.Kind, true)
}

// Apply drops excluded objects from findings, with the evidence quoted
// from them, and returns what is left and how many objects were dropped.
// excludes reports whether a rule drops the object from a finding of the case.
func (ex *Exclusions) excludes(caseID string, o casebook.ObjectRef) bool {
	if o.Name == "" {
		return false // evidence about a kind as a whole names no object to drop
	}
	for _, r := range ex.Ignore {
		if r.matches(caseID, o) {
			return true
		}
	}
	return false
}

func (ex *Exclusions) Apply(fs []casebook.Finding) ([]casebook.Finding, int) {
	dropped := 0
	var out []casebook.Finding
	for _, f := range fs {
		var keep []casebook.ObjectRef
		for _, o := range f.Objects {
			excluded := false
			for _, r := range ex.Ignore {
				if r.matches(f.CaseID, o) {
					excluded = true
					break
				}
			}
			if excluded {
				dropped++
			} else {
				keep = append(keep, o)
			}
		}
		if len(keep) == 0 && len(f.Objects) > 0 {
			continue
		}
		var ev []casebook.Evidence
		for _, e := range f.Evidence {
			if !ex.excludes(f.CaseID, e.Object) {
				ev = append(ev, e)
			}
		}
		f.Objects, f.Evidence = keep, ev
		out = append(out, f)
	}
	return out, dropped
}
