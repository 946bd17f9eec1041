package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/agent"
)

const (
	rulesFile     = "helm/casebook/files/casebook.rules.yaml"
	rulesTestFile = "prometheus/casebook.rules.test.yaml"
	dashboardFile = "helm/casebook/files/casebook-dashboard.json"
)

// exported lists the series names the agent exports, read from its own
// registry: a histogram's _bucket, _sum and _count, every other family by
// its name.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	a := agent.New(agent.Options{Cases: []agent.Case{{ID: "K-006", Severity: casebook.SeverityCritical}}})
	fams, err := a.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[f.GetName()+s] = true
			}
			continue
		}
		names[f.GetName()] = true
	}
	if len(names) < 5 {
		t.Fatalf("the agent exports only %v", names)
	}
	return names
}

// metricRef finds the names in a PromQL expression that can be metric
// names: identifiers not followed by "(" (functions), not inside a label
// matcher or a by/without list, and not keywords. Label values and
// strings are removed first.
var (
	promStrings = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promLabels  = regexp.MustCompile(`\{[^}]*\}|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|\[[^\]]*\]`)
	promIdent   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promWords   = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

func metricRefs(expr string) []string {
	expr = promStrings.ReplaceAllString(expr, `""`)
	expr = promLabels.ReplaceAllString(expr, " ")
	expr = strings.ReplaceAll(expr, "$__rate_interval", "")
	var out []string
	for _, m := range promIdent.FindAllStringSubmatch(expr, -1) {
		if m[1] != "" || slices.Contains(promWords, strings.ToLower(m[0])) {
			continue
		}
		// "1e3" and durations start with a digit and never match; "le"
		// only appears inside by(...), removed above.
		out = append(out, m[0])
	}
	return out
}

func TestMetricRefs(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`sum by (case) (casebook_findings{severity="critical"}) > 0`, "casebook_findings"},
		{`time() - casebook_last_diagnose_timestamp_seconds > 1800`, "casebook_last_diagnose_timestamp_seconds"},
		{`histogram_quantile(0.95, sum by (le) (rate(casebook_diagnose_duration_seconds_bucket[$__rate_interval])))`, "casebook_diagnose_duration_seconds_bucket"},
		{`a_total / on(job) b_total unless c{x="d_total"}`, "a_total b_total c"},
	}
	for _, tt := range tests {
		if got := strings.Join(metricRefs(tt.expr), " "); got != tt.want {
			t.Errorf("metricRefs(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// checkExprs fails for an expression that names no metric or one the agent
// does not export: an alert or a panel on it would never show anything.
func checkExprs(t *testing.T, where string, exprs []string) {
	t.Helper()
	names := exported(t)
	if len(exprs) == 0 {
		t.Fatalf("%s: no expressions", where)
	}
	for _, e := range exprs {
		refs := metricRefs(e)
		if len(refs) == 0 {
			t.Errorf("%s: %q names no metric", where, e)
		}
		for _, r := range refs {
			if !names[r] {
				t.Errorf("%s: %q names %s, which the agent does not export", where, e, r)
			}
		}
	}
}

func TestRulesNameExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert, Expr string
				Labels      map[string]string
			}
		}
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var exprs, alerts []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
			alerts = append(alerts, r.Alert)
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
			}
		}
	}
	for _, want := range []string{"CasebookCriticalFinding", "CasebookDiagnoseFailing", "CasebookDiagnoseStale"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s in %s", want, rulesFile)
		}
	}
	checkExprs(t, rulesFile, exprs)
}

func TestDashboardNamesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: title %q, uid %q, %d panels", dashboardFile, d.Title, d.UID, len(d.Panels))
	}
	var exprs []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	checkExprs(t, dashboardFile, exprs)
}

// promtool returns Debian's promtool (package prometheus, which
// scripts/test installs), skipping without it unless
// CASEBOOK_REQUIRE_PROMTOOL=1.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CASEBOOK_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("CASEBOOK_REQUIRE_PROMTOOL=1 but promtool is not on PATH (apt-get install prometheus)")
		}
		t.Skip("no promtool on PATH (Debian: apt-get install prometheus)")
	}
	return p
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", rulesFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "test", "rules", rulesTestFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}
