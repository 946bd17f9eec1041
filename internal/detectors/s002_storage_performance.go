package detectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// PromQL of the detectors that read a Prometheus server (diagnose
// --prometheus URL), with the thresholds their cases state.
const (
	// S-002 step 1: w_await of hundreds of milliseconds means a saturated
	// device; node_exporter's counters give the same average per write.
	promDiskWriteLatency = `rate(node_disk_write_time_seconds_total[5m]) / rate(node_disk_writes_completed_total[5m]) > 0`
	s002WriteLatency     = 0.1
	// S-002 step 6a: etcd's WAL fdatasync p99 under 10 ms.
	promWALFsyncP99 = `histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket[5m])))`
	s002WALFsync    = 0.010
	// O-004 step 1: Gatekeeper's validation p99 above timeoutSeconds/2.
	promGatekeeperP99 = `histogram_quantile(0.99, sum(rate(gatekeeper_validation_request_duration_seconds_bucket[5m])) by (le))`
)

// StoragePerformance finds S-002 in a Prometheus server's node metrics:
// disks whose average write takes 100 ms or more, and an etcd whose WAL
// fdatasync p99 is over 10 ms. Without --prometheus it reads nothing; the
// case's signals (etcd's slow-disk lines) are found by the signal pass.
type StoragePerformance struct{}

var (
	_ engine.Detector   = StoragePerformance{}
	_ engine.SourceUser = StoragePerformance{}
)

// CaseID returns S-002.
func (StoragePerformance) CaseID() string { return "S-002" }

// Kinds lists the nodes, to name the node a disk belongs to.
func (StoragePerformance) Kinds() []casebook.Kind { return []casebook.Kind{casebook.KindNode} }

// EvidenceSources says the detector reads Prometheus.
func (StoragePerformance) EvidenceSources() []string { return []string{casebook.SourcePrometheus} }

// Detect queries the run's Prometheus.
func (StoragePerformance) Detect(_ context.Context, st *cluster.State) ([]casebook.Finding, error) {
	nodes, err := cluster.List[corev1.Node](st, casebook.KindNode, casebook.AllNamespaces)
	if err != nil && !cluster.Skippable(err) {
		return nil, err
	}
	var out []casebook.Finding
	disks, ok, qerr := st.PrometheusQuery(promDiskWriteLatency)
	if !ok {
		return nil, nil
	}
	for _, s := range sortSamples(disks) {
		if s.Value < s002WriteLatency {
			continue
		}
		node := nodeOfInstance(nodes, s.Labels["instance"])
		out = append(out, casebook.Finding{Cause: "slow-disk", Objects: []casebook.ObjectRef{node},
			Message:   fmt.Sprintf("disk %s on %s averages %.0f ms a write over 5 minutes (threshold %.0f ms)", s.Labels["device"], node.Name, 1000*s.Value, 1000*s002WriteLatency),
			MessageZH: fmt.Sprintf("%s 上的磁盘 %s 5 分钟内平均每次写入 %.0f ms（阈值 %.0f ms）", node.Name, s.Labels["device"], 1000*s.Value, 1000*s002WriteLatency),
			Evidence: []casebook.Evidence{{Object: node, Field: "prometheus " + promDiskWriteLatency,
				Text: fmt.Sprintf("{device=%q, instance=%q} %.4f", s.Labels["device"], s.Labels["instance"], s.Value)}}})
	}
	wal, _, werr := st.PrometheusQuery(promWALFsyncP99)
	for _, s := range sortSamples(wal) {
		if s.Value < s002WALFsync {
			continue
		}
		node := nodeOfInstance(nodes, s.Labels["instance"])
		out = append(out, casebook.Finding{Cause: "slow-wal-fsync", Objects: []casebook.ObjectRef{node},
			Message:   fmt.Sprintf("etcd on %s: WAL fdatasync p99 %.0f ms over 5 minutes (threshold %.0f ms)", node.Name, 1000*s.Value, 1000*s002WALFsync),
			MessageZH: fmt.Sprintf("%s 上的 etcd：5 分钟内 WAL fdatasync p99 为 %.0f ms（阈值 %.0f ms）", node.Name, 1000*s.Value, 1000*s002WALFsync),
			Evidence: []casebook.Evidence{{Object: node, Field: "prometheus " + promWALFsyncP99,
				Text: fmt.Sprintf("{instance=%q} %.4f", s.Labels["instance"], s.Value)}}})
	}
	return out, errors.Join(qerr, werr, err)
}

// GatekeeperLatency finds O-004 in a Prometheus server: Gatekeeper's
// validation p99 above half its webhook's timeoutSeconds.
type GatekeeperLatency struct{}

var (
	_ engine.Detector   = GatekeeperLatency{}
	_ engine.SourceUser = GatekeeperLatency{}
)

// CaseID returns O-004.
func (GatekeeperLatency) CaseID() string { return "O-004" }

// Kinds lists the webhook configurations, for Gatekeeper's timeoutSeconds.
func (GatekeeperLatency) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindValidatingWebhookConfiguration}
}

// EvidenceSources says the detector reads Prometheus.
func (GatekeeperLatency) EvidenceSources() []string { return []string{casebook.SourcePrometheus} }

// Detect queries the run's Prometheus.
func (GatekeeperLatency) Detect(_ context.Context, st *cluster.State) ([]casebook.Finding, error) {
	p99, ok, qerr := st.PrometheusQuery(promGatekeeperP99)
	if !ok || len(p99) == 0 {
		return nil, qerr
	}
	whs, err := cluster.List[admissionv1.ValidatingWebhookConfiguration](st, casebook.KindValidatingWebhookConfiguration, casebook.AllNamespaces)
	if err != nil && !cluster.Skippable(err) {
		return nil, err
	}
	// Gatekeeper's chart sets timeoutSeconds 3; its configuration says.
	obj := casebook.ObjectRef{Kind: string(casebook.KindValidatingWebhookConfiguration), Name: "gatekeeper-validating-webhook-configuration"}
	timeout := 3.0
	for _, w := range whs {
		for _, h := range w.Webhooks {
			if h.Name == "validation.gatekeeper.sh" && h.TimeoutSeconds != nil {
				timeout = float64(*h.TimeoutSeconds)
				obj = ref(casebook.KindValidatingWebhookConfiguration, w)
			}
		}
	}
	v := p99[0].Value
	if v < timeout/2 {
		return nil, errors.Join(qerr, err)
	}
	return []casebook.Finding{{Cause: "validation-latency", Objects: []casebook.ObjectRef{obj},
		Message:   fmt.Sprintf("Gatekeeper's validation p99 is %.2fs over 5 minutes, more than half its webhook's timeoutSeconds %gs", v, timeout),
		MessageZH: fmt.Sprintf("Gatekeeper 校验请求 5 分钟内 p99 为 %.2f 秒，超过 webhook timeoutSeconds（%g 秒）的一半", v, timeout),
		Evidence:  []casebook.Evidence{{Object: obj, Field: "prometheus " + promGatekeeperP99, Text: fmt.Sprintf("%.4f", v)}}}}, errors.Join(qerr, err)
}

// nodeOfInstance names the node a scrape target is on: by node name or
// address, else the target's host as it is.
func nodeOfInstance(nodes []*corev1.Node, instance string) casebook.ObjectRef {
	host := instance
	if h, _, err := net.SplitHostPort(instance); err == nil {
		host = h
	}
	for _, n := range nodes {
		if n.Name == host {
			return ref(casebook.KindNode, n)
		}
		for _, a := range n.Status.Addresses {
			if a.Address == host {
				return ref(casebook.KindNode, n)
			}
		}
	}
	return casebook.ObjectRef{Kind: string(casebook.KindNode), Name: host}
}

func sortSamples(ss []cluster.Sample) []cluster.Sample {
	sort.SliceStable(ss, func(i, j int) bool {
		return ss[i].Labels["instance"]+ss[i].Labels["device"] < ss[j].Labels["instance"]+ss[j].Labels["device"]
	})
	return ss
}
