// Package agent keeps watching a cluster: it re-diagnoses it on an
// interval, keeps the last good diagnosis for the web UI and API, and
// exposes what it found as Prometheus metrics, with health and readiness
// endpoints for the kubelet. It is the engine of `casebook agent`.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	casebook "github.com/casebook-dev/casebook"
)

// Case is a case the agent reports on even when it finds nothing, so that
// casebook_findings{case=...} is 0 rather than absent.
type Case struct {
	ID       string
	Severity casebook.Severity
}

// Options configure an Agent.
type Options struct {
	// Diagnose runs one diagnosis of the cluster. It is called once per
	// interval, never concurrently with itself.
	Diagnose func(ctx context.Context) (*casebook.Report, error)
	// Name names the source before the first diagnosis ("this cluster");
	// afterwards the last diagnosis's Source is shown.
	Name string
	// Interval is the time between the starts of two diagnoses.
	Interval time.Duration
	// RunTimeout bounds one diagnosis; 0 means no bound beyond the context.
	RunTimeout time.Duration
	// Cases are reported with 0 findings when nothing is found.
	Cases []Case
	// Uploads diagnoses uploaded snapshots; nil refuses uploads.
	Uploads func(ctx context.Context, dir string) (*casebook.Report, error)
	// Log receives a line per diagnosis; nil discards them.
	Log io.Writer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Agent is the web UI's diagnoser (it satisfies web.Diagnoser, checked
// where the two are wired together) whose Current is the last good
// diagnosis of the cluster, refreshed by Run. It is safe for concurrent use.
type Agent struct {
	opts Options
	reg  *prometheus.Registry

	findings *prometheus.GaugeVec
	duration prometheus.Histogram
	warnings prometheus.Gauge
	lastTime prometheus.Gauge
	errs     prometheus.Counter
	runs     prometheus.Counter

	mu      sync.RWMutex
	last    *casebook.Report // last good diagnosis
	lastErr error            // error of the latest run, nil if it succeeded
	done    chan struct{}    // closed after the first run, good or not
	once    sync.Once
}

// ErrNotYet is what Current returns before the first diagnosis ends.
var ErrNotYet = errors.New("the agent's first diagnosis of the cluster is still running; reload in a moment")

// ErrUploadsOff is what Snapshot returns when uploads are not enabled.
var ErrUploadsOff = errors.New("this agent diagnoses only its own cluster; run `casebook serve` to diagnose snapshots")

// New returns an agent; Run starts its loop. Its metrics live in a
// registry of their own (see Registry), not in Prometheus's global one.
func New(opts Options) *Agent {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Name == "" {
		opts.Name = "this cluster"
	}
	a := &Agent{opts: opts, reg: prometheus.NewRegistry(), done: make(chan struct{})}
	a.findings = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "casebook_findings",
		Help: "Findings of the last successful diagnosis, by case and the case's severity.",
	}, []string{"case", "severity"})
	a.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "casebook_diagnose_duration_seconds",
		Help:    "How long a diagnosis of the cluster took, successful or not.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	})
	a.warnings = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "casebook_diagnose_warnings",
		Help: "Warnings of the last successful diagnosis: kinds that could not be read, detectors that failed.",
	})
	a.lastTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "casebook_last_diagnose_timestamp_seconds",
		Help: "Unix time the last successful diagnosis ended; 0 before the first.",
	})
	a.errs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "casebook_diagnose_errors_total",
		Help: "Diagnoses that failed (cluster unreachable, timed out); the last good result is kept.",
	})
	a.runs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "casebook_diagnose_runs_total",
		Help: "Diagnoses run, successful or not.",
	})
	a.reg.MustRegister(a.findings, a.duration, a.warnings, a.lastTime, a.errs, a.runs)
	for _, c := range opts.Cases {
		a.findings.WithLabelValues(c.ID, string(c.Severity)).Set(0)
	}
	return a
}

// Registry is the agent's metrics registry.
func (a *Agent) Registry() *prometheus.Registry { return a.reg }

// Run diagnoses the cluster at once and then every interval until ctx is
// done. It returns nil when ctx ends: a failing diagnosis is counted and
// logged, never fatal.
func (a *Agent) Run(ctx context.Context) error {
	if a.opts.Interval <= 0 {
		return fmt.Errorf("agent: interval must be positive, got %s", a.opts.Interval)
	}
	t := time.NewTicker(a.opts.Interval)
	defer t.Stop()
	for {
		_ = a.DiagnoseOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// DiagnoseOnce runs one diagnosis and records it: on success it becomes
// the current diagnosis and sets the gauges; on failure the error counter
// goes up and the last good diagnosis stays.
func (a *Agent) DiagnoseOnce(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if a.opts.RunTimeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, a.opts.RunTimeout)
	}
	defer cancel()
	start := a.opts.Now()
	d, err := a.opts.Diagnose(runCtx)
	if err == nil && d == nil {
		err = errors.New("the diagnosis returned nothing")
	}
	end := a.opts.Now()
	if ctx.Err() != nil {
		// Shutting down: a run cut short is not a failure of the cluster.
		return ctx.Err()
	}
	a.runs.Inc()
	a.duration.Observe(end.Sub(start).Seconds())
	if err != nil {
		a.errs.Inc()
		a.mu.Lock()
		a.lastErr = err
		a.mu.Unlock()
		a.once.Do(func() { close(a.done) })
		fmt.Fprintf(a.opts.Log, "casebook agent: diagnosis failed after %s: %v\n", end.Sub(start).Round(time.Millisecond), err)
		return err
	}
	if d.Time.IsZero() {
		d.Time = end
	}
	counts := map[[2]string]int{}
	for _, c := range a.opts.Cases {
		counts[[2]string{c.ID, string(c.Severity)}] = 0
	}
	for _, f := range d.Findings {
		counts[[2]string{f.CaseID, string(f.Severity)}]++
	}
	a.mu.Lock()
	a.findings.Reset()
	for k, n := range counts {
		a.findings.WithLabelValues(k[0], k[1]).Set(float64(n))
	}
	a.warnings.Set(float64(len(d.Warnings)))
	a.lastTime.Set(float64(d.Time.UnixNano()) / 1e9)
	a.last, a.lastErr = d, nil
	a.mu.Unlock()
	a.once.Do(func() { close(a.done) })
	fmt.Fprintf(a.opts.Log, "casebook agent: diagnosed %s in %s: %d findings, %d warnings\n",
		d.Source, end.Sub(start).Round(time.Millisecond), len(d.Findings), len(d.Warnings))
	return nil
}

// Ready reports whether a diagnosis has succeeded, and if not, why.
func (a *Agent) Ready() (bool, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.last != nil {
		return true, nil
	}
	if a.lastErr != nil {
		return false, a.lastErr
	}
	return false, ErrNotYet
}

// Source names the cluster, for the web UI.
func (a *Agent) Source() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.last != nil && a.last.Source != "" {
		return a.last.Source
	}
	return a.opts.Name
}

// Current returns the last good diagnosis without reading the cluster, so
// readers of the UI and API never add load to it. Before the first
// diagnosis it fails with ErrNotYet, or with the first run's error.
func (a *Agent) Current(context.Context) (*casebook.Report, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.last != nil {
		return a.last, nil
	}
	if a.lastErr != nil {
		return nil, a.lastErr
	}
	return nil, ErrNotYet
}

// Snapshot diagnoses an uploaded snapshot when uploads are enabled.
func (a *Agent) Snapshot(ctx context.Context, dir string) (*casebook.Report, error) {
	if a.opts.Uploads == nil {
		return nil, ErrUploadsOff
	}
	return a.opts.Uploads(ctx, dir)
}

// Handler serves /metrics, /healthz and /readyz, and everything else with
// ui (the casebook web UI).
func (a *Agent) Handler(ui http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ok, err := a.Ready(); !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", ui)
	return mux
}
