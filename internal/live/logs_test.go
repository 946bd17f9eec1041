package live

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// TestGuardSubresources: of the core API's subresources the guard lets
// exactly GET …/pods/NAME/log through, unfollowed, behind any prefix.
func TestGuardSubresources(t *testing.T) {
	for _, tc := range []struct {
		prefix, path, upgrade string
		ok                    bool
	}{
		{"", "/api/v1/namespaces/shop/pods/web-0/log?container=app&tailLines=300&limitBytes=65536", "", true},
		{"", "/api/v1/namespaces/shop/pods/web-0/log?previous=true&follow=false", "", true},
		{"", "/api/v1/namespaces/shop/pods/web-0/log?follow=true", "", false},
		{"", "/api/v1/namespaces/shop/pods/web-0/exec?command=sh", "", false},
		{"", "/api/v1/namespaces/shop/pods/web-0/attach", "", false},
		{"", "/api/v1/namespaces/shop/pods/web-0/portforward", "", false},
		{"", "/api/v1/namespaces/shop/pods/web-0/proxy/metrics", "", false},
		{"", "/api/v1/namespaces/shop/pods/web-0/status", "", false},
		{"", "/api/v1/namespaces/shop/pods/web-0/log/extra", "", false},
		{"", "/api/v1/namespaces/shop/services/web/proxy/", "", false},
		{"", "/api/v1/nodes/edge-01/proxy/metrics", "", false},
		{"", "/api/v1/proxy/nodes/edge-01/", "", false},
		{"", "/api/v1/namespaces/shop/pods/web-0", "websocket", false},
		{"", "/api/v1/nodes/edge-01/status", "", true},
		{"", "/metrics", "", true},
		{"", "/readyz?verbose", "", true},
		{"/api/v1/namespaces/kube-system/services/https:kubernetes:443/proxy", "/api/v1/namespaces/shop/pods/web-0/log?tailLines=1", "", true},
		{"/api/v1/namespaces/kube-system/services/https:kubernetes:443/proxy", "/api/v1/namespaces/shop/pods/web-0/exec", "", false},
	} {
		var sent bool
		guard := ReadOnlyAt(tc.prefix)(roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = true
			return nil, errors.New("sent")
		}))
		req, _ := http.NewRequest("GET", "https://127.0.0.1:6443"+tc.prefix+tc.path, nil)
		if tc.upgrade != "" {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", tc.upgrade)
		}
		_, _ = guard.RoundTrip(req)
		if sent != tc.ok {
			t.Errorf("GET %s%s (Upgrade %q): sent = %v, want %v", tc.prefix, tc.path, tc.upgrade, sent, tc.ok)
		}
	}
}

// TestContainerLogRequest: the source asks for a bounded tail of the
// container's current or previous run, and a 403 comes back as forbidden.
func TestContainerLogRequest(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		switch {
		case strings.Contains(r.URL.Path, "/pods/denied/"):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"pods \"denied\" is forbidden"}`))
		case r.URL.Path == "/metrics":
			_, _ = w.Write([]byte("# TYPE apiserver_current_inflight_requests gauge\napiserver_current_inflight_requests{request_kind=\"readOnly\"} 3\n"))
		case r.URL.Path == "/readyz":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n"))
		default:
			_, _ = w.Write([]byte("line 1\nError: Capabilities insufficient (os error 76)\n"))
		}
	}))
	defer srv.Close()
	src, err := New(&rest.Config{Host: srv.URL}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	text, err := src.ContainerLog(context.Background(), cluster.LogRequest{Namespace: "shop", Pod: "web-0", Container: "app", Previous: true, TailLines: 300, LimitBytes: 65536})
	if err != nil || !strings.Contains(text, "os error 76") {
		t.Fatalf("log = %q, %v", text, err)
	}
	if want := "GET /api/v1/namespaces/shop/pods/web-0/log?container=app&limitBytes=65536&previous=true&tailLines=300&timeout=30s"; got[0] != want {
		t.Errorf("request = %s, want %s", got[0], want)
	}
	_, err = src.ContainerLog(context.Background(), cluster.LogRequest{Namespace: "shop", Pod: "denied", Container: "app"})
	if !errors.Is(err, casebook.ErrForbidden) {
		t.Errorf("403: err = %v, want forbidden", err)
	}
	metrics, readyz, err := src.ServerMetrics(context.Background())
	if err != nil || !strings.Contains(metrics, "inflight") || !strings.Contains(readyz, "[-]etcd failed") {
		t.Errorf("metrics = %q, readyz = %q, err = %v", metrics, readyz, err)
	}
}
