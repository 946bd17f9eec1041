package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/casebook-dev/casebook/internal/engine"
)

var update = flag.Bool("update", false, "rewrite the generated chart files")

const (
	chartDir      = "helm/casebook"
	chartRoleFile = "helm/casebook/templates/clusterrole.yaml"
)

// chartClusterRole is the chart's ClusterRole template, made from the
// rules of the ClusterRole in casebook-agent.yaml: that manifest is the one
// list of what the agent may read (TestClusterRoleCoversDetectors checks it
// against the detectors), and the chart follows it. The Secrets rule is
// kept behind .Values.rbac.secrets.
func chartClusterRole(role *rbacv1.ClusterRole) []byte {
	var b bytes.Buffer
	b.WriteString(`{{- /*
Generated from the ClusterRole in deploy/casebook-agent.yaml by
go test ./deploy -run TestChartClusterRoleFollowsManifest -update
Edit that manifest, not this file.
*/ -}}
{{- if .Values.rbac.create }}
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ include "casebook.fullname" . }}
  labels:
    {{- include "casebook.labels" . | nindent 4 }}
rules:
`)
	for _, r := range role.Rules {
		secrets := slices.Equal(r.APIGroups, []string{""}) && slices.Equal(r.Resources, []string{"secrets"})
		if secrets {
			b.WriteString("{{- if .Values.rbac.secrets }}\n")
		}
		if len(r.NonResourceURLs) > 0 {
			fmt.Fprintf(&b, "- nonResourceURLs: %s\n  verbs: %s\n", flow(r.NonResourceURLs), flow(r.Verbs))
		} else {
			fmt.Fprintf(&b, "- apiGroups: %s\n  resources: %s\n  verbs: %s\n", flow(r.APIGroups), flow(r.Resources), flow(r.Verbs))
		}
		if secrets {
			b.WriteString("{{- end }}\n")
		}
	}
	b.WriteString("{{- end }}\n")
	return b.Bytes()
}

// flow writes a list of strings as a YAML flow sequence of JSON strings.
func flow(s []string) string {
	raw, _ := json.Marshal(s)
	return strings.ReplaceAll(string(raw), `","`, `", "`)
}

func TestChartClusterRoleFollowsManifest(t *testing.T) {
	want := chartClusterRole(load(t).role)
	if *update {
		if err := os.WriteFile(chartRoleFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(chartRoleFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what casebook-agent.yaml's ClusterRole makes: run go test ./deploy -run TestChartClusterRoleFollowsManifest -update", chartRoleFile)
	}
}

// helm returns the helm command to test the chart with: $CASEBOOK_HELM
// (scripts/test builds it from the Go module proxy), or helm on PATH. The
// test is skipped without one, and fails with CASEBOOK_REQUIRE_HELM=1.
func helm(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CASEBOOK_HELM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if os.Getenv("CASEBOOK_REQUIRE_HELM") == "1" {
		t.Fatal("CASEBOOK_REQUIRE_HELM=1 but there is no helm: set CASEBOOK_HELM (scripts/test builds it)")
	}
	t.Skip("no helm (set CASEBOOK_HELM or put helm on PATH)")
	return ""
}

func runHelm(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	// Keep helm away from the user's config, cache and repositories.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// allOn turns every optional object of the chart on.
var allOn = []string{
	"--set", "serviceMonitor.enabled=true",
	"--set", "prometheusRule.enabled=true",
	"--set", "grafanaDashboard.enabled=true",
	"--set", "ignore[0].case=K-004",
	"--set", "ignore[0].namespace=lab-*",
}

func TestChartLint(t *testing.T) {
	bin := helm(t)
	out := runHelm(t, bin, "lint", "--strict", chartDir)
	if !bytes.Contains(out, []byte("1 chart(s) linted, 0 chart(s) failed")) {
		t.Errorf("helm lint:\n%s", out)
	}
	runHelm(t, bin, append([]string{"lint", "--strict", chartDir}, allOn...)...)
}

// TestChartRenders renders the chart as helm install would and checks the
// objects as the plain manifest's tests do.
func TestChartRenders(t *testing.T) {
	bin := helm(t)
	plain := load(t)
	tests := []struct {
		name        string
		args        []string
		secrets     bool
		monitoring  bool
		annotations bool
	}{
		{"defaults", nil, true, false, true},
		{"everything on", allOn, true, true, true},
		{"no secrets, no annotations", []string{"--set", "rbac.secrets=false", "--set", "service.annotations=false"}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runHelm(t, bin, append([]string{"template", "edge", chartDir, "--namespace", "casebook"}, tt.args...)...)
			m := parse(t, out)
			if m.account == nil || m.role == nil || m.binding == nil || m.deployment == nil || m.service == nil {
				t.Fatalf("the chart lacks a kind: %+v", m)
			}
			if m.namespace != nil {
				t.Error("the chart makes a Namespace: helm install --create-namespace does that")
			}
			checkLockedDown(t, m, "casebook")
			want := plain.role.Rules
			if !tt.secrets {
				want = slices.DeleteFunc(slices.Clone(want), func(r rbacv1.PolicyRule) bool { return slices.Contains(r.Resources, "secrets") })
			}
			if !reflect.DeepEqual(m.role.Rules, want) {
				t.Errorf("ClusterRole rules differ from casebook-agent.yaml's:\n got %v\nwant %v", m.role.Rules, want)
			}
			b := m.binding
			if b.RoleRef.Name != m.role.Name || len(b.Subjects) != 1 || b.Subjects[0].Name != m.account.Name || b.Subjects[0].Namespace != "casebook" {
				t.Errorf("binding %+v does not bind the role %s to the account %s", b, m.role.Name, m.account.Name)
			}
			c := m.deployment.Spec.Template.Spec.Containers[0]
			if !reflect.DeepEqual(c.Resources, plain.deployment.Spec.Template.Spec.Containers[0].Resources) {
				t.Errorf("resources %v, want the manifest's", c.Resources)
			}
			if got := len(m.service.Annotations) > 0; got != tt.annotations {
				t.Errorf("service annotations %v, want them %v", m.service.Annotations, tt.annotations)
			}
			if got := len(m.other["ServiceMonitor"]) == 1 && len(m.other["PrometheusRule"]) == 1; got != tt.monitoring {
				t.Errorf("ServiceMonitor and PrometheusRule rendered: %v, want %v", got, tt.monitoring)
			}
			if tt.monitoring {
				checkMonitoring(t, m)
			}
		})
	}
}

// checkMonitoring checks the optional objects: the PrometheusRule carries
// the rules file promtool tests, the dashboard ConfigMap the dashboard,
// the ServiceMonitor scrapes the Service's port, the ignore list is mounted.
func checkMonitoring(t *testing.T, m *manifest) {
	t.Helper()
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(rules, &want); err != nil {
		t.Fatal(err)
	}
	if got := m.other["PrometheusRule"][0]["spec"]; !reflect.DeepEqual(got, want) {
		t.Errorf("PrometheusRule spec is not %s:\n%v", rulesFile, got)
	}
	sm := m.other["ServiceMonitor"][0]
	spec, _ := sm["spec"].(map[string]any)
	eps, _ := spec["endpoints"].([]any)
	if len(eps) != 1 || eps[0].(map[string]any)["port"] != m.service.Spec.Ports[0].Name {
		t.Errorf("ServiceMonitor endpoints %v, want the Service's port %q", eps, m.service.Spec.Ports[0].Name)
	}
	sel, _ := spec["selector"].(map[string]any)["matchLabels"].(map[string]any)
	for k, v := range sel {
		if m.service.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%v, which the Service does not carry", k, v)
		}
	}
	var dash, ignore bool
	for _, cm := range m.other["ConfigMap"] {
		data, _ := cm["data"].(map[string]any)
		if s, ok := data["casebook-dashboard.json"].(string); ok {
			dash = json.Valid([]byte(s))
		}
		if s, ok := data["ignore.yaml"].(string); ok {
			// The agent must be able to read it, as diagnose --config does.
			p := filepath.Join(t.TempDir(), "ignore.yaml")
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			ex, err := engine.LoadExclusions(p)
			if err != nil {
				t.Errorf("the ignore list does not load: %v\n%s", err, s)
			}
			ignore = ex != nil && len(ex.Ignore) == 1 && ex.Ignore[0].Case == "K-004"
		}
	}
	if !dash || !ignore {
		t.Errorf("ConfigMaps: dashboard %v, ignore list %v", dash, ignore)
	}
	if args := m.deployment.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--config=/etc/casebook/ignore.yaml") {
		t.Errorf("args %v do not read the ignore list", args)
	}
}
