package detectors

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// LoadBalancerPending finds K-007: a LoadBalancer Service with no address
// (kubectl shows EXTERNAL-IP <pending>). The causes it knows: the Service
// names a loadBalancerClass ServiceLB does not serve; ServiceLB is disabled
// (--disable servicelb in a server's k3s.io/node-args); its svclb pods are
// Pending because another pod holds the host port (the one holding it is
// quoted); the svclb pods do not run for another reason; no node is
// eligible (an enablelb label on some node and none set to "true", or a
// DaemonSet that wants no pod). A Service pending for none of these is
// reported as unrecognised, unless its events show it is being set up.
type LoadBalancerPending struct{}

var (
	_ engine.Detector   = LoadBalancerPending{}
	_ engine.Stepper    = LoadBalancerPending{}
	_ engine.Translator = LoadBalancerPending{}
	_ engine.Explainer  = LoadBalancerPending{}
)

// CaseID returns "K-007".
func (LoadBalancerPending) CaseID() string { return "K-007" }

// Kinds lists the kinds the detector reads.
func (LoadBalancerPending) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindService, casebook.KindPod, casebook.KindEvent, casebook.KindNode, casebook.KindDaemonSet}
}

// K3s ServiceLB's node labels (k3s pkg/cloudprovider/servicelb.go): any
// node carrying enablelb switches ServiceLB to allow-list mode.
const (
	svclbEnableLabel = "svccontroller.k3s.cattle.io/enablelb"
	// lbGrace is how long a new LoadBalancer Service may wait for its
	// address before K-007 calls it pending for an unknown cause.
	lbGrace = 2 * time.Minute
)

// Detect checks every LoadBalancer Service without an address.
func (LoadBalancerPending) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	svcs, err := st.Services()
	if err != nil {
		return nil, err
	}
	pods, err := r.podsAndSystem()
	if err != nil {
		return nil, err
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	nodeIdx, err := st.NodeIndex()
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	dss, err := cluster.List[appsv1.DaemonSet](st, casebook.KindDaemonSet, "kube-system")
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	var out []casebook.Finding
	for _, svc := range svcs {
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Status.LoadBalancer.Ingress) > 0 || len(svc.Spec.ExternalIPs) > 0 {
			continue
		}
		if f, ok := pendingLoadBalancer(svc, pods, events, nodeIdx, dss); ok {
			out = append(out, f)
		}
	}
	return r.done(out)
}

// pendingLoadBalancer explains why a LoadBalancer Service has no address.
func pendingLoadBalancer(svc *corev1.Service, pods []*corev1.Pod, events *cluster.EventIndex, nodeIdx *cluster.NodeIndex, dss []*appsv1.DaemonSet) (casebook.Finding, bool) {
	svcName := objName(svc.Namespace, svc.Name)
	symptom := casebook.Evidence{Object: ref(casebook.KindService, svc), Field: "status.loadBalancer.ingress",
		Text: "empty: the LoadBalancer Service has no address (EXTERNAL-IP <pending>)"}
	objs := []casebook.ObjectRef{ref(casebook.KindService, svc)}
	finding := func(cause, msg string, ev ...casebook.Evidence) (casebook.Finding, bool) {
		return casebook.Finding{CaseID: "K-007", Cause: cause, Objects: objs, Message: msg, Evidence: append([]casebook.Evidence{symptom}, ev...)}, true
	}
	if c := svc.Spec.LoadBalancerClass; c != nil && *c != "" {
		return finding("loadbalancer-class", fmt.Sprintf("the Service names loadBalancerClass %s, which K3s's ServiceLB does not serve: only a controller of that class gives it an address", *c),
			quote(casebook.KindService, svcName, "spec.loadBalancerClass: %s", *c))
	}
	if q, off := k3sDisables(nodeIdx, "servicelb"); off {
		return finding("servicelb-disabled", "ServiceLB is disabled on the K3s server, so no controller gives the LoadBalancer an address", q)
	}
	var lb []*corev1.Pod
	for _, p := range pods {
		if p.Labels[svclbServiceLabel] == svc.Name && p.Labels[svclbNamespaceLabel] == svc.Namespace && !podTerminal(p) {
			lb = append(lb, p)
			objs = append(objs, ref(casebook.KindPod, p))
		}
	}
	if len(lb) > 0 {
		var ev []casebook.Evidence
		portsTaken := false
		for _, p := range lb {
			if podReady(p) {
				return unrecognisedAfterGrace(svc, objs, symptom, events, quote(casebook.KindPod, objName(p.Namespace, p.Name), "condition Ready: True"))
			}
			if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
				ev = append(ev, quotePodCondition(p, c))
				portsTaken = portsTaken || strings.Contains(c.Message, "didn't have free ports")
			} else {
				ev = append(ev, quote(casebook.KindPod, objName(p.Namespace, p.Name), "status.phase: %s", p.Status.Phase))
			}
			ev = append(ev, waitingReasons(p)...)
			if e := last(events.Of("Pod", p, "FailedScheduling")); e != nil {
				ev = append(ev, quoteEventsOf(p, []*corev1.Event{e})...)
				portsTaken = portsTaken || strings.Contains(e.Message, "didn't have free ports")
			}
		}
		if portsTaken {
			ev = append(ev, hostPortHolders(svc, pods)...)
			return finding("host-port-conflict", "the LoadBalancer has no address: its svclb pods cannot be scheduled because another pod already holds the host port on the nodes", ev...)
		}
		return finding("svclb-not-running", "the LoadBalancer has no address: none of its K3s ServiceLB (svclb) pods is running", ev...)
	}
	if q, ok := noEligibleNode(svc, nodeIdx, dss); ok {
		return finding("no-eligible-node", "no node is eligible for the Service's svclb pods, so the LoadBalancer gets no address", q...)
	}
	return unrecognisedAfterGrace(svc, objs, symptom, events)
}

// unrecognisedAfterGrace reports a Service pending for a cause K-007 does
// not know, unless its own events show it is being set up: their latest
// is less than lbGrace after the Service was created. A Service without
// events has waited long enough for them to expire.
func unrecognisedAfterGrace(svc *corev1.Service, objs []casebook.ObjectRef, symptom casebook.Evidence, events *cluster.EventIndex, more ...casebook.Evidence) (casebook.Finding, bool) {
	if events != nil {
		if e := last(events.Of("Service", svc)); e != nil && cluster.EventTime(e).Sub(svc.CreationTimestamp.Time) <= lbGrace {
			return casebook.Finding{}, false
		}
	}
	return unrecognised("K-007", objs, symptom, more...), true
}

// hostPortHolders quotes the pods of other Services' svclb, or any pod,
// that declare a host port the Service needs.
func hostPortHolders(svc *corev1.Service, pods []*corev1.Pod) []casebook.Evidence {
	want := map[string]bool{}
	for _, sp := range svc.Spec.Ports {
		want[fmt.Sprintf("%d/%s", sp.Port, protocolOf(sp.Protocol))] = true
	}
	var out []casebook.Evidence
	for _, p := range pods {
		if podTerminal(p) || p.Spec.NodeName == "" || p.Labels[svclbServiceLabel] == svc.Name && p.Labels[svclbNamespaceLabel] == svc.Namespace {
			continue
		}
		var held []string
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				k := fmt.Sprintf("%d/%s", cp.HostPort, protocolOf(cp.Protocol))
				if cp.HostPort != 0 && want[k] {
					held = append(held, k)
				}
			}
		}
		if len(held) > 0 {
			out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "spec.containers[].ports: hostPort %s, on node %s", strings.Join(held, ", "), p.Spec.NodeName))
		}
	}
	return out
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// noEligibleNode finds why ServiceLB runs the Service's svclb on no node:
// its DaemonSet wants no pod, or some node carries the enablelb label and
// none has it "true" (allow-list mode with an empty list).
func noEligibleNode(svc *corev1.Service, nodeIdx *cluster.NodeIndex, dss []*appsv1.DaemonSet) ([]casebook.Evidence, bool) {
	var ev []casebook.Evidence
	for _, ds := range dss {
		if ds.Labels[svclbServiceLabel] == svc.Name && ds.Labels[svclbNamespaceLabel] == svc.Namespace && ds.Status.DesiredNumberScheduled == 0 {
			ev = append(ev, quote(casebook.KindDaemonSet, objName(ds.Namespace, ds.Name), "status.desiredNumberScheduled: 0, nodeSelector: %s", formatLabels(ds.Spec.Template.Spec.NodeSelector)))
		}
	}
	if nodeIdx != nil {
		var labelled []string
		enabled := false
		for _, n := range nodeIdx.All() {
			if v, ok := n.Labels[svclbEnableLabel]; ok {
				labelled = append(labelled, n.Name+"="+v)
				enabled = enabled || v == "true"
			}
		}
		sort.Strings(labelled)
		if len(labelled) > 0 && !enabled {
			ev = append(ev, note(casebook.KindNode, "label %s on %s and on no node set to \"true\": ServiceLB runs svclb only on nodes labelled true", svclbEnableLabel, strings.Join(labelled, ", ")))
		}
	}
	return ev, len(ev) > 0
}

// latestEvent is the latest time the events show: "now" for a snapshot.
func latestEvent(events *cluster.EventIndex) time.Time {
	var now time.Time
	if events == nil {
		return now
	}
	for _, e := range events.All() {
		if t := cluster.EventTime(e); t.After(now) {
			now = t
		}
	}
	return now
}

// k007Steps are the next steps of LoadBalancerPending findings, by cause.
var k007Steps = stepsByCause{
	"loadbalancer-class": {
		{Step: 1, Kind: casebook.KindService, Cmd: `kubectl -n %ns% get svc %name% -o jsonpath='type={.spec.type} class={.spec.loadBalancerClass} etp={.spec.externalTrafficPolicy} ports={.spec.ports[*].port}{"\n"}'`},
	},
	"servicelb-disabled": {
		{Step: 1, Kind: casebook.KindService, Cmd: `kubectl -n %ns% get events --field-selector involvedObject.kind=Service,involvedObject.name=%name%`},
		{Step: 2, Kind: casebook.KindService, Cmd: `kubectl get nodes -l node-role.kubernetes.io/control-plane=true -o jsonpath='{range .items[*]}{.metadata.name}{"  "}{.metadata.annotations.k3s\.io/node-args}{"\n"}{end}'`},
	},
	"host-port-conflict": {
		{Step: 3, Kind: casebook.KindService, Cmd: `kubectl -n kube-system get pods -l svccontroller.k3s.cattle.io/svcname=%name%,svccontroller.k3s.cattle.io/svcnamespace=%ns% -o wide`},
		{Step: 4, Kind: casebook.KindService, Cmd: `kubectl get pods -A -o jsonpath='{range .items[*]}{range .spec.containers[*].ports[?(@.hostPort)]}{.hostPort}{"/"}{.protocol}{"  "}{end}{.metadata.namespace}{"/"}{.metadata.name}{"  "}{.spec.nodeName}{"\n"}{end}'`},
	},
	"svclb-not-running": {
		{Step: 3, Kind: casebook.KindService, Cmd: `kubectl -n kube-system get pods -l svccontroller.k3s.cattle.io/svcname=%name%,svccontroller.k3s.cattle.io/svcnamespace=%ns% -o wide`},
	},
	"no-eligible-node": {
		{Step: 3, Kind: casebook.KindService, Cmd: `kubectl -n kube-system get daemonset -l svccontroller.k3s.cattle.io/svcname=%name%,svccontroller.k3s.cattle.io/svcnamespace=%ns% -o wide`},
		{Step: 5, Kind: casebook.KindService, Cmd: `kubectl get nodes -L svccontroller.k3s.cattle.io/enablelb,svccontroller.k3s.cattle.io/lbpool`},
	},
	"": {
		{Step: 1, Kind: casebook.KindService, Cmd: `kubectl -n %ns% get events --field-selector involvedObject.kind=Service,involvedObject.name=%name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (LoadBalancerPending) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return k007Steps.of(f.Cause)
}

// k007ZH are the messages of LoadBalancerPending findings in Chinese, by cause.
var k007ZH = zhByCause{
	"loadbalancer-class": `Service 指定了 loadBalancerClass，K3s 的 ServiceLB 不处理它：只有该 class 的控制器才会分配地址`,
	"servicelb-disabled": `K3s server 禁用了 ServiceLB，没有控制器为 LoadBalancer 分配地址`,
	"host-port-conflict": `LoadBalancer 没有地址：节点上的 host 端口已被其他 Pod 占用，svclb Pod 无法调度`,
	"svclb-not-running":  `LoadBalancer 没有地址：它的 K3s ServiceLB（svclb）Pod 没有一个在运行`,
	"no-eligible-node":   `没有节点符合 svclb Pod 的条件，LoadBalancer 拿不到地址`,
}

// MessageZH returns the finding's message in Chinese.
func (LoadBalancerPending) MessageZH(f *casebook.Finding) string { return k007ZH.message(f) }

// Symptom reports whether a finding of the cause can be the consequence of
// another finding: svclb pods that do not run for their own reasons (an
// image pull, a node fault) are.
func (LoadBalancerPending) Symptom(cause string) bool { return cause == "svclb-not-running" }
