// Package detectors holds one detector per case, each in a file named after
// it (k002_pod_scheduling_failed.go finds K-002), and the registry that
// lists them. Each detector declares the kinds it reads and reads them from
// the run's cluster.State, and its fixtures in testdata/<ID>/{broken,fixed}/ prove
// that it finds its case and stays silent once the case's solution is
// applied.
package detectors

import (
	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/engine"
)

// All returns every detector, in case ID order.
func All() []engine.Detector {
	return []engine.Detector{
		NodeJoinFailed{},
		PodSchedulingFailed{},
		StorageVolumeMountFailed{},
		NetworkPolicyNotEffective{},
		CertificateExpired{},
		LoadBalancerPending{},
		PodCrossNodeCommunicationFailed{},
		ServiceUnreachable{},
		IngressRoutingError{},
		DNSResolutionFailed{},
		GatekeeperWebhookTimeout{},
		OPAPolicyEvaluationFailed{},
		GatekeeperPolicyUpdateDelayed{},
		PVCMountFailed{},
		ColdStartTimeout{},
		MemoryOverflow{},
		ImagePullFailed{},
		RuntimeNotConfigured{},
	}
}

// Set returns the detectors a diagnosis runs over a library: every
// dedicated detector, then the signal matches of the cases without one,
// then the matches over container logs and the detectors of the API
// server's metrics. The CLI, serve, the agent and the benchmarks all run this set.
func Set(cases []*casebook.Case) []engine.Detector {
	return append(All(), Extra(cases)...)
}

// Extra returns the detectors of a diagnosis besides the dedicated ones:
// the signal matches, the matches over container logs and the detectors
// of the API server's metrics.
func Extra(cases []*casebook.Case) []engine.Detector {
	out := append(SignalMatch(cases), LogMatch(cases)...)
	return append(out, MetricDetectors()...)
}

// IDs returns the case IDs that have a detector.
func IDs() []string {
	var ids []string
	for _, d := range All() {
		ids = append(ids, d.CaseID())
	}
	return ids
}

// Kinds returns every kind the detectors read: what a run preloads, what
// collect writes and what the agent's ClusterRole must allow.
func Kinds() []casebook.Kind { return engine.Kinds(All()) }

// MetricDetectors are the detectors that read metrics: the API server's
// own (cluster.State.Metrics) and a Prometheus server's (diagnose
// --prometheus): a second detector of their case, next to its signal match.
func MetricDetectors() []engine.Detector {
	return []engine.Detector{ControlPlaneHighLoad{}, GatekeeperLatency{}, StoragePerformance{}}
}
