package live

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	casebook "github.com/casebook-dev/casebook"
)

func TestCheckRequest(t *testing.T) {
	const meta = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
	for _, tc := range []struct {
		method, path, accept string
		ok                   bool
	}{
		{"GET", "/api/v1/pods", "application/json", true},
		{"GET", "/api/v1/namespaces/secrets/pods", "application/json", true},
		{"GET", "/api/v1/secrets", meta, true},
		{"GET", "/api/v1/namespaces/shop/secrets", meta, true},
		{"GET", "/api/v1/secrets", "application/json", false},
		{"GET", "/api/v1/namespaces/shop/secrets", meta + ",application/json", false},
		{"GET", "/api/v1/namespaces/shop/secrets/db", meta, false},
		{"GET", "/api/v1/watch/namespaces/shop/secrets/db", meta, false},
		{"POST", "/api/v1/namespaces/shop/pods", "application/json", false},
		{"DELETE", "/api/v1/nodes/edge-02", "application/json", false},
		{"PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", "application/json", false},
		// Behind a proxy path the API path is found after the prefix.
		{"GET", "/k8s/clusters/c-x/api/v1/namespaces/shop/secrets/db", "application/json", false},
		{"GET", "/k8s/clusters/c-x/api/v1/secrets", "application/json", false},
		{"GET", "/k8s/clusters/c-x/api/v1/secrets", meta, true},
		{"GET", "/k8s/clusters/c-x/api/v1/pods", "application/json", true},
		{"GET", "/api/v1/namespaces/kube-system/services/https:kubernetes:443/proxy/api/v1/secrets", "application/json", false},
		{"GET", "/api/v1//namespaces/shop//secrets/db", meta, false},
		{"GET", "/api/v1/namespaces/shop/pods/../secrets/db", "application/json", false},
		{"GET", "/api/v1/namespaces/shop/secrets%2Fdb", "application/json", false},
	} {
		req, err := http.NewRequest(tc.method, "https://127.0.0.1:6443"+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", tc.accept)
		if err := CheckRequest(req); (err == nil) != tc.ok {
			t.Errorf("%s %s (Accept %s): err = %v, want ok=%v", tc.method, tc.path, tc.accept, err, tc.ok)
		}
	}
}

// fakeAPI is just enough of an API server to test the source: two pages
// of pods, Secrets only as metadata, forbidden events, unserved ingresses.
type fakeAPI struct {
	mu       sync.Mutex
	requests []string
	accepts  map[string]string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.accepts[r.URL.Path] = r.Header.Get("Accept")
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	status := func(code int, reason metav1.StatusReason, msg string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: "Failure",
			Code: int32(code), Reason: reason, Message: msg})
	}
	switch r.URL.Path {
	case "/api/v1/namespaces/shop/pods":
		list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
		if r.URL.Query().Get("continue") == "" {
			list.Items = []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "shop"}}}
			list.Continue = "page-2"
		} else {
			list.Items = []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "shop"}}}
		}
		json.NewEncoder(w).Encode(list)
	case "/api/v1/secrets":
		if !strings.Contains(r.Header.Get("Accept"), "as=PartialObjectMetadataList") {
			status(http.StatusInternalServerError, metav1.StatusReasonInternalError, "a full Secret list was asked for")
			return
		}
		w.Header().Set("Content-Type", "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
		json.NewEncoder(w).Encode(metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"},
			Items: []metav1.PartialObjectMetadata{{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"},
				ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "shop", Annotations: map[string]string{
					"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1","data":{"tls.key":"cGw0bnRlZA=="},"kind":"Secret"}`,
					"example.com/applied":                              `{"stringData":{"password":"pl4nted"}}`,
					"objectset.rio.cattle.io/applied":                  "H4sIAAAAAAAA_6tWSkksSVSyUlAqS8wpTVWqBQAAAP__",
					"kubernetes.io/service-account.name":               "web",
				}}}}})
	case "/api/v1/events":
		status(http.StatusForbidden, metav1.StatusReasonForbidden, `events is forbidden: User "system:serviceaccount:x:y" cannot list resource "events" in API group "" at the cluster scope`)
	default:
		status(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
	}
}

func TestSourceAgainstFakeAPI(t *testing.T) {
	api := &fakeAPI{accepts: map[string]string{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	src, err := New(&rest.Config{Host: srv.URL}, Options{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	pods, err := src.List(ctx, casebook.KindPod, "shop")
	if err != nil || len(pods) != 2 || pods[1].(*corev1.Pod).Name != "b" {
		t.Errorf("paged pods = %v, %v", pods, err)
	}
	secrets, err := src.List(ctx, casebook.KindSecret, "")
	if err != nil || len(secrets) != 1 {
		t.Fatalf("secrets = %v, %v", secrets, err)
	}
	if p, ok := secrets[0].(*metav1.PartialObjectMetadata); !ok {
		t.Errorf("a Secret comes back as %T", secrets[0])
	} else if want := map[string]string{"kubernetes.io/service-account.name": "web"}; !reflect.DeepEqual(p.Annotations, want) {
		// Annotations that can hold the Secret's data never leave the source.
		t.Errorf("Secret annotations = %v, want %v", p.Annotations, want)
	}
	if a := api.accepts["/api/v1/secrets"]; strings.Contains(a, "application/json,") || strings.HasSuffix(a, ",application/json") {
		t.Errorf("the Secret list still offered plain JSON: %q", a)
	}
	if _, err := src.List(ctx, casebook.KindEvent, ""); !errors.Is(err, casebook.ErrForbidden) ||
		!strings.Contains(err.Error(), "list events in all namespaces") {
		t.Errorf("forbidden events: %v", err)
	}
	if _, err := src.List(ctx, casebook.KindIngress, ""); !errors.Is(err, casebook.ErrNotServed) {
		t.Errorf("unserved ingresses: %v", err)
	}
	for _, r := range api.requests {
		if !strings.HasPrefix(r, "GET ") {
			t.Errorf("sent %s", r)
		}
	}
	if !strings.Contains(strings.Join(api.requests, "\n"), "limit=1") {
		t.Errorf("lists are not paged: %v", api.requests)
	}
}

// prefixed serves api under a path prefix, as Rancher's proxy serves
// downstream clusters under /k8s/clusters/ID.
type prefixed struct {
	prefix string
	api    http.Handler
}

func (p prefixed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, p.prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	r.URL.Path = rest
	p.api.ServeHTTP(w, r)
}

// TestGuardBehindPathPrefix: with the API behind a proxy path, the Secret
// list is still rewritten to metadata only, and a whole Secret list, a
// named Secret and a write are refused before they leave, whatever the
// prefix.
func TestGuardBehindPathPrefix(t *testing.T) {
	for _, prefix := range []string{"/k8s/clusters/c-x", "/api/v1", "/a/b/c/d/e", "/api/v1/namespaces/kube-system/services/https:kubernetes:443/proxy"} {
		t.Run(prefix, func(t *testing.T) {
			api := &fakeAPI{accepts: map[string]string{}}
			srv := httptest.NewServer(prefixed{prefix: prefix, api: api})
			defer srv.Close()
			var sent []*http.Request
			src, err := New(&rest.Config{Host: srv.URL + prefix}, Options{WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
				return roundTripFunc(func(r *http.Request) (*http.Response, error) {
					sent = append(sent, r)
					return rt.RoundTrip(r)
				})
			}})
			if err != nil {
				t.Fatal(err)
			}
			secrets, err := src.List(context.Background(), casebook.KindSecret, "")
			if err != nil || len(secrets) != 1 {
				t.Fatalf("secrets = %v, %v", secrets, err)
			}
			if a := api.accepts["/api/v1/secrets"]; !metadataOnly(a) {
				t.Errorf("the Secret list behind %s asked for %q", prefix, a)
			}
			guard := ReadOnlyAt(prefix)(roundTripFunc(func(r *http.Request) (*http.Response, error) {
				t.Errorf("%s %s went through the guard (Accept %q)", r.Method, r.URL.Path, r.Header.Get("Accept"))
				return nil, errors.New("sent")
			}))
			for _, tc := range []struct{ method, path, accept string }{
				{"GET", "/api/v1/secrets", "application/json"},
				{"GET", "/api/v1/namespaces/shop/secrets", "application/json;as=Table;g=meta.k8s.io;v=v1"},
				{"GET", "/api/v1/namespaces/shop/secrets/db", "application/json"},
				{"GET", "/api/v1/watch/namespaces/shop/secrets", "application/json"},
				{"DELETE", "/api/v1/namespaces/shop/pods/web", "application/json"},
			} {
				req, _ := http.NewRequest(tc.method, srv.URL+prefix+tc.path, nil)
				req.Header.Set("Accept", tc.accept)
				if _, err := guard.RoundTrip(req); err == nil {
					t.Errorf("%s %s%s (Accept %s) was let through", tc.method, prefix, tc.path, tc.accept)
				}
			}
			// A request outside the configured prefix is refused too.
			req, _ := http.NewRequest("GET", srv.URL+"/elsewhere/api/v1/pods", nil)
			if _, err := guard.RoundTrip(req); err == nil {
				t.Errorf("a request outside %s was let through", prefix)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestScopeLimitsAllNamespaces: with a namespace, AllNamespaces lists read
// only it.
func TestScopeLimitsAllNamespaces(t *testing.T) {
	api := &fakeAPI{accepts: map[string]string{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	src, err := New(&rest.Config{Host: srv.URL}, Options{Namespace: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if pods, err := src.List(context.Background(), casebook.KindPod, casebook.AllNamespaces); err != nil || len(pods) != 2 {
		t.Errorf("pods = %d, %v", len(pods), err)
	}
}
