package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestReproduceDryRunAndUsage(t *testing.T) {
	code, out, errOut := run(t, "reproduce", "k-002", "--dry-run")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"create Namespace casebook-lab-k-002", "broken: apply Deployment web", "fix: apply Deployment web", "dry run: nothing was sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := run(t, "reproduce", "W-004", "--dry-run"); code != ExitUsage || !strings.Contains(errOut, "has no reproduction") {
		t.Errorf("a case without reproduction: exit %d, %s", code, errOut)
	}
	if code, out, _ := run(t, "show", "K-002"); code != ExitOK || !strings.Contains(out, "casebook reproduce K-002") {
		t.Errorf("show K-002 does not mention its reproduction:\n%s", out)
	}
	if _, out, _ := run(t, "show", "W-004"); strings.Contains(out, "casebook reproduce") {
		t.Errorf("show W-004 mentions a reproduction it does not have")
	}
}

// fakeCluster answers the reads reproduce makes before it asks, with
// nodes nodes, and records every request.
func fakeCluster(t *testing.T, nodes int) (kubeconfig string, requests func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/nodes":
			var items []string
			for i := 0; i < nodes; i++ {
				items = append(items, fmt.Sprintf(`{"metadata":{"name":"n%d"}}`, i))
			}
			fmt.Fprintf(w, `{"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[%s]}`, strings.Join(items, ","))
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
		}
	}))
	t.Cleanup(srv.Close)
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	data := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: %q}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: lab\n  context: {cluster: c, user: u}\ncurrent-context: lab\n", srv.URL)
	if err := os.WriteFile(kc, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// TestReproduceRefuses: without a yes, and on a cluster too large for a
// lab, reproduce sends nothing but reads.
func TestReproduceRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nodes  int
		answer string
		args   []string
		want   string
	}{
		{"no answer", 3, "", nil, "not confirmed"},
		{"answered no", 3, "no\n", nil, "not confirmed"},
		{"too many nodes", 6, "yes\n", nil, "the cluster has 6 nodes, more than 5"},
		{"too many nodes for --max-nodes", 3, "yes\n", []string{"--max-nodes", "2"}, "more than 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, requests := fakeCluster(t, tc.nodes)
			io, in, out, errOut := TestStreams()
			in.WriteString(tc.answer)
			f := &Factory{IO: io}
			code := Run(context.Background(), f, append([]string{"reproduce", "K-002", "--kubeconfig", kc}, tc.args...))
			if code != ExitError || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q, want %q; stdout:\n%s", code, errOut.String(), tc.want, out.String())
			}
			for _, r := range requests() {
				if !strings.HasPrefix(r, "GET ") {
					t.Errorf("a refused run sent %s", r)
				}
			}
		})
	}
}
