package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/rules"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// everyFixture lists every cluster fixture in the tree: the built-in
// detectors' broken and fixed snapshots, the example cluster and the team
// library's fixtures.
func everyFixture(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, pattern := range []string{"../detectors/testdata/*/*", "../../examples/team-cases/testdata/*/*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range m {
			if fi, err := os.Stat(d); err == nil && fi.IsDir() {
				dirs = append(dirs, d)
			}
		}
	}
	dirs = append(dirs, "../../examples/edge-cluster")
	if len(dirs) < 40 {
		t.Fatalf("found only %d fixtures", len(dirs))
	}
	return dirs
}

// TestParityWithGoDetectors runs each built-in rule and the Go detector of
// its case over every fixture in the tree and requires the same findings
// for the rule's cause: the same objects and the same evidence, verbatim.
func TestParityWithGoDetectors(t *testing.T) {
	ctx := context.Background()
	builtin, err := rules.Builtin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	goDetector := map[string]engine.Detector{}
	for _, d := range detectors.All() {
		goDetector[d.CaseID()] = d
	}
	set := rules.NewSet(builtin)
	fired := map[string]int{}
	for _, dir := range everyFixture(t) {
		snap, err := snapshot.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range set.Detectors() {
			rd := d.(*rules.Detector)
			t.Run(strings.TrimPrefix(dir, "../")+"/"+rd.CaseID(), func(t *testing.T) {
				ruleRes, err := engine.Run(ctx, snap, []engine.Detector{d}, engine.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range ruleRes.Warnings {
					t.Errorf("rule warning: %s", w)
				}
				goRes, err := engine.Run(ctx, snap, []engine.Detector{goDetector[rd.CaseID()]}, engine.Options{})
				if err != nil {
					t.Fatal(err)
				}
				causes := map[string]bool{}
				for _, f := range ruleRes.Findings {
					causes[f.Cause] = true
				}
				for c := range rd.Rule().Causes() {
					causes[c] = true
				}
				got, want := describe(ruleRes.Findings, causes), describe(goRes.Findings, causes)
				if got != want {
					t.Errorf("rule %s and the Go detector differ\nrule:\n%s\ngo:\n%s", rd.Rule().File, got, want)
				}
				if got != "" {
					fired[rd.CaseID()]++
				}
			})
		}
	}
	for _, r := range builtin {
		if fired[r.CaseID] == 0 {
			t.Errorf("rule %s fired on no fixture: the parity proves nothing", r.File)
		}
	}
	t.Logf("fixtures where each rule fired: %v", fired)
}

// describe renders findings of the given causes: objects and sorted evidence.
func describe(fs []casebook.Finding, causes map[string]bool) string {
	var lines []string
	for _, f := range fs {
		if !causes[f.Cause] {
			continue
		}
		var objs []string
		for _, o := range f.Objects {
			objs = append(objs, o.String())
		}
		sort.Strings(objs)
		var ev []string
		for _, e := range f.Evidence {
			ev = append(ev, "    "+e.String())
		}
		sort.Strings(ev)
		lines = append(lines, f.CaseID+" "+f.Cause+" "+strings.Join(objs, ", "))
		lines = append(lines, ev...)
	}
	return strings.Join(lines, "\n")
}
