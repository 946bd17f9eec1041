package detectors_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// TestPrometheusDetectors runs a real Prometheus server (Debian's
// prometheus package; scripts/test installs it) on 127.0.0.1, scraping a
// node_exporter and a Gatekeeper of this test's making every second, and
// diagnoses with --prometheus pointing at it: edge-02's SD card (250 ms a
// write) is S-002, edge-03's SSD (2 ms) is not, and Gatekeeper's p99
// (between 1 and 2 s, over half the default timeoutSeconds 3) is O-004.
// Every request casebook sends it is a GET.
func TestPrometheusDetectors(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CASEBOOK_REQUIRE_PROMETHEUS") != "" {
			t.Fatal("CASEBOOK_REQUIRE_PROMETHEUS is set but prometheus is not on PATH (apt-get install prometheus)")
		}
		t.Skip("prometheus not on PATH (scripts/test installs Debian's prometheus)")
	}
	var mu sync.Mutex
	scrapes := 0
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		scrapes++
		n := scrapes
		mu.Unlock()
		var b strings.Builder
		b.WriteString("# TYPE node_disk_write_time_seconds_total counter\n# TYPE node_disk_writes_completed_total counter\n")
		fmt.Fprintf(&b, "node_disk_write_time_seconds_total{device=\"mmcblk0\",node=\"edge-02\"} %g\n", 0.25*100*float64(n))
		fmt.Fprintf(&b, "node_disk_writes_completed_total{device=\"mmcblk0\",node=\"edge-02\"} %d\n", 100*n)
		fmt.Fprintf(&b, "node_disk_write_time_seconds_total{device=\"nvme0n1\",node=\"edge-03\"} %g\n", 0.002*100*float64(n))
		fmt.Fprintf(&b, "node_disk_writes_completed_total{device=\"nvme0n1\",node=\"edge-03\"} %d\n", 100*n)
		b.WriteString("# TYPE gatekeeper_validation_request_duration_seconds histogram\n")
		for _, le := range []string{"0.5", "1"} {
			fmt.Fprintf(&b, "gatekeeper_validation_request_duration_seconds_bucket{admission_status=\"allow\",le=%q} 0\n", le)
		}
		for _, le := range []string{"2", "+Inf"} {
			fmt.Fprintf(&b, "gatekeeper_validation_request_duration_seconds_bucket{admission_status=\"allow\",le=%q} %d\n", le, 10*n)
		}
		fmt.Fprintf(&b, "gatekeeper_validation_request_duration_seconds_sum{admission_status=\"allow\"} %g\n", 1.8*10*float64(n))
		fmt.Fprintf(&b, "gatekeeper_validation_request_duration_seconds_count{admission_status=\"allow\"} %d\n", 10*n)
		_, _ = w.Write([]byte(b.String()))
	}))
	defer target.Close()

	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
- job_name: edge
  metric_relabel_configs:
  # node_exporter runs on each node; the node label stands for the target.
  - source_labels: [node]
    target_label: instance
    regex: (.+)
    replacement: ${1}:9100
  static_configs:
  - targets: [%q]
`, strings.TrimPrefix(target.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()

	var methods []string
	var mmu sync.Mutex
	prom := &cluster.Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Client: &http.Client{Timeout: 10 * time.Second,
		Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			mmu.Lock()
			methods = append(methods, r.Method)
			mmu.Unlock()
			return http.DefaultTransport.RoundTrip(r)
		})}}
	// Wait for rate() to have two samples of each series.
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := prom.Query(ctx, `rate(node_disk_writes_completed_total[5m]) > 0`)
		if err == nil && len(s) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has no rate after 60s: %v %v\n%s", s, err, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Load("testdata/LOGS/fixed")
	if err != nil {
		t.Fatal(err)
	}
	ds := []engine.Detector{detectors.StoragePerformance{}, detectors.GatekeeperLatency{}}
	res, err := engine.Run(ctx, snap, ds, engine.Options{Case: lib.Get, Prometheus: prom})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("warning: %s", w)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.CaseID+" "+f.Cause+" "+f.Objects[0].String())
		t.Logf("%s %s: %s", f.CaseID, f.Cause, f.Message)
	}
	sort.Strings(got)
	want := []string{"O-004 validation-latency ValidatingWebhookConfiguration gatekeeper-validating-webhook-configuration", "S-002 slow-disk Node edge-02"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, m := range methods {
		if m != http.MethodGet {
			t.Errorf("sent a %s to Prometheus", m)
		}
	}

	// Without --prometheus the detectors read nothing and say so.
	res, err = engine.Run(ctx, snap, ds, engine.Options{Case: lib.Get})
	if err != nil || len(res.Findings) != 0 {
		t.Fatalf("without --prometheus: %v, %v", res.Findings, err)
	}
	for _, cs := range res.Sources {
		for _, s := range cs.Sources {
			if s.Source == "prometheus" && (s.Available || s.Why != "no --prometheus URL given") {
				t.Errorf("%s: %+v", cs.CaseID, s)
			}
		}
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
