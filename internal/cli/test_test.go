package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const teamCases = "../../examples/team-cases"

// copyTree copies dir into a temp dir the test may change.
func copyTree(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestTestCommandPassesOnTheTeamLibrary(t *testing.T) {
	code, out, errOut := run(t, "test", "-v", teamCases)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"ok   ../../examples/team-cases/k3s-kubeconfig-world-readable.md broken",
		"ok   ../../examples/team-cases/k3s-image-outside-site-registry.md fixed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "2 rules: 4 fixtures passed, 0 failures") {
		t.Errorf("summary: %s", errOut)
	}
}

// TestTestCommandFailsOnABrokenRule breaks the team's rules on purpose and
// expects casebook test to say where.
func TestTestCommandFailsOnABrokenRule(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new string
		want                 []string
	}{
		{"typo", "k3s-kubeconfig-world-readable.rego", `args[0] == "server"`, `args[0] == "sever"`,
			[]string{"k3s-kubeconfig-world-readable.md: did not fire on broken/"}},
		{"inverted check", "k3s-kubeconfig-world-readable.rego", `last in {"4", "5", "6", "7"}`, `last in {"0"}`,
			[]string{"k3s-kubeconfig-world-readable.md: findings on broken/ differ from expect.txt",
				"k3s-kubeconfig-world-readable.md: rule fired on fixed/: K-901 kubeconfig-world-readable Node server-1"}},
		{"check dropped", "k3s-image-outside-site-registry.rego", "\tnot terminal(pod)\n", "",
			[]string{"k3s-image-outside-site-registry.md: findings on broken/ differ from expect.txt", "K-902 image-outside-site-registry Pod factory/backup-28842-xyz12"}},
		{"does not compile", "k3s-image-outside-site-registry.rego", "count(outside) > 0", "count(outsid) > 0",
			[]string{"k3s-image-outside-site-registry.rego:12: rego_unsafe_var_error: var outsid is unsafe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyTree(t, teamCases)
			p := filepath.Join(dir, tc.file)
			src, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), tc.old) {
				t.Fatalf("%s no longer holds %q", tc.file, tc.old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(src), tc.old, tc.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := run(t, "test", dir)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}
}

func TestLintCompilesRules(t *testing.T) {
	dir := copyTree(t, teamCases)
	p := filepath.Join(dir, "k3s-kubeconfig-world-readable.rego")
	src, _ := os.ReadFile(p)
	bad := strings.Replace(string(src), "\targs[0] == \"server\"\n", "\targs[0] == \"server\"\n\thttp.send({\"method\": \"get\", \"url\": \"https://example.com\"})\n", 1)
	if err := os.WriteFile(p, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "orphan.rego"), []byte("package x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := run(t, "lint", dir)
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	for _, w := range []string{"k3s-kubeconfig-world-readable.rego:10: rego_type_error: undefined function http.send",
		"orphan.rego:1: warning: rule has no case beside it"} {
		if !strings.Contains(out, w) {
			t.Errorf("lint output lacks %q:\n%s", w, out)
		}
	}
}

// TestDiagnoseReportsTeamCasesBesideBuiltIn is the check: a team
// library's rules report next to the built-in detectors, with the built-in
// cases' severities still known.
func TestDiagnoseReportsTeamCasesBesideBuiltIn(t *testing.T) {
	code, out, errOut := run(t, "--cases", teamCases, "diagnose", "--snapshot", "../../examples/edge-cluster", "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep struct {
		Findings []struct {
			Case, Severity, Cause string
			Next                  []struct{ Command string }
		}
		Warnings []struct{ Source, Message string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Case+" "+f.Cause] = f.Severity
	}
	for k, sev := range map[string]string{
		"K-901 kubeconfig-world-readable":   "major",
		"K-902 image-outside-site-registry": "minor",
		"S-001 storage-class-missing":       "critical",
		"N-003 backend-port-missing":        "major",
	} {
		if got[k] != sev {
			t.Errorf("%s: severity %q, want %q (findings %v)", k, got[k], sev, got)
		}
	}
	for _, w := range rep.Warnings {
		t.Errorf("warning %s: %s", w.Source, w.Message)
	}
}

// TestNewWithRuleScaffoldsATestableRule: new --with-rule in a team library
// writes the case with a team ID, its rule and fixture folders; the rule
// compiles, and casebook test fails until the case's check is written.
func TestNewWithRuleScaffoldsATestableRule(t *testing.T) {
	dir := copyTree(t, teamCases)
	code, out, errOut := run(t, "--cases", dir, "new", "--with-rule", "--component", "network", "--title", "站点 DNS 上游不可达", "--title-en", "Site DNS upstream unreachable")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range []string{"site-dns-upstream-unreachable.md", "site-dns-upstream-unreachable.rego", "testdata/N-901/broken/expect.txt", "testdata/N-901/fixed/expect.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("not scaffolded: %v", err)
		}
	}
	if !strings.Contains(errOut, "as N-901") {
		t.Errorf("a team case gets an ID from 901 up: %s", errOut)
	}
	code, out, _ = run(t, "test", dir)
	if code != ExitError || !strings.Contains(out, "site-dns-upstream-unreachable.md: did not fire on broken/") {
		t.Errorf("exit %d; a scaffolded rule must fail its test until written:\n%s", code, out)
	}
	if strings.Contains(out, ".rego:") {
		t.Errorf("the scaffolded rule does not compile:\n%s", out)
	}
}

// TestServeRunsTeamRules: serve (and so the API) runs a team library's
// rules beside the built-in detectors.
func TestServeRunsTeamRules(t *testing.T) {
	base, cancel, _, errOut := startServe(t, func(o *ServeOptions) {
		f := &Factory{IO: o.IO, Version: "test", CasesDir: teamCases}
		o.Library, o.CasesFS, o.Rules = f.Library, f.CasesFS, f.RuleDetectors
		o.Snapshot = "../../examples/edge-cluster"
	})
	defer cancel()
	res, err := http.Get(base + "api/v1/diagnose")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`"case": "K-901"`, `"case": "K-902"`, `"case": "S-001"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the API's report lacks %s (stderr %s)", want, errOut)
		}
	}
}
