package detectors

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// CertificateExpired finds K-006 from what K3s's certificate monitor
// (k3s-cert-monitor) reports on each Node every 30 minutes: a Warning
// CertificateExpirationWarning ("Node certificates require attention -
// restart k3s on this node to trigger automatic rotation: ...") while leaf
// certificates are in the renewal window, expired or not yet valid, and
// CACertificateExpirationWarning for CA certificates within a year of
// expiry. K3s renews leaf certificates only when it starts, and once it has
// started with good certificates it says so with a Normal
// CertificateExpirationOK event: a warning older than that is history.
type CertificateExpired struct{}

var (
	_ engine.Detector   = CertificateExpired{}
	_ engine.Stepper    = CertificateExpired{}
	_ engine.Translator = CertificateExpired{}
)

// CaseID returns "K-006".
func (CertificateExpired) CaseID() string { return "K-006" }

// Kinds lists the kinds the detector reads.
func (CertificateExpired) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindNode, casebook.KindEvent}
}

// The reasons of k3s pkg/certmonitor's events.
const (
	certWarningReason   = "CertificateExpirationWarning"
	caCertWarningReason = "CACertificateExpirationWarning"
	certOKReason        = "CertificateExpirationOK"
)

// Detect reads the certificate monitor's events on every node.
func (CertificateExpired) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	nodes, err := r.nodes()
	if err != nil {
		return nil, err
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	var out []casebook.Finding
	for _, n := range nodes {
		evs := events.OfNode(n, certWarningReason, caCertWarningReason, certOKReason)
		var warn, caWarn, ok *corev1.Event
		for _, e := range evs {
			switch e.Reason {
			case certWarningReason:
				warn = e
			case caCertWarningReason:
				caWarn = e
			case certOKReason:
				ok = e
			}
		}
		if f, found := certWarning(n, warn, ok); found {
			out = append(out, f)
		}
		if f, found := certWarning(n, caWarn, ok); found {
			out = append(out, f)
		}
	}
	return r.done(out)
}

// certWarning turns the last certificate warning on a node into a finding,
// unless K3s reported its certificates OK after it.
func certWarning(n *corev1.Node, warn, ok *corev1.Event) (casebook.Finding, bool) {
	if warn == nil || (ok != nil && !cluster.EventTime(ok).Before(cluster.EventTime(warn))) {
		return casebook.Finding{}, false
	}
	lines := strings.Split(strings.TrimSpace(warn.Message), "\n")
	first := *warn
	first.Message = lines[0]
	ev := []casebook.Evidence{quoteEvent(&first)}
	for _, ln := range lines[1:] {
		cont := quoteEvent(warn)
		cont.Field, cont.Text = "event "+warn.Type+" "+warn.Reason+" (continued)", ln
		ev = append(ev, cont)
	}
	if ok != nil {
		okEv := quoteEvent(ok)
		okEv.Field += " (before this warning)"
		ev = append(ev, okEv)
	}
	if c := nodeCondition(n, corev1.NodeReady); c != nil && c.Status != corev1.ConditionTrue {
		ev = append(ev, quote(casebook.KindNode, n.Name, "condition Ready=%s reason %s: %s", c.Status, c.Reason, c.Message))
	}
	f := casebook.Finding{CaseID: "K-006", Objects: []casebook.ObjectRef{ref(casebook.KindNode, n)}, Evidence: ev}
	switch {
	case warn.Reason == caCertWarningReason:
		f.Cause = "ca-certs-expiring"
		f.Message = "K3s CA certificates expire within a year and are never renewed automatically: every certificate they sign fails with them unless they are rotated (k3s certificate rotate-ca)"
	case strings.Contains(warn.Message, " is not valid before "):
		f.Cause = "certs-not-yet-valid"
		f.Message = "K3s certificates on the node are not valid yet: the node's clock is behind the time they were issued"
	case strings.Contains(warn.Message, " expired at "):
		f.Cause = "node-certs-expired"
		f.Message = "K3s certificates on the node have expired: K3s renews them only when it starts, and it was not restarted inside the renewal window"
	default:
		f.Cause = "node-certs-expiring"
		f.Message = "K3s certificates on the node are inside the renewal window and K3s has not been restarted since: they are renewed only when K3s starts, so they will expire in service"
	}
	return f, true
}

// k006Steps are the next steps of CertificateExpired findings, by cause.
var k006Steps = stepsByCause{
	"": {
		{Step: 1, Kind: casebook.KindNode, Cmd: `kubectl describe node %name%`},
		{Step: 2, Kind: casebook.KindNode, Cmd: `k3s certificate check`, OnNode: true},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (CertificateExpired) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return k006Steps.of(f.Cause)
}

// k006ZH are the messages of CertificateExpired findings in Chinese, by cause.
var k006ZH = zhByCause{
	"ca-certs-expiring":   `K3s CA 证书将在一年内到期且不会自动续期：除非轮换（k3s certificate rotate-ca），它签发的所有证书都会随之失效`,
	"certs-not-yet-valid": `节点上的 K3s 证书尚未生效：节点时钟落后于证书签发时间`,
	"node-certs-expired":  `节点上的 K3s 证书已过期：K3s 只在启动时续期，而它在续期窗口内没有重启`,
	"node-certs-expiring": `节点上的 K3s 证书已进入续期窗口而 K3s 之后没有重启：证书只在 K3s 启动时续期，不重启就会过期`,
}

// MessageZH returns the finding's message in Chinese.
func (CertificateExpired) MessageZH(f *casebook.Finding) string { return k006ZH.of(f.Cause) }
