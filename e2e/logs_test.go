package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	casebook "github.com/casebook-dev/casebook"
	cstate "github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/live"
)

// TestLiveLogsAndMetrics reads container logs and the API server's
// metrics from the real API server, with exactly the agent's ClusterRole
// and with that role less its pods/log and /metrics rules.
//
// What it proves: the log requests are exactly GET …/pods/NAME/log with
// tailLines and limitBytes, for exactly the troubled pods and Gatekeeper's,
// through the guard; with the role's pods/log rule the API server
// authorizes them (the answer is not 403; it then fails to reach a kubelet,
// as there is none), without it they are forbidden and the report says
// logs were unavailable and why; /metrics is read and parsed with the rule
// and forbidden without; everything else still works. What it cannot
// prove: a log text from a real kubelet (this API server has none) — the
// matching over log text is proven on snapshot tails (testdata/LOGS).
func TestLiveLogsAndMetrics(t *testing.T) {
	c := connect(t)
	dir := withoutLogs(t, "../internal/detectors/testdata/LOGS/broken")
	c.load(t, dir)
	lib := library(t)
	rules := agentRules(t)
	ctx := context.Background()

	run := func(t *testing.T, name string, rules []rbacv1.PolicyRule, logs cstate.LogOptions) (*engine.Result, *recorder) {
		rec := &recorder{}
		src, err := live.New(c.readerConfig(t, name, rules), live.Options{WrapTransport: rec.wrap})
		if err != nil {
			t.Fatal(err)
		}
		res, err := engine.Run(ctx, src, detectors.Set(lib.Cases), engine.Options{Case: lib.Get, Logs: logs})
		if err != nil {
			t.Fatal(err)
		}
		rec.check(t)
		return res, rec
	}
	logRequests := func(rec *recorder) []string {
		var out []string
		for _, r := range rec.requests {
			if strings.HasSuffix(r, "/log") {
				out = append(out, r)
			}
		}
		slices.Sort(out)
		return out
	}
	source := func(res *engine.Result, id, name string) casebook.EvidenceSource {
		for _, cs := range res.Sources {
			if cs.CaseID != id {
				continue
			}
			for _, s := range cs.Sources {
				if s.Source == name {
					return s
				}
			}
		}
		t.Fatalf("no %s source for %s in %+v", name, id, res.Sources)
		return casebook.EvidenceSource{}
	}
	wantLogs := []string{
		"GET /api/v1/namespaces/gatekeeper-system/pods/gatekeeper-audit-6d8f9c7b5-r2t4v/log",
		"GET /api/v1/namespaces/kube-system/pods/local-path-provisioner-5cf85fd84d-q7xtw/log",
		"GET /api/v1/namespaces/sensors/pods/csv-export-7c9d5b8f6-x2k4p/log",
		"GET /api/v1/namespaces/sensors/pods/csv-import-5d8f7b6c9-q8w3e/log",
	}

	t.Run("agent role", func(t *testing.T) {
		res, rec := run(t, "logs-agent", rules, cstate.LogOptions{})
		if got := slices.Compact(logRequests(rec)); !slices.Equal(got, wantLogs) {
			t.Errorf("log requests:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(wantLogs, "\n  "))
		}
		for _, w := range res.Warnings {
			if strings.Contains(w.Message, "forbidden") {
				t.Errorf("the agent's role is not enough: %s", w)
			}
		}
		if m := source(res, "K-005", casebook.SourceMetrics); !m.Available {
			t.Errorf("metrics with the agent's role: %+v", m)
		}
		// The real API server's own metrics parse, and a healthy, idle
		// server crosses none of K-005's thresholds.
		st := cstate.ParseMetrics(metricsText(t, c), "")
		for _, f := range []string{"apiserver_request_duration_seconds", "etcd_request_duration_seconds", "apiserver_current_inflight_requests"} {
			if st.Families[f] == nil {
				t.Errorf("the API server's /metrics has no %s (%d families)", f, len(st.Families))
			}
		}
		for _, f := range res.Findings {
			if f.CaseID == "K-005" {
				t.Errorf("K-005 on a healthy API server: %s %s", f.Cause, f.Message)
			}
		}
		// Authorized, the API server forwarded the request to the pod's
		// kubelet with the bounds intact; there is no kubelet to answer.
		var warned []string
		for _, w := range res.Warnings {
			warned = append(warned, w.String())
		}
		if all := strings.Join(warned, "\n"); !strings.Contains(all, "/containerLogs/sensors/csv-export-7c9d5b8f6-x2k4p/app?limitBytes=65536&previous=true&tailLines=300") {
			t.Errorf("the API server did not forward the log request to the kubelet with its bounds:\n%s", all)
		}
		t.Logf("logs: %+v", source(res, "W-004", casebook.SourceLogs))
		for _, w := range res.Warnings {
			t.Logf("warning: %s", w)
		}
	})

	t.Run("without pods/log and /metrics", func(t *testing.T) {
		var less []rbacv1.PolicyRule
		for _, r := range rules {
			if slices.Contains(r.Resources, "pods/log") || len(r.NonResourceURLs) > 0 {
				continue
			}
			less = append(less, r)
		}
		if len(less) != len(rules)-2 {
			t.Fatalf("the agent's role has no separate pods/log and /metrics rules: %+v", rules)
		}
		res, rec := run(t, "logs-less", less, cstate.LogOptions{})
		if got := slices.Compact(logRequests(rec)); !slices.Equal(got, wantLogs) {
			t.Errorf("log requests: %v", got)
		}
		var warned []string
		for _, w := range res.Warnings {
			warned = append(warned, w.String())
		}
		all := strings.Join(warned, "\n")
		for _, want := range []string{"log of pod sensors/csv-export-7c9d5b8f6-x2k4p container app", "GET /metrics", "forbidden"} {
			if !strings.Contains(all, want) {
				t.Errorf("warnings do not mention %q:\n%s", want, all)
			}
		}
		if l := source(res, "W-004", casebook.SourceLogs); l.Available {
			t.Errorf("logs should be unavailable without pods/log: %+v", l)
		}
		if m := source(res, "K-005", casebook.SourceMetrics); m.Available {
			t.Errorf("metrics should be unavailable without /metrics: %+v", m)
		}
		if o := source(res, "W-004", casebook.SourceObjects); !o.Available {
			t.Errorf("objects: %+v", o)
		}
	})

	t.Run("--logs=false", func(t *testing.T) {
		res, rec := run(t, "logs-off", rules, cstate.LogOptions{Off: true})
		if got := logRequests(rec); len(got) > 0 {
			t.Errorf("--logs=false sent %v", got)
		}
		if l := source(res, "W-004", casebook.SourceLogs); l.Available || !strings.Contains(l.Why, "--logs=false") {
			t.Errorf("logs source: %+v", l)
		}
	})

	t.Run("guard", func(t *testing.T) {
		src, err := live.New(c.readerConfig(t, "logs-agent", rules), live.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.ContainerLog(ctx, cstate.LogRequest{Namespace: "sensors", Pod: "no-such-pod", Container: "app", TailLines: 1, LimitBytes: 100})
		if !errors.Is(err, casebook.ErrNotServed) {
			t.Errorf("log of a missing pod: %v, want not found", err)
		}
	})
}

// withoutLogs copies a fixture without the ContainerLog objects, which a
// cluster does not hold.
func withoutLogs(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if filepath.Base(f) == "logs.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// metricsText reads the API server's /metrics as admin.
func metricsText(t *testing.T, c *cluster) string {
	t.Helper()
	data, err := c.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
