package cli

import (
	"context"
	"fmt"
	"path"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/redact"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// podsListed serves the pods collect already listed, so that choosing the
// logs to read does not list them again; everything else goes to src.
type podsListed struct {
	casebook.Source
	pods []runtime.Object
}

func (s podsListed) List(ctx context.Context, kind casebook.Kind, ns string) ([]runtime.Object, error) {
	if kind == casebook.KindPod && ns == casebook.AllNamespaces && s.pods != nil {
		return s.pods, nil
	}
	return s.Source.List(ctx, kind, ns)
}

func (s podsListed) Unwrap() casebook.Source { return s.Source }

// collectLogsAndMetrics writes what diagnose reads besides objects: the
// log tails of the pods that crash, restart or are not Ready (the same
// ones, within the same bounds, as a live diagnose), each redacted by the
// secret scanner, as logs/NAMESPACE.yaml; and the API server's metrics
// families the detectors read and its /readyz?verbose, as
// cluster/servermetrics.yaml. What cannot be read goes to warn.
func collectLogsAndMetrics(ctx context.Context, src casebook.Source, pods []runtime.Object, logs bool, w *snapshot.Writer, red *redact.Redactor, warn func(error)) (int, error) {
	st := cluster.New(ctx, podsListed{Source: src, pods: pods})
	st.SetLogOptions(cluster.LogOptions{Off: !logs})
	n := 0
	if logs {
		l := st.Logs()
		if l.Err != nil {
			warn(l.Err)
		}
		byNS := map[string][]any{}
		var order []string
		for _, t := range l.Tails {
			t.Text = red.Text(fmt.Sprintf("Pod %s/%s", t.Namespace, t.Pod), t.Field(), t.Text)
			if byNS[t.Namespace] == nil {
				order = append(order, t.Namespace)
			}
			byNS[t.Namespace] = append(byNS[t.Namespace], cluster.LogObject(t).Object)
		}
		for _, ns := range order {
			if err := writeList(w, path.Join("logs", ns+".yaml"), byNS[ns]); err != nil {
				return n, err
			}
			n += len(byNS[ns])
		}
	}
	m := st.Metrics()
	if m.Err != nil {
		warn(m.Err)
	}
	if m.Text != "" || m.Readyz != "" {
		text := red.Text("ServerMetrics apiserver", "metrics", cluster.FilterMetrics(m.Text))
		ready := red.Text("ServerMetrics apiserver", "readyz", m.Readyz)
		if err := writeList(w, "cluster/servermetrics.yaml", []any{cluster.MetricsObject(text, ready).Object}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func writeList(w *snapshot.Writer, name string, items []any) error {
	data, err := yaml.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return w.File(name, data)
}
