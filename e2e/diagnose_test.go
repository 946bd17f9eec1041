package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/cli"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/live"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// recorder sees every request casebook tries to send, before the read-only
// guard, and every response body it gets back.
type recorder struct {
	mu       sync.Mutex
	requests []string
	bad      []string
}

func (r *recorder) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path)
		if req.Method != http.MethodGet {
			r.bad = append(r.bad, "verb other than GET: "+req.Method+" "+req.URL.String())
		}
		if strings.Contains(req.URL.Path, "/secrets") {
			rest := req.URL.Path[strings.Index(req.URL.Path, "/secrets")+len("/secrets"):]
			if strings.Trim(rest, "/") != "" {
				r.bad = append(r.bad, "read of a single Secret: "+req.URL.Path)
			}
			if !strings.Contains(req.Header.Get("Accept"), "as=PartialObjectMetadataList") {
				r.bad = append(r.bad, "Secret list not as metadata: "+req.URL.Path+" Accept: "+req.Header.Get("Accept"))
			}
		}
		r.mu.Unlock()
		resp, err := next.RoundTrip(req)
		if err != nil || resp == nil || resp.Body == nil {
			return resp, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if bytes.Contains(body, []byte(Planted)) || bytes.Contains(body, []byte("cGw0bnRlZC1zM2NyZXQtOWYxYzJl")) {
			r.mu.Lock()
			r.bad = append(r.bad, "a response carried planted Secret data: "+req.URL.Path)
			r.mu.Unlock()
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	})
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bad {
		t.Error(b)
	}
	if len(r.requests) == 0 {
		t.Error("no request was recorded")
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func library(t testing.TB) *caseload.Library {
	t.Helper()
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

func diagnose(t testing.TB, src casebook.Source, lib *caseload.Library) *engine.Result {
	t.Helper()
	ds := append(detectors.All(), detectors.SignalMatch(lib.Cases)...)
	res, err := engine.Run(context.Background(), src, ds, engine.Options{Case: lib.Get})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// brokenFixtures are the snapshots the live path is checked against.
func brokenFixtures(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob("../internal/detectors/testdata/*/broken*")
	if err != nil {
		t.Fatal(err)
	}
	// LOGS and METRICS hold what a cluster does not keep as objects (log
	// tails, the API server's metrics): TestLiveLogsAndMetrics reads those live.
	dirs = slices.DeleteFunc(dirs, func(d string) bool {
		return strings.Contains(d, "/LOGS/") || strings.Contains(d, "/METRICS/")
	})
	return append(dirs, "../examples/edge-cluster")
}

func fixtureName(dir string) string {
	if strings.Contains(dir, "examples") {
		return "examples/" + filepath.Base(dir)
	}
	return filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
}

// TestLiveMatchesSnapshot loads each broken fixture into the API server and
// diagnoses it live through a ServiceAccount that may only get, list and
// watch: the findings must equal those from the snapshot, with no warning,
// no request but GET, and no byte of Secret data received.
func TestLiveMatchesSnapshot(t *testing.T) {
	c := connect(t)
	lib := library(t)
	reader := c.readerConfig(t, "reader", readOnlyRules)
	for _, dir := range brokenFixtures(t) {
		t.Run(fixtureName(dir), func(t *testing.T) {
			c.load(t, dir)
			snap, err := snapshot.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := diagnose(t, snap, lib)
			if len(want.Findings) == 0 {
				t.Fatal("the snapshot has no findings; nothing to compare")
			}
			rec := &recorder{}
			src, err := live.New(reader, live.Options{WrapTransport: rec.wrap, PageSize: 20})
			if err != nil {
				t.Fatal(err)
			}
			got := diagnose(t, src, lib)
			for _, w := range got.Warnings {
				t.Errorf("live warning: %s", w)
			}
			if g, w := toJSON(got.Findings), toJSON(want.Findings); g != w {
				t.Errorf("live findings differ from the snapshot's\n--- live\n%s\n--- snapshot\n%s", g, w)
			}
			rec.check(t)
		})
	}
}

// TestCLIDiagnoseLive runs the casebook command itself against the API
// server with a kubeconfig, as a user would.
func TestCLIDiagnoseLive(t *testing.T) {
	c := connect(t)
	dir := "../internal/detectors/testdata/N-002/broken"
	c.load(t, dir)
	kc := writeKubeconfig(t, c.readerConfig(t, "reader", readOnlyRules))

	run := func(args ...string) (int, string, string) {
		io, _, out, errOut := cli.TestStreams()
		f := &cli.Factory{IO: io, DetectedCases: detectors.IDs}
		code := cli.Run(context.Background(), f, args)
		return code, out.String(), errOut.String()
	}
	code, liveOut, stderr := run("diagnose", "--kubeconfig", kc, "-A", "-o", "json")
	if code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d (findings); stderr:\n%s", code, cli.ExitFindings, stderr)
	}
	code, snapOut, stderr := run("diagnose", "--snapshot", dir, "-o", "json")
	if code != cli.ExitFindings {
		t.Fatalf("snapshot: exit %d; stderr:\n%s", code, stderr)
	}
	var l, s casebook.Report
	if err := json.Unmarshal([]byte(liveOut), &l); err != nil {
		t.Fatalf("live output is not JSON: %v\n%s", err, liveOut)
	}
	if err := json.Unmarshal([]byte(snapOut), &s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.Source, "Kubernetes v1.37.2") {
		t.Errorf("source %q does not name the server version", l.Source)
	}
	if g, w := toJSON(l.Findings), toJSON(s.Findings); g != w {
		t.Errorf("CLI live findings differ from the snapshot's\n--- live\n%s\n--- snapshot\n%s", g, w)
	}

	// -n limits the live read to one namespace.
	code, out, stderr := run("diagnose", "--kubeconfig", kc, "-n", "kube-system", "-o", "json")
	if code != cli.ExitFindings {
		t.Fatalf("-n kube-system: exit %d; stderr:\n%s", code, stderr)
	}
	var ns casebook.Report
	if err := json.Unmarshal([]byte(out), &ns); err != nil {
		t.Fatal(err)
	}
	for _, f := range ns.Findings {
		for _, o := range f.Objects {
			if o.Namespace != "" && o.Namespace != "kube-system" {
				t.Errorf("-n kube-system reported %s", o)
			}
		}
	}

	// An unreachable cluster is an error (exit 1), not an empty report.
	bad := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: x\n  context: {cluster: x}\ncurrent-context: x\n"), 0o600)
	if code, _, stderr := run("diagnose", "--kubeconfig", bad); code != cli.ExitError || !strings.Contains(stderr, "does not answer") {
		t.Errorf("unreachable cluster: exit %d, stderr %q; want exit 1 and 'does not answer'", code, stderr)
	}
}

// TestForbiddenAndMissingKinds reads with a role that may not list events
// or secrets: those become warnings, and the detectors still report what
// they can.
func TestForbiddenAndMissingKinds(t *testing.T) {
	c := connect(t)
	dir := "../internal/detectors/testdata/N-003/broken"
	c.load(t, dir)
	limited := c.readerConfig(t, "limited", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "services", "namespaces", "persistentvolumeclaims", "persistentvolumes", "configmaps"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"networking.k8s.io", "discovery.k8s.io", "storage.k8s.io", "apps", "node.k8s.io", "batch"}, Resources: []string{"*"}, Verbs: []string{"get", "list", "watch"}},
	})
	src, err := live.New(limited, live.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.List(context.Background(), casebook.KindSecret, ""); !errors.Is(err, casebook.ErrForbidden) {
		t.Errorf("listing secrets without RBAC: got %v, want ErrForbidden", err)
	}
	if _, err := src.List(context.Background(), "HelmChart.helm.cattle.io", ""); !errors.Is(err, casebook.ErrNotServed) {
		t.Errorf("listing a kind without its CRD: got %v, want ErrNotServed", err)
	}
	res := diagnose(t, src, library(t))
	var warned []string
	for _, w := range res.Warnings {
		warned = append(warned, w.String())
	}
	all := strings.Join(warned, "\n")
	for _, want := range []string{"list secrets in all namespaces", "list events in all namespaces", "forbidden"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings do not mention %q:\n%s", want, all)
		}
	}
	causes := map[string]bool{}
	for _, f := range res.Findings {
		causes[f.Cause] = true
	}
	if !causes["backend-service-missing"] || !causes["backend-port-missing"] {
		t.Errorf("detectors should still report what they can read; got causes %v", causes)
	}
	if causes["tls-secret-missing"] {
		t.Error("the TLS check needs Secrets, which are forbidden: it must be skipped, not guessed")
	}
}

// TestCollectRedacts collects a bundle from the API server with planted
// credentials in Secrets, environment variables, flags and ConfigMaps: none
// may be in the bundle, and the bundle must diagnose like the cluster.
func TestCollectRedacts(t *testing.T) {
	c := connect(t)
	dir := "../internal/detectors/testdata/S-001/broken"
	c.load(t, dir)
	ctx := context.Background()
	ns := "casebook-e2e"
	c.ensureNamespace(t, ns)
	if _, err := c.kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "planted", Namespace: ns,
		Annotations: map[string]string{"example.com/api-token": Planted}},
		Data: map[string]string{
			"db-password": Planted,
			"config.yaml": "database:\n  host: db\n  password: " + Planted + "\nurl: postgres://app:" + Planted + "@db:5432/app\n",
			"app.env":     "API_KEY=" + Planted + "\nLOG_LEVEL=debug\n",
			"tls.key":     "-----BEGIN PRIVATE KEY-----\n" + Planted + "\n-----END PRIVATE KEY-----\n",
		}}
	if _, err := c.kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "planted", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1",
			Args: []string{"--db-password=" + Planted, "--token", Planted, "--dsn=mysql://root:" + Planted + "@db/app"},
			Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: Planted}, {Name: "AWS_SECRET_ACCESS_KEY", Value: Planted},
				{Name: "GITHUB_TOKEN", Value: Planted}, {Name: "DATABASE_URL", Value: "postgres://app:" + Planted + "@db/app"},
				{Name: "LOG_LEVEL", Value: "debug"}}}}}}
	if _, err := c.kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		zero := int64(0)
		c.kube.CoreV1().Pods(ns).Delete(ctx, "planted", metav1.DeleteOptions{GracePeriodSeconds: &zero})
		c.kube.CoreV1().ConfigMaps(ns).Delete(ctx, "planted", metav1.DeleteOptions{})
	}()

	reader := c.readerConfig(t, "reader", readOnlyRules)
	kc := writeKubeconfig(t, reader)
	bundle, _ := collectBundle(t, ctx, kc)
	raw, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, raw)
	if len(files) < 10 {
		t.Fatalf("bundle holds %d files", len(files))
	}
	for name, data := range files {
		if bytes.Contains(data, []byte(Planted)) || bytes.Contains(data, []byte("cGw0bnRlZC1zM2NyZXQtOWYxYzJl")) {
			t.Errorf("%s carries a planted credential:\n%s", name, excerpt(data, Planted))
		}
	}
	// ConfigMap values leave as keyed hashes, and the report says so.
	if !bytes.Contains(files["namespaces/casebook-e2e/configmaps.yaml"], []byte("app.env: <redacted:sha256:")) {
		t.Errorf("a ConfigMap value is not hashed:\n%s", files["namespaces/casebook-e2e/configmaps.yaml"])
	}
	if rep := files["redaction-report.json"]; !bytes.Contains(rep, []byte(`"path": "data[app.env]"`)) || !bytes.Contains(rep, []byte(`"rule": "env-value"`)) {
		t.Errorf("redaction-report.json does not list what was hashed:\n%s", rep)
	}

	requireBundleMatchesCluster(t, bundle, reader)
}

// collectBundle runs `casebook collect` with kubeconfig kc and returns the
// bundle's path and what collect said on stderr.
func collectBundle(t *testing.T, ctx context.Context, kc string) (string, string) {
	t.Helper()
	bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	io, _, _, errOut := cli.TestStreams()
	if code := cli.Run(ctx, &cli.Factory{IO: io}, []string{"collect", "--kubeconfig", kc, "-o", bundle,
		"--logs=false"}); code != 0 { // no kubelet here to answer for logs
		t.Fatalf("collect: exit %d\n%s", code, errOut)
	}
	return bundle, errOut.String()
}

// requireBundleMatchesCluster loads a collected bundle, which must load
// without warnings, and requires it to diagnose as the cluster does through
// reader. It returns the bundle's diagnosis.
func requireBundleMatchesCluster(t *testing.T, bundle string, reader *rest.Config) *engine.Result {
	t.Helper()
	snap, err := snapshot.Load(bundle)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range snap.Warnings {
		t.Errorf("bundle warning: %s", w)
	}
	lib := library(t)
	fromBundle := diagnose(t, snap, lib)
	src, err := live.New(reader, live.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fromCluster := diagnose(t, src, lib)
	if g, w := toJSON(fromBundle.Findings), toJSON(fromCluster.Findings); g != w {
		t.Errorf("the bundle diagnoses differently from the cluster\n--- bundle\n%s\n--- cluster\n%s", g, w)
	}
	return fromBundle
}

func untar(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("bundle files: %s", strings.Join(names, " "))
	return out
}

func excerpt(data []byte, needle string) string {
	i := bytes.Index(data, []byte(needle))
	if i < 0 {
		return ""
	}
	lo, hi := max(0, i-200), min(len(data), i+100)
	return string(data[lo:hi])
}
