package redact

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func newTest(t testing.TB) *Redactor {
	t.Helper()
	r, err := New(Options{Key: []byte("test key")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHashIsKeyedAndStable(t *testing.T) {
	a, b := newTest(t), newTest(t)
	if a.Hash("x") != b.Hash("x") || a.Hash("x") == a.Hash("y") {
		t.Error("the same key must hash a value alike and two values apart")
	}
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := New(Options{})
	if c.Hash("x") == d.Hash("x") {
		t.Error("two bundles share a key: their hashes could be compared, or guessed across bundles")
	}
	if h := a.Hash("x"); !strings.HasPrefix(h, HashPrefix) || !strings.HasSuffix(h, ">") || len(h) != len(HashPrefix)+21 {
		t.Errorf("hash = %q", h)
	}
}

// TestArgs pins what a command line keeps: flag names, the values of
// flags a detector reads when they have the declared shape, declared
// words and a command's program; everything else is hashed.
func TestArgs(t *testing.T) {
	r := newTest(t)
	h := r.Hash
	for _, tc := range []struct {
		name    string
		command bool
		in      []string
		want    []string
	}{
		{"node-args", false, []string{"server", "--disable", "traefik", "--token", "K10abc::server:xyz", "--node-ip=10.0.0.1"},
			[]string{"server", "--disable", "traefik", "--token", h("K10abc::server:xyz"), "--node-ip=10.0.0.1"}},
		{"flag=value not read", false, []string{"--password=hunter2", "--listen=:8080"},
			[]string{"--password=" + h("hunter2"), "--listen=" + h(":8080")}},
		{"-p: local-path dir kept, a password not", false,
			[]string{"-p", "/var/lib/rancher/k3s/storage/pvc-a67cb088-5dd9-424f-a980-39cf7ccb789d_factory_data-0", "-p", "hunter2"},
			[]string{"-p", "/var/lib/rancher/k3s/storage/pvc-a67cb088-5dd9-424f-a980-39cf7ccb789d_factory_data-0", "-p", h("hunter2")}},
		{"-pVALUE", false, []string{"-phunter2", "-Xmx512m"}, []string{"-p" + h("hunter2"), "-X" + h("mx512m")}},
		{"gatekeeper operation", false, []string{"--operation=audit,status", "--operation=Audit1"},
			[]string{"--operation=audit,status", "--operation=" + h("Audit1")}},
		{"sh -c", true, []string{"/bin/sh", "-c", "curl -H 'Authorization: Bearer abc' x"},
			[]string{"/bin/sh", "-c", h("curl -H 'Authorization: Bearer abc' x")}},
		{"program with a space is not a plain program", true, []string{"a b"}, []string{h("a b")}},
		{"redis-cli -a", true, []string{"redis-cli", "-a", "s3cret"}, []string{"redis-cli", "-a", h("s3cret")}},
		{"empty and --", false, []string{"", "--", "x"}, []string{"", h("--"), h("x")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := make([]any, len(tc.in))
			for i, s := range tc.in {
				list[i] = s
			}
			w := &walker{r: r, kind: "Pod", object: "Pod x/y"}
			w.args(list, "args", tc.command)
			for i := range tc.want {
				if list[i] != tc.want[i] {
					t.Errorf("[%d] %q → %q, want %q", i, tc.in[i], list[i], tc.want[i])
				}
			}
		})
	}
}

func TestAnnotationsAndLabels(t *testing.T) {
	r := newTest(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-1", Annotations: map[string]string{
		"k3s.io/node-args":                                 `["agent","--token","abc","--node-ip","10.0.0.5"]`,
		"flannel.alpha.coreos.com/public-ip":               "10.0.0.5",
		"example.com/owner":                                "ops",
		"kubectl.kubernetes.io/last-applied-configuration": "{}",
	}, Labels: map[string]string{"kubernetes.io/hostname": "edge-1", "bootstrap-token": "abcdef"}}}
	m, err := r.Object("Node", node)
	if err != nil {
		t.Fatal(err)
	}
	md := m["metadata"].(map[string]any)
	ann := md["annotations"].(map[string]any)
	if got, want := ann["k3s.io/node-args"], `["agent","--token","`+r.Hash("abc")+`","--node-ip","10.0.0.5"]`; got != want {
		t.Errorf("node-args = %s, want %s", got, want)
	}
	if ann["flannel.alpha.coreos.com/public-ip"] != "10.0.0.5" || ann["example.com/owner"] != r.Hash("ops") {
		t.Errorf("annotations = %v", ann)
	}
	if _, ok := ann["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Error("last-applied kept")
	}
	labels := md["labels"].(map[string]any)
	if labels["kubernetes.io/hostname"] != "edge-1" || labels["bootstrap-token"] != r.Hash("abcdef") {
		t.Errorf("labels = %v", labels)
	}
	if md["name"] != "edge-1" {
		t.Errorf("name = %v", md["name"])
	}
}

func TestSecretIsMetadataOnly(t *testing.T) {
	r := newTest(t)
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Annotations: map[string]string{
		"meta.helm.sh/release-name": "shop", "example.com/copy": "pw"}},
		Data: map[string][]byte{"password": []byte("pw")}, StringData: map[string]string{"x": "pw"}, Type: "Opaque"}
	m, err := r.Object("Secret", s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if strings.Contains(string(b), `"pw"`) || strings.Contains(string(b), "cHc=") || m["data"] != nil || m["type"] != nil {
		t.Errorf("secret = %s", b)
	}
	if !strings.Contains(string(b), `"meta.helm.sh/release-name":"shop"`) {
		t.Errorf("a harmless annotation went: %s", b)
	}
}

func TestCustomResources(t *testing.T) {
	r := newTest(t)
	ct := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
		"metadata": map[string]any{"name": "t"},
		"spec": map[string]any{"crd": map[string]any{"spec": map[string]any{"names": map[string]any{"kind": "K8sX"},
			"validation": map[string]any{"openAPIV3Schema": map[string]any{"type": "object"}}}},
			"targets": []any{map[string]any{"target": "admission.k8s.gatekeeper.sh", "rego": "package x"}}},
		"status": map[string]any{"created": true, "byPod": []any{map[string]any{"id": "gatekeeper-audit-1"}}}}}
	m, err := r.Object("ConstraintTemplate.templates.gatekeeper.sh", ct)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	for path, want := range map[string]string{
		"spec.crd.spec.names.kind":                      "K8sX",
		"spec.crd.spec.validation.openAPIV3Schema.type": r.Hash("object"),
		"metadata.name":                                 "t",
	} {
		got, _, _ := unstructured.NestedString(u.Object, strings.Split(path, ".")...)
		if got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	targets, _, _ := unstructured.NestedSlice(u.Object, "spec", "targets")
	if targets[0].(map[string]any)["rego"] != "package x" {
		t.Errorf("targets = %v", targets)
	}
	if created, _, _ := unstructured.NestedBool(u.Object, "status", "created"); !created {
		t.Error("status went")
	}
	if ct.Object["spec"].(map[string]any)["crd"].(map[string]any)["spec"].(map[string]any)["validation"].(map[string]any)["openAPIV3Schema"].(map[string]any)["type"] != "object" {
		t.Error("Object changed its input")
	}
}

func TestKeepRefusesABadShape(t *testing.T) {
	if _, err := NewKeep(Needs{Detector: "X-001", Flags: []Flag{{Name: "--x", Value: "("}}}); err == nil || !strings.Contains(err.Error(), "X-001") {
		t.Errorf("err = %v", err)
	}
}

func BenchmarkObjectPod(b *testing.B) {
	r := newTest(b)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f8c6b5-x2x9q", Namespace: "shop", Labels: map[string]string{"app": "web", "pod-template-hash": "7d9f8c6b5"},
		Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z", "prometheus.io/scrape": "true"}},
		Spec: corev1.PodSpec{NodeName: "edge-1", Containers: []corev1.Container{{Name: "web", Image: "registry.example.com/web:1.4.2",
			Args: []string{"--listen=:8080", "--log-level=info"}, Env: []corev1.EnvVar{{Name: "DB_HOST", Value: "db"}, {Name: "DB_PASSWORD", Value: "x"}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready"}}, PeriodSeconds: 10}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: true, Image: "registry.example.com/web:1.4.2"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Object("Pod", pod); err != nil {
			b.Fatal(err)
		}
	}
}
