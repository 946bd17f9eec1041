package detectors

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// DNSResolutionFailed finds N-004: the cluster DNS does not answer. Its
// symptom is a CoreDNS pod (kube-system, k8s-app=kube-dns) that is not
// Ready, crash-loops or was OOM-killed, a cluster without CoreDNS, or a
// NetworkPolicy that keeps DNS queries from reaching it. The causes it
// knows: CoreDNS forwards to itself (its Corefile forwards to the
// kube-dns ClusterIP or to loopback, or a container's termination message
// quotes the loop plugin); the memory limit (OOMKilled); CoreDNS disabled
// (--disable coredns); kube-system ingress policies that select CoreDNS
// and let no port 53 in. Egress policies that allow no DNS are K-004's. A
// CoreDNS pod down for longer than a grace period for none of these is
// reported as unrecognised, with its state quoted.
type DNSResolutionFailed struct{}

var (
	_ engine.Detector   = DNSResolutionFailed{}
	_ engine.Stepper    = DNSResolutionFailed{}
	_ engine.Translator = DNSResolutionFailed{}
)

// CaseID returns "N-004".
func (DNSResolutionFailed) CaseID() string { return "N-004" }

// Kinds lists the kinds the detector reads.
func (DNSResolutionFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPod, casebook.KindEvent, casebook.KindService, casebook.KindEndpointSlice,
		casebook.KindConfigMap, casebook.KindNetworkPolicy, casebook.KindNode}
}

const (
	corednsLabel = "k8s-app"
	corednsValue = "kube-dns"
	// dnsGrace is how long a CoreDNS pod may be not Ready (starting, say)
	// before it is N-004's symptom.
	dnsGrace = 2 * time.Minute
)

// loopFatal is the loop plugin's fatal line (coredns plugin/loop/loop.go).
var loopFatal = regexp.MustCompile(`plugin/loop: Loop \(\S+ -> \S+\) detected for zone "[^"]*"`)

// Detect checks CoreDNS, its configuration and the policies in front of it.
func (DNSResolutionFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	// CoreDNS is looked for in scope only: a diagnosis limited to another
	// namespace reports nothing about kube-system.
	pods, err := r.pods(casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	var coredns []*corev1.Pod
	for _, p := range pods {
		if p.Namespace == "kube-system" && p.Labels[corednsLabel] == corednsValue && !podTerminal(p) {
			coredns = append(coredns, p)
		}
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	svcIdx, err := st.ServiceIndex()
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	var kubeDNS *corev1.Service
	if svcIdx != nil {
		kubeDNS = svcIdx.Get("kube-system", "kube-dns")
	}
	var out []casebook.Finding
	if len(coredns) == 0 {
		nodeIdx, err := st.NodeIndex()
		if _, err := r.optional(err); err != nil {
			return nil, err
		}
		if q, off := k3sDisables(nodeIdx, "coredns"); off && kubeDNS == nil {
			out = append(out, casebook.Finding{CaseID: "N-004", Cause: "coredns-disabled", Objects: []casebook.ObjectRef{{Kind: string(casebook.KindNode), Name: q.Object.Name}},
				Message:  "CoreDNS is disabled on the K3s server and no other cluster DNS runs in kube-system: pods cannot resolve Service names",
				Evidence: []casebook.Evidence{q, note(casebook.KindPod, "no pod labelled %s=%s in kube-system", corednsLabel, corednsValue)}})
		}
	} else {
		corefile, err := r.corefile()
		if err != nil {
			return nil, err
		}
		if f, ok := corednsDown(coredns, kubeDNS, corefile, events, latestEvent(events)); ok {
			out = append(out, f)
		}
		out = append(out, policiesBlockingDNS(r, coredns)...)
	}
	return r.done(out)
}

// corefile returns the coredns ConfigMap's Corefile (K3s's manifest), or
// nil when there is none or ConfigMaps cannot be read.
func (r *reader) corefile() (*corev1.ConfigMap, error) {
	cms, err := cluster.List[corev1.ConfigMap](r.st, casebook.KindConfigMap, "kube-system")
	if ok, err := r.optional(err); err != nil || !ok {
		return nil, err
	}
	for _, cm := range cms {
		if cm.Name == "coredns" {
			return cm, nil
		}
	}
	return nil, nil
}

// corednsDown reports the CoreDNS pods that are down, with the cause.
func corednsDown(coredns []*corev1.Pod, kubeDNS *corev1.Service, corefile *corev1.ConfigMap, events *cluster.EventIndex, now time.Time) (casebook.Finding, bool) {
	var down []*corev1.Pod
	for _, p := range coredns {
		if podDownLong(p, now) {
			down = append(down, p)
		}
	}
	if len(down) == 0 {
		return casebook.Finding{}, false
	}
	var objs []casebook.ObjectRef
	var state []casebook.Evidence
	oom, loopLine := false, ""
	for _, p := range down {
		objs = append(objs, ref(casebook.KindPod, p))
		if c := podCondition(p, corev1.PodReady); c != nil {
			state = append(state, quotePodCondition(p, c))
		}
		state = append(state, waitingReasons(p)...)
		for _, cs := range p.Status.ContainerStatuses {
			t := cs.LastTerminationState.Terminated
			if t == nil {
				continue
			}
			state = append(state, quoteTerminated(p, cs.Name, "lastState.terminated", t))
			oom = oom || t.Reason == "OOMKilled"
			if m := loopFatal.FindString(t.Message); m != "" {
				loopLine = m
				state = append(state, quote(casebook.KindPod, objName(p.Namespace, p.Name), "container %s lastState.terminated.message: %s", cs.Name, strings.TrimSpace(t.Message)))
			}
		}
		if events != nil {
			for _, e := range lastByReason(events.Of("Pod", p, "Unhealthy", "BackOff")) {
				state = append(state, quoteEvent(e))
			}
		}
	}
	finding := func(cause, msg string, ev ...casebook.Evidence) (casebook.Finding, bool) {
		return casebook.Finding{CaseID: "N-004", Cause: cause, Objects: objs, Message: msg, Evidence: append(ev, state...)}, true
	}
	if q, ok := forwardLoop(corefile, kubeDNS); ok {
		// The ConfigMap is quoted, not named: collect hashes the Corefile,
		// and a bundle must find the same objects as the cluster.
		return finding("forward-loop", "CoreDNS forwards queries back to itself, so its loop plugin stops it and it crash-loops: no name resolves", q)
	}
	if loopLine != "" {
		return finding("forward-loop", "CoreDNS's loop plugin found its upstream forwarding back to it and stopped it: no name resolves (the node's resolv.conf that K3s hands to CoreDNS points at a local stub or at the cluster DNS)")
	}
	if oom {
		var limits []string
		for _, p := range down {
			for _, c := range p.Spec.Containers {
				if l, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
					limits = append(limits, fmt.Sprintf("%s/%s container %s: %s", p.Namespace, p.Name, c.Name, l.String()))
				}
			}
		}
		ev := []casebook.Evidence{note(casebook.KindPod, "limits.memory: %s", strings.Join(limits, "; "))}
		if len(limits) == 0 {
			ev = nil
		}
		return finding("oomkilled", "CoreDNS is OOM-killed at its memory limit, so name resolution fails while it restarts", ev...)
	}
	// The kubelet's latest warning says most about an unknown cause; the
	// Ready condition stands in when there is none.
	at := 0
	for i, e := range state {
		if strings.HasPrefix(e.Field, "event Warning") {
			at = i
		}
	}
	rest := append(append([]casebook.Evidence(nil), state[:at]...), state[at+1:]...)
	return unrecognised("N-004", objs, state[at], rest...), true
}

// podDownLong reports a pod that crash-loops, was OOM-killed or has not
// been Ready for longer than dnsGrace.
func podDownLong(p *corev1.Pod, now time.Time) bool {
	if podReady(p) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			return true
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
			return true
		}
	}
	c := podCondition(p, corev1.PodReady)
	return c != nil && !now.IsZero() && now.Sub(c.LastTransitionTime.Time) > dnsGrace
}

// forwardTarget is a forward plugin line: "forward . 10.43.0.10".
var forwardTarget = regexp.MustCompile(`(?m)^\s*forward\s+\S+\s+(.+)$`)

// forwardLoop finds a forward to the kube-dns ClusterIP or to loopback in
// the Corefile: in CoreDNS's network namespace either is CoreDNS itself.
func forwardLoop(cm *corev1.ConfigMap, kubeDNS *corev1.Service) (casebook.Evidence, bool) {
	if cm == nil {
		return casebook.Evidence{}, false
	}
	clusterIP := ""
	if kubeDNS != nil {
		clusterIP = kubeDNS.Spec.ClusterIP
	}
	for _, m := range forwardTarget.FindAllStringSubmatch(cm.Data["Corefile"], -1) {
		for _, to := range strings.Fields(m[1]) {
			if to == "{" {
				break
			}
			host := strings.TrimPrefix(to, "dns://")
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			ip := net.ParseIP(host)
			if ip != nil && (ip.IsLoopback() || host == clusterIP) {
				return quote(casebook.KindConfigMap, objName(cm.Namespace, cm.Name), "data.Corefile: %s", strings.TrimSpace(m[0])), true
			}
		}
	}
	return casebook.Evidence{}, false
}

// policiesBlockingDNS finds kube-system NetworkPolicies that select CoreDNS
// for ingress and, added together, let no port 53 in.
func policiesBlockingDNS(r *reader, coredns []*corev1.Pod) []casebook.Finding {
	pols, err := cluster.List[networkingv1.NetworkPolicy](r.st, casebook.KindNetworkPolicy, casebook.AllNamespaces)
	if ok, _ := r.optional(err); !ok {
		return nil
	}
	var governing []*networkingv1.NetworkPolicy
	allowed := false
	for _, p := range pols {
		if p.Namespace != "kube-system" || !hasPolicyType(p, networkingv1.PolicyTypeIngress) || !selectsAny(p, coredns) {
			continue
		}
		governing = append(governing, p)
		for _, rule := range p.Spec.Ingress {
			allowed = allowed || ingressAllowsDNS(rule)
		}
	}
	if len(governing) == 0 || allowed {
		return nil
	}
	f := casebook.Finding{CaseID: "N-004", Cause: "policy-blocks-dns",
		Message: "NetworkPolicies in kube-system select CoreDNS and let no query in on port 53: every pod's DNS lookups fail"}
	for _, p := range governing {
		f.Objects = append(f.Objects, ref(casebook.KindNetworkPolicy, p))
		f.Evidence = append(f.Evidence, quote(casebook.KindNetworkPolicy, objName(p.Namespace, p.Name), "spec: podSelector %s, policyTypes %v, %d ingress rule(s), none to port 53",
			metav1.FormatLabelSelector(&p.Spec.PodSelector), p.Spec.PolicyTypes, len(p.Spec.Ingress)))
	}
	for _, p := range coredns {
		f.Evidence = append(f.Evidence, quote(casebook.KindPod, objName(p.Namespace, p.Name), "metadata.labels: %s", formatLabels(p.Labels)))
	}
	return []casebook.Finding{f}
}

func hasPolicyType(p *networkingv1.NetworkPolicy, t networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return t == networkingv1.PolicyTypeIngress // the API's default
	}
	for _, pt := range p.Spec.PolicyTypes {
		if pt == t {
			return true
		}
	}
	return false
}

func selectsAny(p *networkingv1.NetworkPolicy, pods []*corev1.Pod) bool {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		return false
	}
	for _, pod := range pods {
		if sel.Matches(labels.Set(pod.Labels)) {
			return true
		}
	}
	return false
}

// ingressAllowsDNS reports whether an ingress rule lets port 53 (or the
// named port "dns") in: a rule without ports allows every port.
func ingressAllowsDNS(rule networkingv1.NetworkPolicyIngressRule) bool {
	if len(rule.Ports) == 0 {
		return true
	}
	for _, p := range rule.Ports {
		if p.Port == nil {
			return true
		}
		if p.Port.IntValue() == 53 || p.Port.StrVal == "dns" || p.Port.StrVal == "dns-tcp" {
			return true
		}
		if p.EndPort != nil && p.Port.IntValue() <= 53 && int(*p.EndPort) >= 53 {
			return true
		}
	}
	return false
}

// n004Steps are the next steps of DNSResolutionFailed findings, by cause.
var n004Steps = stepsByCause{
	"forward-loop": {
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl -n kube-system logs %name% --previous --tail=20`},
		{Step: 3, Kind: casebook.KindConfigMap, Cmd: `kubectl -n %ns% get configmap %name% -o yaml`},
	},
	"oomkilled": {
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl -n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{range .items[*]}{.metadata.name}{" ready="}{.status.containerStatuses[0].ready}{" restarts="}{.status.containerStatuses[0].restartCount}{" last="}{.status.containerStatuses[0].lastState.terminated.reason}{"\n"}{end}'`},
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl -n kube-system describe pod %name%`},
	},
	"coredns-disabled": {
		{Step: 2, Kind: casebook.KindNode, Cmd: `kubectl get node %name% -o jsonpath='{.metadata.annotations.k3s\.io/node-args}{"\n"}'`},
	},
	"policy-blocks-dns": {
		{Step: 5, Kind: casebook.KindNetworkPolicy, Cmd: `kubectl -n %ns% get networkpolicy %name% -o yaml`},
	},
	"": {
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl -n kube-system describe pod %name%`},
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl -n kube-system logs %name% --tail=20`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (DNSResolutionFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return n004Steps.of(f.Cause)
}

// n004ZH are the messages of DNSResolutionFailed findings in Chinese, by cause.
var n004ZH = zhByCause{
	"forward-loop":      `CoreDNS 把查询转发回自己，loop 插件使其退出并反复重启：所有名字都无法解析`,
	"oomkilled":         `CoreDNS 超出内存限制被 OOMKill，重启期间名字解析失败`,
	"coredns-disabled":  `K3s server 禁用了 CoreDNS，kube-system 中也没有其他集群 DNS：Pod 无法解析 Service 名字`,
	"policy-blocks-dns": `kube-system 中的 NetworkPolicy 选中了 CoreDNS，却不放行 53 端口：所有 Pod 的 DNS 查询都失败`,
}

// MessageZH returns the finding's message in Chinese.
func (DNSResolutionFailed) MessageZH(f *casebook.Finding) string { return n004ZH.message(f) }
