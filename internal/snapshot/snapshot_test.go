package snapshot

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func names(t *testing.T, s *Snapshot, kind casebook.Kind, ns string) []string {
	t.Helper()
	objs, err := s.List(context.Background(), kind, ns)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		m := o.(metav1.Object)
		out = append(out, strings.TrimPrefix(m.GetNamespace()+"/"+m.GetName(), "/"))
	}
	return out
}

// TestLoadLayouts reads every layout a snapshot comes in.
func TestLoadLayouts(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		// A single object.
		"node.yaml": "apiVersion: v1\nkind: Node\nmetadata:\n  name: server-1\n",
		// Multi-document YAML with a blank and a comment-only document.
		"multi.yml": "---\n# nothing here\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  namespace: shop\n---\n\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  namespace: shop\nspec:\n  selector: {app: a}\n",
		// kubectl get -o yaml: kind List, each item with its kind.
		"list.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b, namespace: shop}\n- apiVersion: networking.k8s.io/v1\n  kind: Ingress\n  metadata: {name: web, namespace: shop}\n",
		// kubectl cluster-info dump: typed lists whose items carry no kind.
		"kube-system/pods.json":          `{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"coredns-1","namespace":"kube-system"},"status":{"phase":"Running"}}]}`,
		"kube-system/coredns-1/logs.txt": "not a Kubernetes file",
		// A CRD the casebook does not know, and a built-in kind in an old version.
		"helm.yaml": "apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata: {name: traefik, namespace: kube-system}\nspec: {chart: traefik}\n",
		"old.yaml":  "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: legacy, namespace: shop}\n",
		// JSON array and concatenated JSON.
		"array.json": `[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c","namespace":"shop"}}] {"apiVersion":"v1","kind":"Pod","metadata":{"name":"d","namespace":"dev"}}`,
		// Hidden files are not part of a snapshot.
		".git/config.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: hidden}\n",
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Warnings) != 0 {
		t.Errorf("unexpected warnings: %v", s.Warnings)
	}
	for _, tc := range []struct {
		kind casebook.Kind
		ns   string
		want string
	}{
		{casebook.KindNode, "", "server-1"},
		{casebook.KindPod, "", "shop/a shop/b shop/c dev/d kube-system/coredns-1"},
		{casebook.KindPod, "shop", "shop/a shop/b shop/c"},
		{casebook.KindService, "shop", "shop/a"},
		{casebook.KindIngress, "", "shop/web"},
		{"HelmChart.helm.cattle.io", "kube-system", "kube-system/traefik"},
		{"Ingress.extensions", "", "shop/legacy"},
	} {
		got := strings.Join(names(t, s, tc.kind, tc.ns), " ")
		if !sameSet(got, tc.want) {
			t.Errorf("%s in %q: got %q, want %q", tc.kind, tc.ns, got, tc.want)
		}
	}
	objs, _ := s.List(context.Background(), casebook.KindPod, "kube-system")
	if p, ok := objs[0].(*corev1.Pod); !ok || p.Status.Phase != corev1.PodRunning {
		t.Errorf("a dumped pod must load typed with its status: %#v", objs[0])
	}
	objs, _ = s.List(context.Background(), "HelmChart.helm.cattle.io", "")
	if _, ok := objs[0].(*unstructured.Unstructured); !ok {
		t.Errorf("an unknown kind loads unstructured, got %T", objs[0])
	}
}

func sameSet(a, b string) bool {
	as, bs := strings.Fields(a), strings.Fields(b)
	if len(as) != len(bs) {
		return false
	}
	seen := map[string]int{}
	for _, x := range as {
		seen[x]++
	}
	for _, x := range bs {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestBrokenFileIsAWarning: a file that does not parse is named in a
// warning and skipped; the rest of the snapshot loads.
func TestBrokenFileIsAWarning(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"good.yaml":   "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: a}\n",
		"broken.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: [unclosed\n",
		"bad.json":    `{"kind": "Pod", "metadata": {"name": 3}}`,
		"notes.yaml":  "title: not a Kubernetes object\n",
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names(t, s, casebook.KindPod, ""), " ")
	if got != "a/ok" {
		t.Errorf("pods = %q, want a/ok", got)
	}
	var ws []string
	for _, w := range s.Warnings {
		ws = append(ws, w.Message)
	}
	all := strings.Join(ws, "\n")
	for _, want := range []string{"broken.yaml", "bad.json", "(file skipped)", "notes.yaml: not a Kubernetes object"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings do not mention %q:\n%s", want, all)
		}
	}
	if s.Files != 2 {
		t.Errorf("Files = %d, want 2 (good.yaml, notes.yaml)", s.Files)
	}
}

func TestLoadMissingPath(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "snapshot not found") {
		t.Errorf("got %v, want snapshot not found", err)
	}
}

// TestSecretsKeepNoData: a Secret in a snapshot loads as metadata only,
// without kubectl's last-applied copy of its data.
func TestSecretsKeepNoData(t *testing.T) {
	dir := writeFiles(t, map[string]string{"s.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"aHVudGVyMg=="}}'
    team: payments
data:
  password: aHVudGVyMg==
stringData:
  token: hunter2
`})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := s.List(context.Background(), casebook.KindSecret, "")
	p, ok := objs[0].(*metav1.PartialObjectMetadata)
	if !ok {
		t.Fatalf("a Secret loads as metadata, got %T", objs[0])
	}
	if p.Annotations["team"] != "payments" || p.Annotations["kubectl.kubernetes.io/last-applied-configuration"] != "" {
		t.Errorf("annotations = %v", p.Annotations)
	}
}

// TestDuplicatesKeepTheLastCopy: the same object in two files is one object.
func TestDuplicatesKeepTheLastCopy(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nstatus: {phase: Pending}\n",
		"b.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nstatus: {phase: Running}\n",
	})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, _ := s.List(context.Background(), casebook.KindPod, "")
	if len(objs) != 1 || objs[0].(*corev1.Pod).Status.Phase != corev1.PodRunning {
		t.Errorf("got %d pods, first %v", len(objs), objs)
	}
}

// TestNamespaceScope: a snapshot limited to a namespace lists only it, but
// cluster-scoped kinds and explicit namespaces stay readable.
func TestNamespaceScope(t *testing.T) {
	dir := writeFiles(t, map[string]string{"x.yaml": "apiVersion: v1\nkind: List\nitems:\n" +
		"- {apiVersion: v1, kind: Pod, metadata: {name: a, namespace: shop}}\n" +
		"- {apiVersion: v1, kind: Pod, metadata: {name: b, namespace: kube-system}}\n" +
		"- {apiVersion: v1, kind: Node, metadata: {name: node-1}}\n"})
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Namespace = "shop"
	if got := strings.Join(names(t, s, casebook.KindPod, ""), " "); got != "shop/a" {
		t.Errorf("scoped pods = %q", got)
	}
	if got := strings.Join(names(t, s, casebook.KindPod, "kube-system"), " "); got != "kube-system/b" {
		t.Errorf("explicit namespace = %q", got)
	}
	if got := strings.Join(names(t, s, casebook.KindNode, ""), " "); got != "node-1" {
		t.Errorf("nodes = %q", got)
	}
}

// TestTarGz reads a .tar.gz snapshot, skipping what is not YAML or JSON.
func TestTarGz(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name, body string) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	add("dump/nodes.json", `{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"edge-02"}}]}`)
	add("dump/kube-system/coredns/logs.txt", "log line")
	add("dump/broken.yaml", "kind: [")
	tw.Close()
	gz.Close()
	p := filepath.Join(t.TempDir(), "bundle.tar.gz")
	os.WriteFile(p, buf.Bytes(), 0o644)
	s, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(t, s, casebook.KindNode, ""), " "); got != "edge-02" {
		t.Errorf("nodes = %q", got)
	}
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0].Message, "bundle.tar.gz:dump/broken.yaml") {
		t.Errorf("warnings = %v", s.Warnings)
	}
}

// TestDecodesLikeEncodingJSON: the faster JSON decoder must give the same
// objects encoding/json gives, over every fixture and the example.
func TestDecodesLikeEncodingJSON(t *testing.T) {
	var files []string
	for _, root := range []string{"../detectors/testdata", "../../examples"} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && snapshotFile(p) {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 50 {
		t.Fatalf("only %d fixture files found", len(files))
	}
	compared := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := splitDocuments(data, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, doc := range docs {
			entries, _, err := decodeDocument(doc, nil)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var h struct {
				APIVersion string            `json:"apiVersion"`
				Items      []json.RawMessage `json:"items"`
			}
			if err := json.Unmarshal(doc, &h); err != nil {
				t.Fatal(err)
			}
			raws := h.Items
			if raws == nil {
				raws = []json.RawMessage{doc}
			}
			for i, e := range entries {
				if _, isUnstructured := e.obj.(*unstructured.Unstructured); isUnstructured || e.kind == casebook.KindSecret {
					continue
				}
				want := kube.Lookup(e.kind).New()
				if err := json.Unmarshal(raws[i], want); err != nil {
					t.Fatal(err)
				}
				want.GetObjectKind().SetGroupVersionKind(e.obj.GetObjectKind().GroupVersionKind())
				if !reflect.DeepEqual(e.obj, want) {
					t.Errorf("%s: %s %s decodes differently from encoding/json", f, e.kind, e.meta.GetName())
				}
				compared++
			}
		}
	}
	t.Logf("compared %d objects in %d files", compared, len(files))
}
