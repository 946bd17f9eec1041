package detectors_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/rules"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the fixtures' findings.golden files")

// goldenFindings compares a fixture's findings, exactly (cause, objects,
// evidence, messages, next steps, links), with its findings.golden file.
func goldenFindings(t *testing.T, file string, fs []casebook.Finding) {
	t.Helper()
	got, err := json.MarshalIndent(fs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test ./internal/detectors -update writes it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("findings differ from %s (go test ./internal/detectors -update to accept):\n%s", file, got)
	}
}

// signalFixtures is the testdata directory of the signal detectors
// (SignalMatch), which find several cases.
const signalFixtures = "SIGNALS"

// logFixtures and metricFixtures are the testdata directories of the log
// detectors (LogMatch) and the metric detectors (MetricDetectors).
const (
	logFixtures    = "LOGS"
	metricFixtures = "METRICS"
)

// fixture is one snapshot under testdata/<ID>/<variant>/.
type fixture struct {
	caseID, variant, dir string
}

// eachSnapshot calls fn with every snapshot of snapshotDirs, the library
// and the CLI's detector set.
func eachSnapshot(t *testing.T, fn func(dir string, snap *snapshot.Snapshot, lib *caseload.Library, all []engine.Detector)) {
	t.Helper()
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	all := detectors.Set(lib.Cases)
	for _, dir := range snapshotDirs(t) {
		snap, err := snapshot.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		fn(dir, snap, lib, all)
	}
}

// snapshotDirs are every snapshot the detectors are tried on: the example
// cluster, the root-cause scenario and every fixture.
func snapshotDirs(t *testing.T) []string {
	dirs := []string{"../../examples/edge-cluster", "../engine/testdata/root-cause"}
	for _, fx := range fixtures(t) {
		dirs = append(dirs, fx.dir)
	}
	return dirs
}

func (f fixture) broken() bool { return strings.HasPrefix(f.variant, "broken") }

func fixtures(t *testing.T) []fixture {
	t.Helper()
	dirs, err := filepath.Glob("testdata/*/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() || filepath.Base(filepath.Dir(d)) == "base" {
			continue // testdata/base is the cluster the fixtures share
		}
		out = append(out, fixture{caseID: filepath.Base(filepath.Dir(d)), variant: filepath.Base(d), dir: d})
	}
	return out
}

func readExpect(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "expect.txt"))
	if err != nil {
		t.Fatalf("every fixture declares its findings in expect.txt: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ln := strings.TrimSpace(sc.Text())
		if ln != "" && !strings.HasPrefix(ln, "#") {
			out = append(out, ln)
		}
	}
	sort.Strings(out)
	return out
}

// TestEveryDetectorOverEveryFixture runs every detector over every fixture.
// A broken fixture must produce exactly the findings it declares in
// expect.txt, and exactly the findings pinned in findings.golden, among them
// its own case on the right objects (and no finding on its healthy
// look-alikes); a fixed fixture, the same cluster after the case's
// solution, must produce none from any detector.
//
// The signal detectors (SignalMatch over the library) run too; their own
// fixtures are testdata/SIGNALS/.
func TestEveryDetectorOverEveryFixture(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	all := detectors.Set(lib.Cases)
	for _, fx := range fixtures(t) {
		t.Run(fx.caseID+"/"+fx.variant, func(t *testing.T) {
			snap, err := snapshot.Load(fx.dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range snap.Warnings {
				t.Errorf("fixture does not load cleanly: %s", w)
			}
			res, err := engine.Run(context.Background(), snap, all, engine.Options{Case: lib.Get})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range res.Warnings {
				t.Errorf("warning: %s", w)
			}
			if fx.broken() {
				goldenFindings(t, filepath.Join(fx.dir, "findings.golden"), res.Findings)
			}
			got := rules.Lines(res.Findings)
			want := readExpect(t, fx.dir)
			if !fx.broken() && len(want) > 0 {
				t.Fatalf("a fixed fixture expects no findings, but expect.txt lists %v", want)
			}
			if fx.broken() {
				own := false
				for _, w := range want {
					own = own || strings.HasPrefix(w, fx.caseID+" ") ||
						fx.caseID == signalFixtures && strings.Fields(w)[1] == "signal" ||
						fx.caseID == logFixtures && strings.Fields(w)[1] == "log" ||
						fx.caseID == metricFixtures
				}
				if !own {
					t.Fatalf("broken fixture of %s expects no %s finding", fx.caseID, fx.caseID)
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("findings differ from expect.txt\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				for _, f := range res.Findings {
					t.Logf("%s %s: %s", f.CaseID, f.Cause, f.Message)
					for _, e := range f.Evidence {
						t.Logf("    %s", e)
					}
				}
			}
			for _, f := range res.Findings {
				if f.Message == "" || len(f.Evidence) == 0 {
					t.Errorf("%s %s: a finding needs a message and evidence", f.CaseID, f.Cause)
				}
				if !strings.ContainsFunc(f.MessageZH, func(r rune) bool { return unicode.Is(unicode.Han, r) }) {
					t.Errorf("%s %s: no Chinese message (message_zh %q)", f.CaseID, f.Cause, f.MessageZH)
				}
			}
		})
	}
}

// TestEveryDetectorHasFixturesAndACase ties detectors, fixtures and the
// case library together by ID.
func TestEveryDetectorHasFixturesAndACase(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]map[string]bool{}
	for _, fx := range fixtures(t) {
		if have[fx.caseID] == nil {
			have[fx.caseID] = map[string]bool{}
		}
		have[fx.caseID][fx.variant] = true
	}
	seen := map[string]bool{}
	for _, d := range detectors.All() {
		id := d.CaseID()
		if seen[id] {
			t.Errorf("two detectors for %s", id)
		}
		seen[id] = true
		if !have[id]["broken"] || !have[id]["fixed"] {
			t.Errorf("%s: needs testdata/%s/broken and testdata/%s/fixed", id, id, id)
		}
		if _, ok := lib.Get(id); !ok {
			t.Errorf("%s: no such case in the library", id)
		}
	}
	for id := range have {
		if !seen[id] && id != signalFixtures && id != logFixtures && id != metricFixtures {
			t.Errorf("testdata/%s has no detector", id)
		}
	}
}

// TestDetectorsReadOnlyWhatTheyDeclare runs each detector alone over every
// fixture and the example and checks that it read no kind it does not
// declare: the run's preload, collect and the agent's RBAC follow from the
// declarations, so an undeclared read would be a kind missing from all
// three.
func TestDetectorsReadOnlyWhatTheyDeclare(t *testing.T) {
	eachSnapshot(t, func(dir string, snap *snapshot.Snapshot, lib *caseload.Library, all []engine.Detector) {
		for _, d := range all {
			st := cluster.New(context.Background(), snap)
			_, _ = d.Detect(context.Background(), st)
			declared := map[casebook.Kind]bool{}
			for _, k := range d.Kinds() {
				declared[k] = true
			}
			for _, k := range st.Listed() {
				if declared[k] {
					continue
				}
				if _, group, ok := strings.Cut(string(k), "."); ok && declared[casebook.Kind("*."+group)] {
					continue
				}
				t.Errorf("%s over %s reads %s, which its Kinds() does not declare", d.CaseID(), dir, k)
			}
		}
	})
}

// TestNextStepsNameOnlyTheFixturesObjects: for every fixture, every next
// step is a command for objects that exist in that fixture (no example
// name from the case text, no placeholder left), tied to a step of its
// case, and a step that runs on a node says which node.
func TestNextStepsNameOnlyTheFixturesObjects(t *testing.T) {
	eachSnapshot(t, func(dir string, snap *snapshot.Snapshot, lib *caseload.Library, all []engine.Detector) {
		exists := func(o casebook.ObjectRef) bool {
			if o.Kind == string(casebook.KindNamespace) {
				// Fixtures hold a namespace's objects, not always the Namespace.
				pods, _ := snap.List(context.Background(), casebook.KindPod, o.Name)
				return len(pods) > 0
			}
			var objs []runtime.Object
			for _, kind := range []string{o.Kind, o.Kind + ".templates.gatekeeper.sh", o.Kind + ".constraints.gatekeeper.sh"} {
				var err error
				if objs, err = snap.List(context.Background(), casebook.Kind(kind), o.Namespace); err == nil && len(objs) > 0 {
					break
				}
			}
			for _, obj := range objs {
				if m, err := meta.Accessor(obj); err == nil && m.GetName() == o.Name && m.GetNamespace() == o.Namespace {
					return true
				}
			}
			return false
		}
		res, err := engine.Run(context.Background(), snap, all, engine.Options{Case: lib.Get})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			named := false
			for _, s := range f.Next {
				named = named || len(s.Objects) > 0
				if strings.Contains(s.Command, "%") && !strings.Contains(s.Command, "jsonpath") || strings.Contains(s.Command, "<") {
					t.Errorf("%s: %s %s: placeholder left in %q", dir, f.CaseID, f.Cause, s.Command)
				}
				if s.Ref != f.CaseID+"#排查过程" || s.StepNo < 1 || s.Title == "" {
					t.Errorf("%s: %s %s: step %q points at %s step %d (%q)", dir, f.CaseID, f.Cause, s.Command, s.Ref, s.StepNo, s.Title)
				}
				for _, o := range s.Objects {
					if !exists(o) {
						t.Errorf("%s: %s %s: %q names %s, which the fixture does not have", dir, f.CaseID, f.Cause, s.Command, o)
					}
					if !strings.Contains(s.Command, o.Name) && (o.Kind != string(casebook.KindNode) || s.Node == "") {
						t.Errorf("%s: %s %s: %q does not name its object %s", dir, f.CaseID, f.Cause, s.Command, o)
					}
				}
				if s.Node != "" && !exists(casebook.ObjectRef{Kind: "Node", Name: s.Node}) {
					t.Errorf("%s: %s %s: %q runs on node %s, which the fixture does not have", dir, f.CaseID, f.Cause, s.Command, s.Node)
				}
			}
			if !named {
				t.Errorf("%s: %s %s: no next step names the finding's objects: %+v", dir, f.CaseID, f.Cause, f.Next)
			}
		}
	})
}
