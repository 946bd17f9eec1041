package cli

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// TestRedactedBundleDiagnosesAsTheOriginal collects every detector fixture
// through collect's redaction and diagnoses the bundle: it must find the
// same cases, causes and objects as the fixture itself. A detector that
// reads a value collect hashes fails here until the value is declared in
// internal/redact/keep.go.
func TestRedactedBundleDiagnosesAsTheOriginal(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	all := detectors.Set(lib.Cases)
	dirs, err := filepath.Glob("../detectors/testdata/*/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	evidenceChanged := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		name := strings.TrimPrefix(dir, "../detectors/testdata/")
		t.Run(name, func(t *testing.T) {
			orig, err := snapshot.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			bundle, files := collectCorpus(t, orig)
			if len(files["redaction-report.json"]) == 0 {
				t.Error("no redaction-report.json")
			}
			redacted, err := snapshot.Load(bundle)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range redacted.Warnings {
				t.Errorf("bundle warning: %s", w)
			}
			want, err := engine.Run(context.Background(), orig, all, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := engine.Run(context.Background(), redacted, all, engine.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if g, w := findingKeys(got.Findings), findingKeys(want.Findings); g != w {
				t.Errorf("the redacted bundle diagnoses differently\n--- bundle\n%s\n--- fixture\n%s", g, w)
			}
			if g, w := findingEvidence(got.Findings), findingEvidence(want.Findings); g != w {
				evidenceChanged++
				gl, wl := strings.Split(g, "\n"), strings.Split(w, "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Logf("evidence now reads %q (was %q)", gl[i], wl[i])
						break
					}
				}
			}
		})
	}
	t.Logf("%d fixtures; %d with evidence text changed by hashing (the findings are the same)", len(dirs), evidenceChanged)
}

func findingKeys(fs []casebook.Finding) string {
	var out []string
	for _, f := range fs {
		for _, o := range f.Objects {
			out = append(out, strings.Join([]string{f.CaseID, f.Cause, string(f.Severity), o.Kind, o.Namespace, o.Name}, " "))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func findingEvidence(fs []casebook.Finding) string {
	var out []string
	for _, f := range fs {
		lines := []string{f.Message}
		for _, e := range f.Evidence {
			lines = append(lines, e.String())
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
