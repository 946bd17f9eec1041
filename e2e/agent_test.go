package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/casebook-dev/casebook/internal/cli"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// agentRules are the rules of the ClusterRole deploy/casebook-agent.yaml
// gives the agent.
func agentRules(t *testing.T) []rbacv1.PolicyRule {
	t.Helper()
	raw, err := os.ReadFile("../deploy/casebook-agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var role rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &role); err != nil {
			t.Fatal(err)
		}
		if role.Kind == "ClusterRole" {
			return role.Rules
		}
	}
	t.Fatal("no ClusterRole in deploy/casebook-agent.yaml")
	return nil
}

// TestAgentLive runs `casebook agent` against the API server with exactly
// the permissions of deploy/casebook-agent.yaml: it must become ready,
// re-diagnose on its interval, and export on /metrics the findings the
// snapshot has, with no warning (the role lets it read all it needs) and
// no error.
func TestAgentLive(t *testing.T) {
	c := connect(t)
	dir := "../examples/edge-cluster"
	// The role first: the example's Gatekeeper webhook fails closed and
	// would refuse the namespace of the ServiceAccount.
	kc := writeKubeconfig(t, c.readerConfig(t, "agent", agentRules(t)))
	c.load(t, dir)
	snap, err := snapshot.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := diagnose(t, snap, library(t))
	wantCounts := map[string]float64{}
	for _, f := range want.Findings {
		wantCounts[f.CaseID+"/"+string(f.Severity)]++
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ios, _, _, errOut := cli.TestStreams()
	done := make(chan int, 1)
	go func() {
		f := &cli.Factory{IO: ios, DetectedCases: detectors.IDs}
		done <- cli.Run(ctx, f, []string{"agent", "--kubeconfig", kc, "--addr", addr, "--interval", "2s",
			// This API server has no kubelet to answer for logs (its log
			// path is TestLiveLogsAndMetrics').
			"--logs=false"})
	}()
	base := "http://" + addr
	get := func(path string) (int, []byte, error) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	metrics := func() map[string]*dto.MetricFamily {
		code, body, err := get("/metrics")
		if err != nil || code != http.StatusOK {
			t.Fatalf("/metrics: %d %v", code, err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics: %v\n%s", err, body)
		}
		return mfs
	}
	single := func(mfs map[string]*dto.MetricFamily, name string) float64 {
		mf := mfs[name]
		if mf == nil || len(mf.Metric) != 1 {
			t.Fatalf("metric %s: %v", name, mf)
		}
		m := mf.Metric[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
		return -1
	}

	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case code := <-done:
			t.Fatalf("the agent exited %d:\n%s", code, errOut)
		default:
		}
		code, body, err := get("/readyz")
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s %v\nstderr:\n%s", code, body, err, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// One interval later the cluster has been diagnosed again.
	var mfs map[string]*dto.MetricFamily
	for {
		mfs = metrics()
		if single(mfs, "casebook_diagnose_runs_total") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no second diagnosis at --interval 2s\nstderr:\n%s", errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v := single(mfs, "casebook_diagnose_errors_total"); v != 0 {
		t.Errorf("casebook_diagnose_errors_total %v\nstderr:\n%s", v, errOut)
	}
	if v := single(mfs, "casebook_diagnose_warnings"); v != 0 {
		t.Errorf("casebook_diagnose_warnings %v: the manifest's ClusterRole does not let the agent read all it needs\nstderr:\n%s", v, errOut)
	}
	if v := single(mfs, "casebook_last_diagnose_timestamp_seconds"); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("casebook_last_diagnose_timestamp_seconds %v is not recent", v)
	}
	got := map[string]float64{}
	for _, m := range mfs["casebook_findings"].GetMetric() {
		var cs, sev string
		for _, l := range m.GetLabel() {
			if l.GetName() == "case" {
				cs = l.GetValue()
			} else if l.GetName() == "severity" {
				sev = l.GetValue()
			}
		}
		if v := m.GetGauge().GetValue(); v != 0 {
			got[cs+"/"+sev] = v
		}
	}
	if toJSON(got) != toJSON(wantCounts) {
		t.Errorf("casebook_findings (non-zero) %s, want the snapshot's %s", toJSON(got), toJSON(wantCounts))
	}
	code, body, err := get("/api/v1/diagnose")
	if err != nil || code != http.StatusOK || !bytes.Contains(body, []byte("Kubernetes v1.37.2")) {
		t.Errorf("/api/v1/diagnose: %d %v %.300s", code, err, body)
	}

	cancel()
	select {
	case code := <-done:
		if code != cli.ExitOK {
			t.Errorf("the agent exited %d after its context ended:\n%s", code, errOut)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the agent did not stop")
	}
	if _, _, err := get("/healthz"); err == nil {
		t.Error("the agent still serves after it stopped")
	}
}
