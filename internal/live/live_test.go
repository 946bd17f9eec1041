package live

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
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
	} {
		req, _ := http.NewRequest(tc.method, "https://127.0.0.1:6443"+tc.path, nil)
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
				ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "shop"}}}})
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
	if _, ok := secrets[0].(*metav1.PartialObjectMetadata); !ok {
		t.Errorf("a Secret comes back as %T", secrets[0])
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
