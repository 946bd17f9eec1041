package agent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/snapshot"
	"github.com/casebook-dev/casebook/internal/web"
)

var (
	libOnce sync.Once
	lib     *caseload.Library
	libErr  error
)

func library(t *testing.T) *caseload.Library {
	t.Helper()
	libOnce.Do(func() { lib, libErr = caseload.Load(cases.FS(), "cases/") })
	if libErr != nil {
		t.Fatal(libErr)
	}
	return lib
}

// snapshotDiagnoser diagnoses the example cluster, as the agent diagnoses
// a live one.
func snapshotDiagnoser(t *testing.T) (*web.EngineDiagnoser, []Case) {
	t.Helper()
	l := library(t)
	snap, err := snapshot.Load("../../examples/edge-cluster")
	if err != nil {
		t.Fatal(err)
	}
	d := &web.EngineDiagnoser{Library: l, Detectors: detectors.All(), Name: "snapshot edge-cluster", Src: snap}
	var cs []Case
	for _, det := range d.Detectors {
		if c, ok := l.Get(det.CaseID()); ok {
			cs = append(cs, Case{ID: c.ID, Severity: c.Severity})
		}
	}
	return d, cs
}

// server serves the agent as `casebook agent` does: the web UI with the
// agent as its diagnoser, behind the agent's own endpoints.
func server(t *testing.T, a *Agent) *httptest.Server {
	t.Helper()
	ui, err := web.New(web.Options{Library: library(t), CasesFS: cases.FS(), Prefix: "cases/", Diagnoser: a, DiagnoseTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Close() })
	ts := httptest.NewServer(a.Handler(ui.Handler()))
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads /metrics as Prometheus does and parses the text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return mfs
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	mf := mfs[name]
	if mf == nil || len(mf.Metric) != 1 {
		t.Fatalf("metric %s: %v", name, mf)
	}
	m := mf.Metric[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("metric %s has no value", name)
	return 0
}

// findings returns casebook_findings by "case/severity".
func findings(mfs map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	mf := mfs["casebook_findings"]
	if mf == nil {
		return out
	}
	for _, m := range mf.Metric {
		var c, s string
		for _, l := range m.Label {
			switch l.GetName() {
			case "case":
				c = l.GetValue()
			case "severity":
				s = l.GetValue()
			}
		}
		out[c+"/"+s] = m.Gauge.GetValue()
	}
	return out
}

func TestMetricsAfterDiagnosis(t *testing.T) {
	d, cs := snapshotDiagnoser(t)
	a := New(Options{Diagnose: d.Current, Interval: time.Hour, Cases: cs})
	ts := server(t, a)

	if code, body := get(t, ts.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz before the first diagnosis: %d %s", code, body)
	}
	if code, body := get(t, ts.URL+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "still running") {
		t.Errorf("/readyz before the first diagnosis: %d %q, want 503", code, body)
	}
	if code, body := get(t, ts.URL+"/api/v1/diagnose"); code == http.StatusOK {
		t.Errorf("/api/v1/diagnose before the first diagnosis: %d %s", code, body)
	}
	mfs := scrape(t, ts.URL)
	if v := value(t, mfs, "casebook_last_diagnose_timestamp_seconds"); v != 0 {
		t.Errorf("timestamp before the first diagnosis: %v", v)
	}

	before := time.Now()
	if err := a.DiagnoseOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, err := d.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Findings) == 0 {
		t.Fatal("the example has no findings; nothing to check")
	}
	if code, body := get(t, ts.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after a diagnosis: %d %s", code, body)
	}

	mfs = scrape(t, ts.URL)
	wantCounts := map[string]float64{}
	for _, c := range cs {
		wantCounts[c.ID+"/"+string(c.Severity)] = 0
	}
	for _, f := range want.Findings {
		wantCounts[f.CaseID+"/"+string(f.Severity)]++
	}
	got := findings(mfs)
	for k, v := range wantCounts {
		if got[k] != v {
			t.Errorf("casebook_findings{%s} = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(wantCounts) {
		t.Errorf("casebook_findings has %d series, want %d: %v", len(got), len(wantCounts), got)
	}
	if v := value(t, mfs, "casebook_diagnose_warnings"); v != float64(len(want.Warnings)) {
		t.Errorf("warnings %v, want %d", v, len(want.Warnings))
	}
	if v := value(t, mfs, "casebook_diagnose_duration_seconds"); v != 1 {
		t.Errorf("duration histogram count %v, want 1", v)
	}
	if v := value(t, mfs, "casebook_diagnose_errors_total"); v != 0 {
		t.Errorf("errors %v, want 0", v)
	}
	if v := value(t, mfs, "casebook_diagnose_runs_total"); v != 1 {
		t.Errorf("runs %v, want 1", v)
	}
	if ts := value(t, mfs, "casebook_last_diagnose_timestamp_seconds"); ts < float64(before.Unix()) || ts > float64(time.Now().Unix()+1) {
		t.Errorf("timestamp %v, want about now (%d)", ts, before.Unix())
	}
	// The global registry is not used: no Go runtime metrics.
	if mfs["go_goroutines"] != nil {
		t.Error("/metrics exposes the global registry's go_goroutines")
	}

	// The UI and API show the agent's diagnosis.
	code, body := get(t, ts.URL+"/api/v1/diagnose")
	if code != http.StatusOK || !strings.Contains(body, want.Findings[0].CaseID) {
		t.Errorf("/api/v1/diagnose: %d %.300s", code, body)
	}
	if code, body := get(t, ts.URL+"/diagnose"); code != http.StatusOK || !strings.Contains(body, "snapshot edge-cluster") {
		t.Errorf("/diagnose: %d %.300s", code, body)
	}
	if code, _ := get(t, ts.URL+"/cases/"+want.Findings[0].CaseID); code != http.StatusOK {
		t.Errorf("case page: %d", code)
	}
}

// flaky is a diagnosis that succeeds or fails as told.
type flaky struct {
	fail  atomic.Bool
	calls atomic.Int64
}

func (f *flaky) diagnose(context.Context) (*casebook.Report, error) {
	n := f.calls.Add(1)
	if f.fail.Load() {
		return nil, errors.New("cluster at https://10.43.0.1:443 does not answer")
	}
	return &casebook.Report{Source: "cluster test", Findings: []casebook.Finding{
		{CaseID: "K-002", Severity: casebook.SeverityMajor, Message: "run " + string(rune('0'+n))},
		{CaseID: "K-002", Severity: casebook.SeverityMajor, Cause: "other"},
		{CaseID: "N-002", Severity: casebook.SeverityCritical},
	}, Warnings: []casebook.Warning{{Message: "list events: forbidden"}}}, nil
}

func TestFailureKeepsLastGood(t *testing.T) {
	f := &flaky{}
	a := New(Options{Diagnose: f.diagnose, Interval: time.Hour, Cases: []Case{{"K-002", casebook.SeverityMajor}, {"W-001", casebook.SeverityCritical}}})
	ts := server(t, a)
	if err := a.DiagnoseOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	good, _ := a.Current(context.Background())
	stamp := value(t, scrape(t, ts.URL), "casebook_last_diagnose_timestamp_seconds")

	f.fail.Store(true)
	if err := a.DiagnoseOnce(context.Background()); err == nil {
		t.Fatal("the failing diagnosis returned no error")
	}
	mfs := scrape(t, ts.URL)
	if v := value(t, mfs, "casebook_diagnose_errors_total"); v != 1 {
		t.Errorf("errors %v, want 1", v)
	}
	if v := value(t, mfs, "casebook_diagnose_duration_seconds"); v != 2 {
		t.Errorf("duration count %v, want 2 (failed runs are timed too)", v)
	}
	want := map[string]float64{"K-002/major": 2, "N-002/critical": 1, "W-001/critical": 0}
	if got := findings(mfs); len(got) != len(want) || got["K-002/major"] != 2 || got["N-002/critical"] != 1 || got["W-001/critical"] != 0 {
		t.Errorf("findings after a failure %v, want the last good %v", got, want)
	}
	if v := value(t, mfs, "casebook_diagnose_warnings"); v != 1 {
		t.Errorf("warnings %v, want 1", v)
	}
	if v := value(t, mfs, "casebook_last_diagnose_timestamp_seconds"); v != stamp {
		t.Errorf("timestamp moved on a failure: %v, was %v", v, stamp)
	}
	if cur, err := a.Current(context.Background()); err != nil || cur != good {
		t.Errorf("Current after a failure: %v, %v; want the last good diagnosis", cur, err)
	}
	if code, _ := get(t, ts.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after a failure that followed a success: %d, want 200", code)
	}
	if code, body := get(t, ts.URL+"/api/v1/diagnose"); code != http.StatusOK || !strings.Contains(body, "N-002") {
		t.Errorf("/api/v1/diagnose after a failure: %d %.200s", code, body)
	}

	// Recovery replaces the result; a case no longer found drops to 0.
	f.fail.Store(false)
	a.opts.Diagnose = func(context.Context) (*casebook.Report, error) {
		return &casebook.Report{Source: "cluster test"}, nil
	}
	if err := a.DiagnoseOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := findings(scrape(t, ts.URL))
	if got["K-002/major"] != 0 || got["W-001/critical"] != 0 {
		t.Errorf("findings after recovery %v", got)
	}
	if _, ok := got["N-002/critical"]; ok {
		t.Errorf("a case that is not watched and no longer found still has a series: %v", got)
	}
}

func TestFirstFailureNotReady(t *testing.T) {
	f := &flaky{}
	f.fail.Store(true)
	a := New(Options{Diagnose: f.diagnose, Interval: time.Hour})
	ts := server(t, a)
	_ = a.DiagnoseOnce(context.Background())
	code, body := get(t, ts.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "does not answer") {
		t.Errorf("/readyz after a failed first diagnosis: %d %q", code, body)
	}
	if _, err := a.Current(context.Background()); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("Current: %v", err)
	}
	if code, body := get(t, ts.URL+"/api/v1/diagnose"); code != http.StatusBadGateway || !strings.Contains(body, "does not answer") {
		t.Errorf("/api/v1/diagnose: %d %s", code, body)
	}
	if v := value(t, scrape(t, ts.URL), "casebook_diagnose_errors_total"); v != 1 {
		t.Errorf("errors %v, want 1", v)
	}
	if a.Source() != "this cluster" {
		t.Errorf("Source before a good diagnosis: %q", a.Source())
	}
}

func TestRunHonoursInterval(t *testing.T) {
	f := &flaky{}
	const interval = 100 * time.Millisecond
	a := New(Options{Diagnose: f.diagnose, Interval: interval})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.Run(ctx) }()

	// The first diagnosis runs at once.
	for f.calls.Load() == 0 {
		if time.Since(start) > 2*time.Second {
			t.Fatal("no diagnosis at start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ready, err := a.Ready(); !ready {
		// Ready flips right after the run records it.
		time.Sleep(20 * time.Millisecond)
		if ready, err = a.Ready(); !ready {
			t.Errorf("not ready after the first run: %v", err)
		}
	}
	time.Sleep(1050 * time.Millisecond)
	n := f.calls.Load()
	// At start, then every 100ms for about a second: about 11 runs.
	if n < 6 || n > 13 {
		t.Errorf("%d diagnoses in %s at an interval of %s, want about 11", n, time.Since(start).Round(time.Millisecond), interval)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	after := f.calls.Load()
	time.Sleep(3 * interval)
	if f.calls.Load() != after {
		t.Error("diagnoses went on after Run returned")
	}
	if err := New(Options{Diagnose: f.diagnose}).Run(context.Background()); err == nil {
		t.Error("Run without an interval: no error")
	}
}

func TestRunTimeoutCountsAsError(t *testing.T) {
	a := New(Options{Interval: time.Hour, RunTimeout: 20 * time.Millisecond,
		Diagnose: func(ctx context.Context) (*casebook.Report, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}})
	if err := a.DiagnoseOnce(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want a deadline", err)
	}
	if ready, _ := a.Ready(); ready {
		t.Error("ready after a timed-out diagnosis")
	}
	mfs := scrape(t, server(t, a).URL)
	if v := value(t, mfs, "casebook_diagnose_errors_total"); v != 1 {
		t.Errorf("errors %v, want 1", v)
	}

	// A run cut short by shutdown is not a cluster error.
	b := New(Options{Interval: time.Hour, Diagnose: func(ctx context.Context) (*casebook.Report, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_ = b.DiagnoseOnce(ctx)
	if v := value(t, scrape(t, server(t, b).URL), "casebook_diagnose_errors_total"); v != 0 {
		t.Errorf("errors after shutdown %v, want 0", v)
	}
}

func TestUploadsOff(t *testing.T) {
	a := New(Options{Diagnose: (&flaky{}).diagnose, Interval: time.Hour})
	if _, err := a.Snapshot(context.Background(), t.TempDir()); !errors.Is(err, ErrUploadsOff) {
		t.Errorf("Snapshot: %v, want ErrUploadsOff", err)
	}
}
