package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// warnings collects the warnings the API server sends in response headers.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

// TestHelmChartServerSideDryRun renders deploy/helm/casebook with every
// option on and applies each object to the real API server with
// server-side apply and dryRun=All: the API server validates the objects
// (schemas, RBAC rules, the Deployment's pod template) and, in a namespace
// that warns on the restricted Pod Security Standard, tells whether the
// pod would be admitted there, without storing anything. A chart made to
// allow privilege escalation must draw that warning.
func TestHelmChartServerSideDryRun(t *testing.T) {
	c := connect(t)
	bin := os.Getenv("CASEBOOK_HELM")
	if bin == "" {
		if os.Getenv("CASEBOOK_REQUIRE_HELM") == "1" {
			t.Fatal("CASEBOOK_REQUIRE_HELM=1 but CASEBOOK_HELM is unset")
		}
		t.Skip("CASEBOOK_HELM unset (scripts/test builds helm)")
	}
	// A namespace of its own, left behind: with no controller-manager a
	// deleted namespace stays Terminating and refuses even dry runs.
	ns := fmt.Sprintf("casebook-helm-%d", time.Now().UnixNano()%1e6)
	ctx := context.Background()
	c.ensureMonitoringCRDs(t)
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
		"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/enforce": "restricted"}}}
	if _, err := c.kube.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	allOn := []string{"--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
		"--set", "grafanaDashboard.enabled=true", "--set", "ignore[0].case=K-004"}
	objs := renderChart(t, bin, ns, allOn...)
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()] = true
	}
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service", "ConfigMap", "ServiceMonitor", "PrometheusRule"} {
		if !kinds[k] {
			t.Errorf("the chart rendered no %s", k)
		}
	}
	for _, msg := range c.dryRunApply(t, ns, objs) {
		if strings.Contains(msg, "PodSecurity") {
			t.Errorf("the agent's pod would not be admitted under the restricted Pod Security Standard: %s", msg)
		} else {
			t.Logf("API server warning: %s", msg)
		}
	}

	loose := renderChart(t, bin, ns, "--set", "securityContext.allowPrivilegeEscalation=true")
	var warned bool
	for _, msg := range c.dryRunApply(t, ns, loose) {
		warned = warned || strings.Contains(msg, "allowPrivilegeEscalation")
	}
	if !warned {
		t.Error("a pod that allows privilege escalation drew no PodSecurity warning: the check above proves nothing")
	}
}

// renderChart runs helm template on the chart for namespace ns.
func renderChart(t *testing.T, bin, ns string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(bin, append([]string{"template", "edge", "../deploy/helm/casebook", "--namespace", ns}, args...)...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "c"), "HELM_CONFIG_HOME="+filepath.Join(home, "f"), "HELM_DATA_HOME="+filepath.Join(home, "d"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	if len(objs) < 5 {
		t.Fatalf("helm rendered %d objects", len(objs))
	}
	return objs
}

// dryRunApply applies objs with server-side apply and dryRun=All, checks
// that nothing was stored, and returns the API server's warnings.
func (c *cluster) dryRunApply(t *testing.T, ns string, objs []*unstructured.Unstructured) []string {
	t.Helper()
	ctx := context.Background()
	w := &warnings{}
	cfg := rest.CopyConfig(c.admin)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			if o.GetNamespace() != ns {
				t.Errorf("%s %s is in namespace %q, not the release's %q", gvk.Kind, o.GetName(), o.GetNamespace(), ns)
			}
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		body, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
			FieldManager: "casebook-e2e", DryRun: []string{metav1.DryRunAll}, Force: new(true)})
		if err != nil {
			t.Errorf("server-side dry-run apply of %s %s: %v", gvk.Kind, o.GetName(), err)
			continue
		}
		if got.GetName() != o.GetName() {
			t.Errorf("%s %s: the server answered with %q", gvk.Kind, o.GetName(), got.GetName())
		}
		if _, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s %s exists after a dry run: %v", gvk.Kind, o.GetName(), err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.msgs
}

// ensureMonitoringCRDs serves prometheus-operator's ServiceMonitor and
// PrometheusRule kinds. The bare API server has no operator; these CRDs
// accept any spec, so the dry run checks those two objects' metadata and
// kind, not their fields (deploy/chart_test.go checks those).
func (c *cluster) ensureMonitoringCRDs(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		plural := strings.ToLower(kind) + "s"
		name := plural + ".monitoring.coreos.com"
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": name},
			"spec": map[string]any{
				"group": "monitoring.coreos.com",
				"names": map[string]any{"kind": kind, "listKind": kind + "List", "plural": plural, "singular": strings.ToLower(kind)},
				"scope": "Namespaced",
				"versions": []any{map[string]any{
					"name": "v1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
				}},
			},
		}}
		if _, err := c.dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create CRD %s: %v", name, err)
		}
		c.waitEstablished(t, name)
	}
	if r, ok := c.mapper.(interface{ Reset() }); ok {
		r.Reset()
	}
}
