package rules

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// Fixtures is the folder, beside the cases, that holds each rule's
// fixtures: testdata/<ID>/broken*/ and testdata/<ID>/fixed*/, the layout of
// the built-in detectors.
const Fixtures = "testdata"

// Outcome is what one rule did on one fixture.
type Outcome struct {
	Rule *Rule
	// CaseFile names the case the rule belongs to ("team/foo.md").
	CaseFile string
	// Fixture is the fixture's folder relative to testdata/<ID>
	// ("broken", "fixed-no-controller").
	Fixture string
	// Failure says what went wrong; empty when the rule passed.
	Failure string
}

// Passed reports whether the rule behaved on the fixture.
func (o Outcome) Passed() bool { return o.Failure == "" }

func (o Outcome) String() string {
	if o.Passed() {
		return fmt.Sprintf("ok   %s %s", o.CaseFile, o.Fixture)
	}
	return fmt.Sprintf("%s: %s", o.CaseFile, o.Failure)
}

// Verify runs every rule over its case's fixtures in dir/testdata/<ID>/,
// as `opa test` runs a policy's tests: on broken* it must fire, and produce
// exactly the findings of its case that expect.txt lists when there is one
// (CASE CAUSE KIND NAMESPACE/NAME, one per object); on fixed* it must not
// fire. A rule without fixtures fails: an untested rule proves nothing.
func Verify(ctx context.Context, dir, prefix string, rules []*Rule, caseFile func(id string) string) []Outcome {
	var out []Outcome
	for _, r := range rules {
		file := caseFile(r.CaseID)
		fail := func(fixture, format string, args ...any) {
			out = append(out, Outcome{Rule: r, CaseFile: file, Fixture: fixture, Failure: fmt.Sprintf(format, args...)})
		}
		root := filepath.Join(dir, Fixtures, r.CaseID)
		entries, err := os.ReadDir(root)
		if err != nil {
			fail("", "rule has no fixtures: want %s%s/%s/broken/ and fixed/ (%v)", prefix, Fixtures, r.CaseID, err)
			continue
		}
		var broken, fixed bool
		for _, e := range entries {
			name := e.Name()
			if !e.IsDir() || !(strings.HasPrefix(name, "broken") || strings.HasPrefix(name, "fixed")) {
				continue
			}
			isBroken := strings.HasPrefix(name, "broken")
			broken, fixed = broken || isBroken, fixed || !isBroken
			got, err := runOn(ctx, r, filepath.Join(root, name))
			if err != nil {
				fail(name, "%s: %v", name, err)
				continue
			}
			switch {
			case isBroken && len(got) == 0:
				fail(name, "did not fire on %s/", name)
				continue
			case !isBroken && len(got) > 0:
				fail(name, "rule fired on %s/: %s", name, strings.Join(got, "; "))
				continue
			}
			if want, ok, err := readExpect(filepath.Join(root, name, "expect.txt"), r.CaseID); err != nil {
				fail(name, "%s: %v", name, err)
				continue
			} else if ok && strings.Join(got, "\n") != strings.Join(want, "\n") {
				fail(name, "findings on %s/ differ from expect.txt\n  got:\n    %s\n  want:\n    %s", name,
					strings.Join(got, "\n    "), strings.Join(want, "\n    "))
				continue
			}
			out = append(out, Outcome{Rule: r, CaseFile: file, Fixture: name})
		}
		if !broken {
			fail("", "rule has no broken fixture: want %s%s/%s/broken/", prefix, Fixtures, r.CaseID)
		}
		if !fixed {
			fail("", "rule has no fixed fixture: want %s%s/%s/fixed/", prefix, Fixtures, r.CaseID)
		}
	}
	return out
}

// runOn runs one rule over a fixture through the engine, as diagnose does,
// and returns its findings one per object, sorted. A warning (a kind that
// does not load, a finding of the wrong shape) is an error.
func runOn(ctx context.Context, r *Rule, dir string) ([]string, error) {
	snap, err := snapshot.Load(dir)
	if err != nil {
		return nil, err
	}
	for _, w := range snap.Warnings {
		return nil, fmt.Errorf("fixture does not load cleanly: %s", w)
	}
	res, err := engine.Run(ctx, snap, NewSet([]*Rule{r}).Detectors(), engine.Options{})
	if err != nil {
		return nil, err
	}
	if len(res.Warnings) > 0 {
		var ws []string
		for _, w := range res.Warnings {
			ws = append(ws, w.Message)
		}
		return nil, fmt.Errorf("rule failed: %s", strings.Join(ws, "; "))
	}
	return Lines(res.Findings), nil
}

// Lines renders findings one per object: CASE CAUSE KIND NAMESPACE/NAME,
// sorted, as expect.txt lists them.
func Lines(fs []casebook.Finding) []string {
	var out []string
	for _, f := range fs {
		for _, o := range f.Objects {
			name := o.Name
			if o.Namespace != "" {
				name = o.Namespace + "/" + o.Name
			}
			out = append(out, strings.Join([]string{f.CaseID, f.Cause, o.Kind, name}, " "))
		}
	}
	sort.Strings(out)
	return out
}

// readExpect reads the lines of expect.txt about case id; ok is false
// when the fixture has no expect.txt.
func readExpect(path, id string) (lines []string, ok bool, err error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ln := strings.TrimSpace(sc.Text())
		if ln != "" && !strings.HasPrefix(ln, "#") && strings.HasPrefix(ln, id+" ") {
			lines = append(lines, strings.Join(strings.Fields(ln), " "))
		}
	}
	sort.Strings(lines)
	return lines, true, sc.Err()
}
