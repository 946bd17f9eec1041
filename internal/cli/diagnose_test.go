package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/detectors"
)

func runDiagnoseCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := TestStreams()
	f := &Factory{IO: io, DetectedCases: detectors.IDs}
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

const (
	exampleCluster = "../../examples/edge-cluster"
	n003Broken     = "../detectors/testdata/N-003/broken"
	k002Fixed      = "../detectors/testdata/K-002/fixed"
	// rootCauseFixture is the scenario: a StatefulSet whose claim
	// cannot be provisioned, its Service, and an Ingress in front.
	rootCauseFixture = "../engine/testdata/root-cause"
)

func TestDiagnoseFlags(t *testing.T) {
	io, _, _, _ := TestStreams()
	var got *DiagnoseOptions
	cmd := NewCmdDiagnose(&Factory{IO: io}, func(o *DiagnoseOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--snapshot", "b.tar.gz", "-n", "shop", "-o", "markdown", "--fail-on", "major", "--config", "c.yaml", "--detector-timeout", "5s"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Snapshot != "b.tar.gz" || *got.Cluster.Flags.Namespace != "shop" || got.Output != "markdown" || got.FailOn != "major" ||
		got.Config != "c.yaml" || got.Timeout.String() != "5s" {
		t.Errorf("options = %+v", got)
	}
}

// TestDiagnoseExample runs the README's command: the example cluster shows
// every detected case.
func TestDiagnoseExample(t *testing.T) {
	code, out, errOut := runDiagnoseCLI(t, "diagnose", "--snapshot", exampleCluster)
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitFindings, out, errOut)
	}
	for _, id := range detectors.IDs() {
		if !strings.Contains(out, "casebook show "+id) {
			t.Errorf("the example does not show %s:\n%s", id, out)
		}
	}
	if strings.Contains(out, "Warnings") {
		t.Errorf("the example loads with warnings:\n%s", out)
	}
}

func TestDiagnoseExitCodes(t *testing.T) {
	dir := t.TempDir()
	ignoreN003 := filepath.Join(dir, "ignore.yaml")
	os.WriteFile(ignoreN003, []byte("ignore:\n  - case: N-003\n    namespace: shop\n"), 0o644)
	badConfig := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badConfig, []byte("ignore:\n  - kase: N-003\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"findings", []string{"--snapshot", n003Broken}, ExitFindings, "casebook show N-003"},
		{"nothing found", []string{"--snapshot", k002Fixed}, ExitOK, "No known case found"},
		// Traefik runs in kube-system: limiting to shop must not hide it.
		{"controller outside -n", []string{"--snapshot", "../detectors/testdata/N-003/fixed", "-n", "shop"}, ExitOK, "No known case found"},
		{"below --fail-on", []string{"--snapshot", n003Broken, "--fail-on", "critical"}, ExitOK, "N-003"},
		{"--fail-on none", []string{"--snapshot", exampleCluster, "--fail-on", "none"}, ExitOK, "K-002"},
		{"excluded", []string{"--snapshot", n003Broken, "--config", ignoreN003}, ExitOK, "6 object(s) excluded by config"},
		{"bad config", []string{"--snapshot", n003Broken, "--config", badConfig}, ExitUsage, ""},
		{"missing config", []string{"--snapshot", n003Broken, "--config", filepath.Join(dir, "nope.yaml")}, ExitUsage, ""},
		{"missing snapshot", []string{"--snapshot", filepath.Join(dir, "nope")}, ExitUsage, ""},
		{"bad output", []string{"--snapshot", n003Broken, "-o", "xml"}, ExitUsage, ""},
		{"bad --fail-on", []string{"--snapshot", n003Broken, "--fail-on", "urgent"}, ExitUsage, ""},
		{"snapshot and context", []string{"--snapshot", n003Broken, "--context", "edge-1"}, ExitUsage, ""},
		{"arguments", []string{"extra"}, ExitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runDiagnoseCLI(t, append([]string{"diagnose"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output does not contain %q:\n%s", tc.out, out)
			}
		})
	}
}

func TestDiagnoseJSONAndNamespace(t *testing.T) {
	code, out, _ := runDiagnoseCLI(t, "diagnose", "--snapshot", exampleCluster, "-n", "shop", "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d", code)
	}
	var d casebook.Report
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !strings.Contains(d.Source, "namespace shop") || len(d.Findings) == 0 {
		t.Errorf("source %q, %d findings", d.Source, len(d.Findings))
	}
	for _, f := range d.Findings {
		if f.Severity == "" || len(f.Next) == 0 || len(f.Evidence) == 0 {
			t.Errorf("incomplete finding: %+v", f)
		}
		for _, o := range f.Objects {
			if o.Namespace != "shop" && o.Namespace != "" {
				t.Errorf("-n shop reported %s", o)
			}
		}
	}
}

func TestCollectNeedsOutput(t *testing.T) {
	if code, _, errOut := runDiagnoseCLI(t, "collect"); code != ExitUsage || !strings.Contains(errOut, "-o") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runDiagnoseCLI(t, "collect", "-o", "bundle.zip"); code != ExitUsage {
		t.Errorf("exit %d for a .zip bundle", code)
	}
}

// TestListMarksDetectedCases: the cases with a detector are marked.
func TestListMarksDetectedCases(t *testing.T) {
	code, out, _ := runDiagnoseCLI(t, "list", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var cases []struct {
		ID       string `json:"id"`
		Detected bool   `json:"detected"`
	}
	if err := json.Unmarshal([]byte(out), &cases); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, id := range detectors.IDs() {
		want[id] = true
	}
	for _, c := range cases {
		if c.Detected != want[c.ID] {
			t.Errorf("%s detected = %v, want %v", c.ID, c.Detected, want[c.ID])
		}
	}
}

// TestDiagnoseJSONEqualsAPI: `diagnose -o json` and GET /api/v1/diagnose of
// `serve` give the same report for the same snapshot, but for the time
// each ran.
func TestDiagnoseJSONEqualsAPI(t *testing.T) {
	for _, snap := range []string{exampleCluster, rootCauseFixture} {
		t.Run(filepath.Base(snap), func(t *testing.T) {
			_, out, errOut := runDiagnoseCLI(t, "diagnose", "--snapshot", snap, "-o", "json")
			var cli map[string]any
			if err := json.Unmarshal([]byte(out), &cli); err != nil {
				t.Fatalf("%v\n%s%s", err, out, errOut)
			}
			api := serveAPIDiagnose(t, snap)
			delete(cli, "time")
			delete(api, "time")
			a, _ := json.MarshalIndent(cli, "", "  ")
			b, _ := json.MarshalIndent(api, "", "  ")
			if string(a) != string(b) {
				t.Errorf("diagnose -o json and /api/v1/diagnose differ\n-o json:\n%s\nAPI:\n%s", a, b)
			}
		})
	}
}

// serveAPIDiagnose runs `casebook serve --snapshot snap` and returns its
// GET /api/v1/diagnose.
func serveAPIDiagnose(t *testing.T, snap string) map[string]any {
	t.Helper()
	base, cancel, done, _ := startServe(t, func(o *ServeOptions) { o.Snapshot = snap })
	defer func() { cancel(); <-done }()
	res, err := http.Get(base + "api/v1/diagnose")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /api/v1/diagnose: %d %v", res.StatusCode, err)
	}
	return out
}

// TestDiagnoseLang: findings speak the language of --lang, else of the
// locale; JSON carries both.
func TestDiagnoseLang(t *testing.T) {
	const en, zh = "the Service's selector matches no pod", "Service 的选择器选不中任何 Pod"
	n002 := "../detectors/testdata/N-002/broken"
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"flag zh", []string{"--lang", "zh"}, "en_US.UTF-8", zh},
		{"flag en", []string{"--lang", "en"}, "zh_CN.UTF-8", en},
		{"locale zh", nil, "zh_CN.UTF-8", zh},
		{"locale en", nil, "en_GB.UTF-8", en},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LC_ALL", tc.env)
			_, out, errOut := runDiagnoseCLI(t, append([]string{"diagnose", "--snapshot", n002}, tc.args...)...)
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s%s", tc.want, out, errOut)
			}
		})
	}
	_, out, _ := runDiagnoseCLI(t, "diagnose", "--snapshot", n002, "-o", "json")
	if !strings.Contains(out, `"message": "`+en) || !strings.Contains(out, `"message_zh": "`+zh) {
		t.Errorf("JSON does not carry both languages:\n%s", out)
	}
	if code, _, errOut := runDiagnoseCLI(t, "diagnose", "--snapshot", n002, "--lang", "fr"); code != ExitUsage {
		t.Errorf("--lang fr: exit %d, want %d (%s)", code, ExitUsage, errOut)
	}
}
