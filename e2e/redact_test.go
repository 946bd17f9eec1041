package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cli"
	"github.com/casebook-dev/casebook/internal/live"
)

// plantAppliedSecret creates a Secret as `kubectl apply` leaves it: its
// data copied into the last-applied-configuration annotation, and another
// applier's copy under a key of its own.
func plantAppliedSecret(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	const ns = "casebook-e2e"
	c.ensureNamespace(t, ns)
	applied := `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"applied","namespace":"casebook-e2e"},"stringData":{"password":"` + Planted + `"}}`
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "applied", Namespace: ns, Annotations: map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": applied,
		"example.com/applied-copy":                         Planted,
		"objectset.rio.cattle.io/applied":                  "H4sIAAAAAAAA_4yRz47UMAyHXwX53JYpnamqSBxg0V4QEhJoObuJOzVN4ypxi0areXeUMqDhwJ9j8ov9xZ",
		"meta.helm.sh/release-name":                        "shop",
	}}, StringData: map[string]string{"password": Planted}}
	if _, err := c.kube.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.kube.CoreV1().Secrets(ns).Delete(context.Background(), "applied", metav1.DeleteOptions{}) })
}

// TestSecretAppliedCopiesNeverLeave: the API server returns a Secret's
// annotations with its metadata, and kubectl apply's copy holds the data.
// The live reader drops them, so neither diagnose nor a bundle sees it.
func TestSecretAppliedCopiesNeverLeave(t *testing.T) {
	c := connect(t)
	plantAppliedSecret(t, c)
	reader := c.readerConfig(t, "reader", readOnlyRules)
	src, err := live.New(reader, live.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := src.List(context.Background(), casebook.KindSecret, "casebook-e2e")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range secrets {
		m := o.(*metav1.PartialObjectMetadata)
		if m.Name != "applied" {
			continue
		}
		found = true
		b, _ := json.Marshal(m)
		if bytes.Contains(b, []byte(Planted)) || m.Annotations["kubectl.kubernetes.io/last-applied-configuration"] != "" {
			t.Errorf("the live reader passed on a copy of the Secret's data: %s", b)
		}
		if len(m.Annotations) != 1 || m.Annotations["meta.helm.sh/release-name"] != "shop" {
			t.Errorf("Secret annotations = %v, want only meta.helm.sh/release-name", m.Annotations)
		}
	}
	if !found {
		t.Fatal("the planted Secret was not listed")
	}

	kc := writeKubeconfig(t, reader)
	bundle, _ := collectBundle(t, context.Background(), kc)
	for name, data := range untar(t, mustRead(t, bundle)) {
		if bytes.Contains(data, []byte(Planted)) {
			t.Errorf("%s carries the Secret's data:\n%s", name, excerpt(data, Planted))
		}
	}
	ios, _, out, errOut := cli.TestStreams()
	cli.Run(context.Background(), &cli.Factory{IO: ios}, []string{"diagnose", "--kubeconfig", kc, "-A", "-o", "json"})
	if strings.Contains(out.String()+errOut.String(), Planted) {
		t.Error("diagnose printed the Secret's data")
	}
}

// pathPrefixProxy serves the e2e API server under prefix, as Rancher
// serves a downstream cluster under /k8s/clusters/ID.
func pathPrefixProxy(t *testing.T, api *rest.Config, prefix string) *httptest.Server {
	t.Helper()
	target, err := url.Parse(api.Host)
	if err != nil {
		t.Fatal(err)
	}
	tlsOnly := rest.AnonymousClientConfig(api)
	rt, err := rest.TransportFor(tlsOnly)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Transport: rt, Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, prefix)
		r.Out.URL.RawPath = ""
		r.Out.Header.Set("Authorization", r.In.Header.Get("Authorization"))
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestGuardBehindProxyPrefix reads the real API server through a reverse
// proxy with a path prefix: Secrets are still listed as metadata only,
// every request is still a GET, a whole-Secret read through the prefix is
// refused before it leaves, and diagnose and collect work through it.
func TestGuardBehindProxyPrefix(t *testing.T) {
	c := connect(t)
	plantAppliedSecret(t, c)
	reader := c.readerConfig(t, "reader", readOnlyRules)
	for _, prefix := range []string{"/k8s/clusters/c-x", "/api/v1/namespaces/cattle-system/services/http:rancher:80/proxy"} {
		t.Run(prefix, func(t *testing.T) {
			srv := pathPrefixProxy(t, reader, prefix)
			cfg := &rest.Config{Host: srv.URL + prefix, BearerToken: reader.BearerToken}
			rec := &recorder{}
			src, err := live.New(cfg, live.Options{WrapTransport: rec.wrap})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.List(context.Background(), casebook.KindSecret, ""); err != nil {
				t.Fatalf("list Secrets through %s: %v", prefix, err)
			}
			if _, err := src.List(context.Background(), casebook.KindPod, ""); err != nil {
				t.Fatalf("list pods through %s: %v", prefix, err)
			}
			rec.mu.Lock()
			for _, b := range rec.bad {
				// The metadata list does carry annotations; the reader drops them.
				if !strings.HasPrefix(b, "a response carried planted Secret data") {
					t.Error(b)
				}
			}
			rec.mu.Unlock()

			guarded := rest.CopyConfig(cfg)
			guarded.Wrap(live.ReadOnlyAt(live.HostPath(cfg.Host)))
			rt, err := rest.TransportFor(guarded)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/api/v1/namespaces/casebook-e2e/secrets/applied", "/api/v1/secrets"} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+prefix+path, nil)
				req.Header.Set("Accept", "application/json")
				if resp, err := rt.RoundTrip(req); err == nil {
					resp.Body.Close()
					t.Errorf("GET %s%s with Accept application/json went through the guard (%s)", prefix, path, resp.Status)
				}
			}

			kc := writeKubeconfig(t, cfg)
			bundle, _ := collectBundle(t, context.Background(), kc)
			for name, data := range untar(t, mustRead(t, bundle)) {
				if bytes.Contains(data, []byte(Planted)) {
					t.Errorf("%s carries a planted credential", name)
				}
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
