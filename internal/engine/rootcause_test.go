package engine_test

import (
	"context"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// TestRootCauseFirst is the "done when": on a cluster with a
// storage fault under a StatefulSet and an Ingress in front of that
// StatefulSet's Service, the report leads with the storage finding and
// shows the scheduling, Service and Ingress findings as its consequences,
// each with next steps for the real objects; counts go by root cause and
// the links run both ways.
func TestRootCauseFirst(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Load("testdata/root-cause")
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.Diagnose(context.Background(), snap, detectors.Set(lib.Cases), engine.Diagnosis{Source: "root-cause"}, engine.Options{Case: lib.Get})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	byID := map[string]casebook.Finding{}
	for _, f := range r.Findings {
		got = append(got, f.CaseID+" "+f.Cause)
		byID[f.ID] = f
	}
	want := []string{"S-001 no-default-storage-class", "K-002 unbound-pvc", "N-002 no-ready-endpoints", "N-003 backend-no-ready-endpoints"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("findings in order %v, want %v", got, want)
	}
	root := r.Findings[0]
	if len(root.CausedBy) != 0 || r.Summary.Roots != 1 || r.Summary.Critical != 1 || r.Summary.Major != 0 {
		t.Errorf("root %s caused by %v; summary %+v: want one critical root cause", root.ID, root.CausedBy, r.Summary)
	}
	// Each consequence hangs under the one before it, back to the storage fault.
	for i, f := range r.Findings[1:] {
		parent := r.Findings[i]
		if len(f.CausedBy) != 1 || f.CausedBy[0] != parent.ID {
			t.Errorf("%s caused by %v, want [%s]", f.ID, f.CausedBy, parent.ID)
		}
	}
	// Links both ways.
	for _, f := range r.Findings {
		for _, id := range f.CausedBy {
			if c, ok := byID[id]; !ok || !contains(c.Causes, f.ID) {
				t.Errorf("%s is caused by %s, which does not list it among its causes", f.ID, id)
			}
		}
		for _, id := range f.Causes {
			if c, ok := byID[id]; !ok || !contains(c.CausedBy, f.ID) {
				t.Errorf("%s causes %s, which does not name it as its cause", f.ID, id)
			}
		}
		// Next steps name the real objects, never the case's examples.
		named := false
		for _, s := range f.Next {
			named = named || strings.Contains(s.Command, "historian")
			for _, example := range []string{"web.default", "img-resize", "<ns>", "<pod>"} {
				if strings.Contains(s.Command, example) {
					t.Errorf("%s: %q names the case's example %q", f.ID, s.Command, example)
				}
			}
		}
		if !named {
			t.Errorf("%s: no next step names its objects: %+v", f.ID, f.Next)
		}
	}
	// The exit code goes by root cause: a critical consequence under a
	// minor root does not fail --fail-on critical.
	minor := *r
	minor.Findings = append([]casebook.Finding(nil), r.Findings...)
	minor.Findings[0].Severity = casebook.SeverityMinor
	if minor.Fails(casebook.SeverityCritical.Rank()) {
		t.Error("a critical consequence of a minor root cause fails --fail-on critical")
	}
	if !minor.Fails(casebook.SeverityMinor.Rank()) {
		t.Error("a minor root cause does not fail --fail-on minor")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
