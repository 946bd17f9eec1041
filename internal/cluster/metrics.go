package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	casebook "github.com/casebook-dev/casebook"
)

// KindServerMetrics is the kind a snapshot keeps the API server's own
// metrics and readiness as (apiVersion casebook.dev/v1alpha1, name
// "apiserver"): the text of GET /metrics and GET /readyz?verbose.
const KindServerMetrics casebook.Kind = "ServerMetrics.casebook.dev"

// MetricsReader is a source that can read the API server's own endpoints
// (a live cluster): GET /metrics and GET /readyz?verbose.
type MetricsReader interface {
	ServerMetrics(ctx context.Context) (metrics, readyz string, err error)
}

// Metrics is what the API server says about itself.
type Metrics struct {
	// Families are the parsed metrics by name; nil when unavailable.
	Families map[string]*dto.MetricFamily
	// Text and Readyz are the raw texts, as a snapshot keeps them.
	Text, Readyz string
	Available    bool
	Why          string
	Err          error
}

// Metrics returns the API server's metrics, read once per run: live when
// the source can (a 403 is a warning, not a failure), else the snapshot's
// ServerMetrics object.
func (s *State) Metrics() *Metrics {
	return s.metrics.get(func() *Metrics {
		if r, ok := as[MetricsReader](s.src); ok {
			text, ready, err := r.ServerMetrics(s.ctx)
			m := ParseMetrics(text, ready)
			if err != nil {
				m.Err = errors.Join(m.Err, err)
				if text == "" {
					m.Available = false
					m.Why = "GET /metrics failed: " + err.Error()
				}
			}
			return m
		}
		objs, err := s.src.List(s.ctx, KindServerMetrics, casebook.AllNamespaces)
		if err != nil || len(objs) == 0 {
			return &Metrics{Why: "the snapshot holds no API server metrics (collect them with casebook collect)"}
		}
		u, ok := objs[0].(*unstructured.Unstructured)
		if !ok {
			return &Metrics{Why: fmt.Sprintf("ServerMetrics object of type %T", objs[0])}
		}
		text, _ := u.Object["metrics"].(string)
		ready, _ := u.Object["readyz"].(string)
		return ParseMetrics(text, ready)
	})
}

// ParseMetrics parses the text of GET /metrics with the Prometheus text
// parser.
func ParseMetrics(text, readyz string) *Metrics {
	m := &Metrics{Text: text, Readyz: readyz}
	if strings.TrimSpace(text) == "" {
		m.Why = "no metrics text"
		return m
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil && len(fams) == 0 {
		m.Why = "the metrics text does not parse: " + err.Error()
		m.Err = err
		return m
	}
	m.Families, m.Available = fams, true
	m.Why = fmt.Sprintf("%d metric families from the API server", len(fams))
	if err != nil {
		m.Err = fmt.Errorf("metrics parsed in part: %w", err)
	}
	return m
}

// MetricsObject is the object a snapshot keeps the metrics as.
func MetricsObject(text, readyz string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": LogAPIVersion,
		"kind":       "ServerMetrics",
		"metadata":   map[string]any{"name": "apiserver"},
		"metrics":    text,
		"readyz":     readyz,
	}}
}

// Label returns a metric's label value.
func Label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// MetricFamiliesRead are the metric families detectors read; a snapshot
// keeps these and no others (the full text runs to megabytes on a large
// cluster, and holds nothing else casebook uses).
var MetricFamiliesRead = []string{
	"apiserver_current_inflight_requests",
	"apiserver_request_duration_seconds",
	"etcd_request_duration_seconds",
	"apiserver_storage_objects",
	"apiserver_resource_objects",
}

// FilterMetrics keeps the lines of a metrics text that belong to
// MetricFamiliesRead (their samples and their # HELP and # TYPE lines).
func FilterMetrics(text string) string {
	var b strings.Builder
	for ln := range strings.SplitSeq(text, "\n") {
		name := ln
		if rest, ok := strings.CutPrefix(ln, "# HELP "); ok {
			name = rest
		} else if rest, ok := strings.CutPrefix(ln, "# TYPE "); ok {
			name = rest
		}
		if i := strings.IndexAny(name, "{ "); i >= 0 {
			name = name[:i]
		}
		for _, f := range MetricFamiliesRead {
			if name == f || name == f+"_bucket" || name == f+"_sum" || name == f+"_count" {
				b.WriteString(ln)
				b.WriteByte('\n')
				break
			}
		}
	}
	return b.String()
}
