package detectors

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// Thresholds of K-005 over the API server's own metrics, as the case's
// step 5 states them. The metrics are counters since the server started:
// a share of slow requests is over its whole life, so only a lasting
// slowness crosses them.
const (
	// k005SlowShare is the share of requests slower than k005SlowSeconds
	// that counts as slow, over at least k005MinRequests requests.
	k005SlowShare   = 0.05
	k005SlowSeconds = 1.0
	// k005DatastoreShare is the share of datastore requests
	// (etcd_request_duration_seconds, kine or etcd) slower than 1 s.
	k005DatastoreShare = 0.01
	k005MinRequests    = 100
	// k005InflightShare of the default --max-requests-inflight (400) and
	// --max-mutating-requests-inflight (200).
	k005InflightShare = 0.8
	// k005Objects is the object count of one resource that bloats a
	// kine/SQLite or etcd datastore.
	k005Objects = 100000
)

var k005InflightLimit = map[string]float64{"readOnly": 400, "mutating": 200}

// ControlPlaneHighLoad finds K-005 in the API server's own metrics
// (GET /metrics, /readyz?verbose): slow requests, in-flight requests near
// their limits, a slow datastore, a bloated resource, failing readiness
// checks. The case's signals (etcd's slow-disk lines in events) are found
// by the signal pass.
type ControlPlaneHighLoad struct{}

var (
	_ engine.Detector   = ControlPlaneHighLoad{}
	_ engine.SourceUser = ControlPlaneHighLoad{}
	_ engine.Stepper    = ControlPlaneHighLoad{}
)

// CaseID returns K-005.
func (ControlPlaneHighLoad) CaseID() string { return "K-005" }

// Kinds lists no kind: the detector reads metrics only.
func (ControlPlaneHighLoad) Kinds() []casebook.Kind { return nil }

// EvidenceSources says the detector reads the API server's metrics.
func (ControlPlaneHighLoad) EvidenceSources() []string { return []string{casebook.SourceMetrics} }

// apiServer is the object K-005's metric findings are about: the API
// server's own Service, which every cluster has.
var apiServer = casebook.ObjectRef{Kind: string(casebook.KindService), Namespace: "default", Name: "kubernetes"}

// Detect reads the run's metrics.
func (ControlPlaneHighLoad) Detect(_ context.Context, st *cluster.State) ([]casebook.Finding, error) {
	m := st.Metrics()
	var out []casebook.Finding
	add := func(cause, msg, msgZH string, ev ...casebook.Evidence) {
		out = append(out, casebook.Finding{Cause: cause, Objects: []casebook.ObjectRef{apiServer}, Message: msg, MessageZH: msgZH, Evidence: ev})
	}
	if failing := failingChecks(m.Readyz); len(failing) > 0 {
		var ev []casebook.Evidence
		for _, ln := range failing {
			ev = append(ev, metricEvidence("/readyz?verbose", ln))
		}
		add("readyz-failing", "the API server's readiness checks fail: "+strings.Join(failing, "; "),
			"API server 的就绪检查失败："+strings.Join(failing, "；"), ev...)
	}
	if !m.Available {
		return out, nil
	}
	if slow, total, ok := slowShare(m.Families["apiserver_request_duration_seconds"], k005SlowSeconds, func(mt *dto.Metric) bool {
		v := cluster.Label(mt, "verb")
		return v != "WATCH" && v != "CONNECT"
	}); ok && total >= k005MinRequests && slow/total >= k005SlowShare {
		add("apiserver-latency",
			fmt.Sprintf("%.1f%% of the API server's %d requests (WATCH and CONNECT aside) took longer than %gs (threshold %.0f%%)", 100*slow/total, int64(total), k005SlowSeconds, 100*k005SlowShare),
			fmt.Sprintf("API server 的 %d 个请求（不含 WATCH、CONNECT）中 %.1f%% 超过 %g 秒（阈值 %.0f%%）", int64(total), 100*slow/total, k005SlowSeconds, 100*k005SlowShare),
			metricEvidence("apiserver_request_duration_seconds", fmt.Sprintf("%d of %d requests above le=\"%g\"", int64(slow), int64(total), k005SlowSeconds)))
	}
	if slow, total, ok := slowShare(m.Families["etcd_request_duration_seconds"], 1, nil); ok && total >= k005MinRequests && slow/total >= k005DatastoreShare {
		add("datastore-latency",
			fmt.Sprintf("%.1f%% of the API server's %d datastore requests (kine or etcd) took longer than 1s (threshold %.0f%%)", 100*slow/total, int64(total), 100*k005DatastoreShare),
			fmt.Sprintf("API server 对数据存储（kine 或 etcd）的 %d 个请求中 %.1f%% 超过 1 秒（阈值 %.0f%%）", int64(total), 100*slow/total, 100*k005DatastoreShare),
			metricEvidence("etcd_request_duration_seconds", fmt.Sprintf("%d of %d requests above le=\"1\"", int64(slow), int64(total))))
	}
	if f := m.Families["apiserver_current_inflight_requests"]; f != nil {
		for _, mt := range f.GetMetric() {
			kind := cluster.Label(mt, "request_kind")
			limit, ok := k005InflightLimit[kind]
			v := mt.GetGauge().GetValue()
			if ok && v >= k005InflightShare*limit {
				add("apiserver-inflight",
					fmt.Sprintf("%.0f %s requests in flight, %.0f%% of the default limit of %.0f", v, kind, 100*v/limit, limit),
					fmt.Sprintf("%.0f 个 %s 请求正在处理，达到默认上限 %.0f 的 %.0f%%", v, kind, limit, 100*v/limit),
					metricEvidence("apiserver_current_inflight_requests", fmt.Sprintf("apiserver_current_inflight_requests{request_kind=%q} %.0f", kind, v)))
			}
		}
	}
	for _, name := range []string{"apiserver_resource_objects", "apiserver_storage_objects"} {
		f := m.Families[name]
		if f == nil {
			continue
		}
		type count struct {
			resource string
			n        float64
		}
		var big []count
		for _, mt := range f.GetMetric() {
			if v := mt.GetGauge().GetValue(); v >= k005Objects {
				big = append(big, count{cluster.Label(mt, "resource"), v})
			}
		}
		sort.Slice(big, func(i, j int) bool { return big[i].n > big[j].n })
		for _, b := range big {
			add("datastore-bloat",
				fmt.Sprintf("the datastore holds %.0f %s (threshold %d of one resource)", b.n, b.resource, k005Objects),
				fmt.Sprintf("数据存储中有 %.0f 个 %s（阈值：单一资源 %d 个）", b.n, b.resource, k005Objects),
				metricEvidence(name, fmt.Sprintf("%s{resource=%q} %.0f", name, b.resource, b.n)))
		}
		break
	}
	return out, nil
}

// NextSteps reads the same metrics by hand (the case's step 5).
func (ControlPlaneHighLoad) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	cmd := map[string]string{
		"readyz-failing":     "kubectl get --raw '/readyz?verbose'",
		"apiserver-latency":  "kubectl get --raw /metrics | grep -E '^apiserver_request_duration_seconds_(sum|count)'",
		"datastore-latency":  "kubectl get --raw /metrics | grep -E '^etcd_request_duration_seconds_(sum|count)'",
		"apiserver-inflight": "kubectl get --raw /metrics | grep -E '^apiserver_current_inflight_requests'",
		"datastore-bloat":    "kubectl get --raw /metrics | grep -E '^apiserver_(storage|resource)_objects' | sort -k2 -g | tail -8",
	}[f.Cause]
	if cmd == "" {
		return nil
	}
	// Which servers answer for the API: the metrics are of the one that
	// answered casebook.
	servers := "kubectl get endpointslices -n %ns% -l kubernetes.io/service-name=%name% -o wide"
	return []engine.StepTemplate{{Step: 5, Kind: casebook.KindService, Cmd: cmd}, {Step: 5, Kind: casebook.KindService, Cmd: servers}}
}

func metricEvidence(field, text string) casebook.Evidence {
	return casebook.Evidence{Object: apiServer, Field: "metrics " + field, Text: text}
}

// failingChecks returns the failed checks of /readyz?verbose ("[-]etcd failed: reason withheld").
func failingChecks(readyz string) []string {
	var out []string
	for _, ln := range strings.Split(readyz, "\n") {
		if ln = strings.TrimSpace(ln); strings.HasPrefix(ln, "[-]") {
			out = append(out, ln)
		}
	}
	return out
}

// slowShare sums a histogram's requests above le and in all, over the
// series keep accepts (nil: all).
func slowShare(f *dto.MetricFamily, le float64, keep func(*dto.Metric) bool) (slow, total float64, ok bool) {
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
		return 0, 0, false
	}
	for _, mt := range f.GetMetric() {
		if keep != nil && !keep(mt) {
			continue
		}
		h := mt.GetHistogram()
		n := float64(h.GetSampleCount())
		under := math.NaN()
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == le {
				under = float64(b.GetCumulativeCount())
			}
		}
		if math.IsNaN(under) {
			continue // no bucket at le: this series cannot tell
		}
		total += n
		slow += n - under
		ok = true
	}
	return slow, total, ok
}
