package detectors

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// NetworkPolicyNotEffective finds K-004: NetworkPolicies that nothing
// enforces, because the K3s servers run with --disable-network-policy and
// no CNI with a policy engine is installed; and policies that do not do
// what their author meant: a podSelector that matches no pod, egress rules
// that leave DNS out, an ingress port that is the Service's port instead of
// the pod's.
type NetworkPolicyNotEffective struct{}

var (
	_ engine.Detector   = NetworkPolicyNotEffective{}
	_ engine.Stepper    = NetworkPolicyNotEffective{}
	_ engine.Translator = NetworkPolicyNotEffective{}
)

// CaseID returns "K-004".
func (NetworkPolicyNotEffective) CaseID() string { return "K-004" }

// Kinds lists the kinds the detector reads.
func (NetworkPolicyNotEffective) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindNetworkPolicy, casebook.KindService, casebook.KindPod, casebook.KindNode, casebook.KindDaemonSet, casebook.KindDeployment, casebook.KindStatefulSet, casebook.KindJob}
}

// policyCNIs are the DaemonSets of CNIs that enforce NetworkPolicy
// themselves, by name (or k8s-app label), with the product name.
var policyCNIs = map[string]string{
	"calico-node":  "Calico",
	"canal":        "Canal",
	"cilium":       "Cilium",
	"kube-router":  "kube-router",
	"antrea-agent": "Antrea",
	"weave-net":    "Weave Net",
}

// Detect checks the policy engine and every NetworkPolicy.
func (NetworkPolicyNotEffective) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	policies, err := cluster.List[networkingv1.NetworkPolicy](st, casebook.KindNetworkPolicy, casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	if len(policies) == 0 {
		return nil, nil
	}
	pods, err := r.pods(casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	nodes, err := r.nodes()
	nodesOK, err := r.optional(err)
	if err != nil {
		return nil, err
	}
	cniSets, cniOK, err := r.cniDaemonSets()
	if err != nil {
		return nil, err
	}
	w, err := r.workloads()
	if err != nil {
		return nil, err
	}
	services, err := cluster.List[corev1.Service](st, casebook.KindService, casebook.AllNamespaces)
	if _, err := r.optional(err); err != nil {
		return nil, err
	}

	podsByNS := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if !podTerminal(p) {
			podsByNS[p.Namespace] = append(podsByNS[p.Namespace], p)
		}
	}

	var out []casebook.Finding
	if nodesOK && cniOK {
		out = append(out, policyEngine(st, policies, nodes, cniSets)...)
	}
	for _, p := range policies {
		if f, ok := selectsNoPod(p, podsByNS[p.Namespace], w); ok {
			out = append(out, f)
		}
		out = append(out, ingressServicePorts(p, podsByNS[p.Namespace], services)...)
	}
	out = append(out, egressWithoutDNS(policies, podsByNS)...)
	return r.done(out)
}

// cniDaemonSets lists the DaemonSets a CNI could run as: those in scope
// and those of kube-system and calico-system, where CNIs install
// themselves, even when the diagnosis is limited to another namespace.
func (r *reader) cniDaemonSets() ([]*appsv1.DaemonSet, bool, error) {
	seen := map[string]bool{}
	var out []*appsv1.DaemonSet
	for _, ns := range []string{casebook.AllNamespaces, "kube-system", "calico-system"} {
		list, err := cluster.List[appsv1.DaemonSet](r.st, casebook.KindDaemonSet, ns)
		if ok, err := r.optional(err); err != nil {
			return nil, false, err
		} else if !ok {
			return nil, false, nil
		}
		for _, d := range list {
			if k := d.Namespace + "/" + d.Name; !seen[k] {
				seen[k] = true
				out = append(out, d)
			}
		}
	}
	return out, true, nil
}

// policyEngine finds policies nothing enforces: a K3s server runs with the
// embedded kube-router controller disabled (agents take the setting from
// the servers) and no CNI DaemonSet with a policy engine exists, whether
// flannel still runs or --flannel-backend none brought another CNI.
func policyEngine(st *cluster.State, policies []*networkingv1.NetworkPolicy, nodes []*corev1.Node, sets []*appsv1.DaemonSet) []casebook.Finding {
	policyCNI := false
	var otherCNI []casebook.Evidence
	for _, d := range sets {
		name := d.Name
		if v := d.Labels["k8s-app"]; policyCNIs[v] != "" {
			name = v
		}
		if policyCNIs[name] != "" {
			policyCNI = true
		} else if strings.Contains(d.Name, "flannel") {
			otherCNI = append(otherCNI, quoteOf(casebook.KindDaemonSet, d, "flannel does not enforce NetworkPolicy"))
		}
	}
	if policyCNI {
		return nil
	}
	var disabled []*corev1.Node
	for _, n := range nodes {
		args := nodeArgs(st, n)
		if len(args) > 0 && args[0] == "server" && k3sBoolFlag(args, "--disable-network-policy") {
			disabled = append(disabled, n)
		}
	}
	if len(disabled) == 0 {
		return nil
	}
	f := casebook.Finding{CaseID: "K-004", Cause: "policy-controller-disabled",
		Message: "NetworkPolicies exist but no one enforces them: K3s runs with --disable-network-policy and no CNI with a policy engine is installed"}
	for _, n := range disabled {
		f.Objects = append(f.Objects, ref(casebook.KindNode, n))
		f.Evidence = append(f.Evidence, quote(casebook.KindNode, n.Name, "annotation k3s.io/node-args: %s", k3sNodeArgs(n)))
	}
	f.Evidence = append(f.Evidence, note(casebook.KindDaemonSet, "no DaemonSet of a CNI that enforces NetworkPolicy (calico-node, canal, cilium, kube-router, antrea-agent, weave-net)"))
	f.Evidence = append(f.Evidence, otherCNI...)
	f.Objects, f.Evidence = appendPolicies(f.Objects, f.Evidence, policies)
	return []casebook.Finding{f}
}

// appendPolicies adds the policies to a finding's objects and quotes the
// first few of them.
func appendPolicies(objs []casebook.ObjectRef, ev []casebook.Evidence, policies []*networkingv1.NetworkPolicy) ([]casebook.ObjectRef, []casebook.Evidence) {
	const quoted = 5
	for i, p := range policies {
		objs = append(objs, ref(casebook.KindNetworkPolicy, p))
		if i < quoted {
			ev = append(ev, quotePolicy(p))
		}
	}
	if len(policies) > quoted {
		ev = append(ev, note(casebook.KindNetworkPolicy, "... and %d more NetworkPolicies", len(policies)-quoted))
	}
	return objs, ev
}

// k3sFlagValue returns the value of a K3s flag in node-args: the element
// after the flag, or the part after "=".
func k3sFlagValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}

// k3sBoolFlag reports whether a boolean K3s flag is on in node-args: given
// alone (the next element is another flag, or none), or followed by
// "true" as config-file booleans are.
func k3sBoolFlag(args []string, flag string) bool {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v == "true"
		}
		if a != flag {
			continue
		}
		if i+1 == len(args) || strings.HasPrefix(args[i+1], "-") {
			return true
		}
		return args[i+1] == "true"
	}
	return false
}

// effectiveTypes returns the directions a policy governs: policyTypes, or
// when unset Ingress, plus Egress if it has egress rules.
func effectiveTypes(p *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(p.Spec.PolicyTypes) == 0 {
		return true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

func quotePolicy(p *networkingv1.NetworkPolicy) casebook.Evidence {
	sel := metav1.FormatLabelSelector(&p.Spec.PodSelector)
	if sel == "<none>" {
		sel = "{} (every pod in the namespace)"
	}
	var types []string
	in, eg := effectiveTypes(p)
	if in {
		types = append(types, "Ingress")
	}
	if eg {
		types = append(types, "Egress")
	}
	return quoteOf(casebook.KindNetworkPolicy, p, "spec: podSelector %s, policyTypes [%s]", sel, strings.Join(types, ", "))
}

// policySelects reports whether a policy applies to a pod. Pods on the
// host network have no pod IP of their own and are not governed.
func policySelects(sel labels.Selector, p *corev1.Pod) bool {
	return !p.Spec.HostNetwork && sel.Matches(labels.Set(p.Labels))
}

// workloads are the pod templates of a cluster, to tell a selector that
// matches no pod yet (an app scaled to zero, a job between runs) from one
// that matches nothing at all.
type workloads struct {
	templates []workloadTemplate
}

type workloadTemplate struct {
	kind      string
	namespace string
	name      string
	labels    map[string]string // the workload's own labels
	pod       map[string]string // its pod template's labels
}

func (r *reader) workloads() (*workloads, error) {
	w := &workloads{}
	add := func(kind casebook.Kind, obj metav1.Object, tpl *corev1.PodTemplateSpec) {
		w.templates = append(w.templates, workloadTemplate{kind: strings.ToLower(string(kind)), namespace: obj.GetNamespace(),
			name: obj.GetName(), labels: obj.GetLabels(), pod: tpl.Labels})
	}
	deps, err := cluster.List[appsv1.Deployment](r.st, casebook.KindDeployment, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, d := range deps {
			add(casebook.KindDeployment, d, &d.Spec.Template)
		}
	}
	sts, err := cluster.List[appsv1.StatefulSet](r.st, casebook.KindStatefulSet, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, s := range sts {
			add(casebook.KindStatefulSet, s, &s.Spec.Template)
		}
	}
	dss, err := cluster.List[appsv1.DaemonSet](r.st, casebook.KindDaemonSet, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, d := range dss {
			add(casebook.KindDaemonSet, d, &d.Spec.Template)
		}
	}
	jobs, err := cluster.List[batchv1.Job](r.st, casebook.KindJob, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, j := range jobs {
			add(casebook.KindJob, j, &j.Spec.Template)
		}
	}
	return w, nil
}

// selectsNoPod finds a policy whose podSelector matches no pod in its
// namespace, and no pod template either: it governs nothing, and the pods
// it was written for are not protected.
func selectsNoPod(p *networkingv1.NetworkPolicy, pods []*corev1.Pod, w *workloads) (casebook.Finding, bool) {
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil || sel.Empty() || len(pods) == 0 {
		return casebook.Finding{}, false
	}
	for _, pod := range pods {
		if sel.Matches(labels.Set(pod.Labels)) {
			return casebook.Finding{}, false
		}
	}
	var ownLabels []casebook.Evidence
	for _, t := range w.templates {
		if t.namespace != p.Namespace {
			continue
		}
		if sel.Matches(labels.Set(t.pod)) {
			// Its pods are just not there now.
			return casebook.Finding{}, false
		}
		if sel.Matches(labels.Set(t.labels)) {
			ownLabels = append(ownLabels, quote(casebook.Kind(t.kind), objName(t.namespace, t.name), "has labels %s, but its pod template's labels are %s",
				formatLabels(t.labels), formatLabels(t.pod)))
		}
	}
	ev := []casebook.Evidence{
		quote(casebook.KindNetworkPolicy, objName(p.Namespace, p.Name), "spec.podSelector: %s", metav1.FormatLabelSelector(&p.Spec.PodSelector)),
		note(casebook.KindPod, "no pod in namespace %s matches it (%d pods there)", p.Namespace, len(pods)),
	}
	ev = append(ev, ownLabels...)
	if len(p.Spec.PodSelector.MatchExpressions) == 0 {
		ev = append(ev, nearMisses(p.Spec.PodSelector.MatchLabels, pods)...)
	}
	return casebook.Finding{
		CaseID: "K-004", Cause: "policy-selects-no-pod", Objects: []casebook.ObjectRef{ref(casebook.KindNetworkPolicy, p)},
		Message:  "the NetworkPolicy's podSelector matches no pod, so it protects nothing",
		Evidence: ev,
	}, true
}

// egressWithoutDNS finds pods whose egress is governed by policies that,
// taken together, allow no UDP port 53: every DNS lookup from them fails.
// Policies add up, so a default-deny next to an allow-DNS policy is fine.
func egressWithoutDNS(policies []*networkingv1.NetworkPolicy, podsByNS map[string][]*corev1.Pod) []casebook.Finding {
	type egressPolicy struct {
		p   *networkingv1.NetworkPolicy
		sel labels.Selector
	}
	byNS := map[string][]egressPolicy{}
	for _, p := range policies {
		if _, eg := effectiveTypes(p); !eg {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			continue
		}
		byNS[p.Namespace] = append(byNS[p.Namespace], egressPolicy{p, sel})
	}
	type group struct {
		policies []*networkingv1.NetworkPolicy
		pods     []*corev1.Pod
	}
	groups := map[string]*group{}
	var order []string
	namespaces := make([]string, 0, len(byNS))
	for ns := range byNS {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		for _, pod := range podsByNS[ns] {
			var governing []*networkingv1.NetworkPolicy
			dns := false
			for _, ep := range byNS[ns] {
				if !policySelects(ep.sel, pod) {
					continue
				}
				governing = append(governing, ep.p)
				for _, rule := range ep.p.Spec.Egress {
					dns = dns || allowsDNS(rule)
				}
			}
			if len(governing) == 0 || dns {
				continue
			}
			var names []string
			for _, p := range governing {
				names = append(names, p.Name)
			}
			key := ns + "/" + strings.Join(names, ",")
			g := groups[key]
			if g == nil {
				g = &group{policies: governing}
				groups[key] = g
				order = append(order, key)
			}
			g.pods = append(g.pods, pod)
		}
	}
	var out []casebook.Finding
	for _, key := range order {
		g := groups[key]
		f := casebook.Finding{CaseID: "K-004", Cause: "egress-blocks-dns",
			Message: "the egress NetworkPolicies of these pods allow no UDP port 53, so their DNS lookups fail"}
		for _, p := range g.policies {
			f.Objects = append(f.Objects, ref(casebook.KindNetworkPolicy, p))
			ev := quotePolicy(p)
			ev.Text += ", egress " + quoteEgress(p.Spec.Egress)
			f.Evidence = append(f.Evidence, ev)
		}
		const quoted = 3
		var names []string
		for i, pod := range g.pods {
			if i < quoted {
				names = append(names, pod.Name)
			}
		}
		more := ""
		if len(g.pods) > quoted {
			more = fmt.Sprintf(" and %d more", len(g.pods)-quoted)
		}
		f.Evidence = append(f.Evidence, note(casebook.KindPod, "pods in %s governed by no egress rule to port 53/UDP: %s%s", g.policies[0].Namespace, strings.Join(names, ", "), more))
		out = append(out, f)
	}
	return out
}

// allowsDNS reports whether an egress rule lets UDP port 53 out, to
// whatever peers it names: a rule without ports allows every port.
func allowsDNS(rule networkingv1.NetworkPolicyEgressRule) bool {
	if len(rule.Ports) == 0 {
		return true
	}
	for _, pp := range rule.Ports {
		if pp.Protocol == nil || *pp.Protocol != corev1.ProtocolUDP {
			continue
		}
		switch {
		case pp.Port == nil:
			return true
		case pp.Port.Type == intstr.String:
			if pp.Port.StrVal == "dns" {
				return true
			}
		case pp.Port.IntVal == 53:
			return true
		case pp.EndPort != nil && pp.Port.IntVal <= 53 && *pp.EndPort >= 53:
			return true
		}
	}
	return false
}

func quoteEgress(rules []networkingv1.NetworkPolicyEgressRule) string {
	if len(rules) == 0 {
		return "[] (deny all)"
	}
	var parts []string
	for _, r := range rules {
		ports := "all ports"
		if len(r.Ports) > 0 {
			var ps []string
			for _, p := range r.Ports {
				ps = append(ps, quotePolicyPort(p))
			}
			ports = strings.Join(ps, ",")
		}
		to := "anywhere"
		if len(r.To) > 0 {
			to = fmt.Sprintf("%d peer(s)", len(r.To))
		}
		parts = append(parts, fmt.Sprintf("to %s on %s", to, ports))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func quotePolicyPort(p networkingv1.NetworkPolicyPort) string {
	proto := "TCP"
	if p.Protocol != nil {
		proto = string(*p.Protocol)
	}
	port := "*"
	if p.Port != nil {
		port = p.Port.String()
	}
	if p.EndPort != nil {
		port += fmt.Sprintf("-%d", *p.EndPort)
	}
	return port + "/" + proto
}

// ingressServicePorts finds ingress rules whose numeric port is a
// Service's port rather than the pod's: policies act after the Service's
// DNAT, on the pod port (the Service's targetPort), so the rule allows
// nothing the pods listen on.
func ingressServicePorts(p *networkingv1.NetworkPolicy, pods []*corev1.Pod, services []*corev1.Service) []casebook.Finding {
	if in, _ := effectiveTypes(p); !in {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		return nil
	}
	var selected []*corev1.Pod
	declared := map[string]bool{} // "8080/TCP" and "http/TCP"
	var podPorts []string         // "http 8080/TCP"
	for _, pod := range pods {
		if !policySelects(sel, pod) {
			continue
		}
		selected = append(selected, pod)
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				desc := fmt.Sprintf("%d/%s", cp.ContainerPort, proto)
				if cp.Name != "" {
					declared[cp.Name+"/"+string(proto)] = true
					desc = cp.Name + " " + desc
				}
				if !declared[fmt.Sprintf("%d/%s", cp.ContainerPort, proto)] {
					podPorts = append(podPorts, desc)
				}
				declared[fmt.Sprintf("%d/%s", cp.ContainerPort, proto)] = true
			}
		}
	}
	if len(selected) == 0 || len(declared) == 0 {
		return nil
	}
	var out []casebook.Finding
	seen := map[string]bool{}
	for _, rule := range p.Spec.Ingress {
		for _, pp := range rule.Ports {
			if pp.Port == nil || pp.Port.Type != intstr.Int || pp.EndPort != nil {
				continue
			}
			proto := corev1.ProtocolTCP
			if pp.Protocol != nil {
				proto = *pp.Protocol
			}
			key := fmt.Sprintf("%d/%s", pp.Port.IntVal, proto)
			if declared[key] || seen[key] {
				continue
			}
			svc, sp, ok := serviceMapping(services, p.Namespace, selected, pp.Port.IntVal, proto)
			if !ok {
				continue
			}
			target := sp.TargetPort.String()
			if sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == 0 {
				continue
			}
			if !declared[target+"/"+string(proto)] {
				continue
			}
			seen[key] = true
			sort.Strings(podPorts)
			out = append(out, casebook.Finding{
				CaseID: "K-004", Cause: "ingress-port-is-service-port", Objects: []casebook.ObjectRef{ref(casebook.KindNetworkPolicy, p)},
				Message: "the NetworkPolicy allows the Service's port, but policies see the pod's port (the targetPort), so the traffic it means to allow is refused",
				Evidence: []casebook.Evidence{
					quote(casebook.KindNetworkPolicy, objName(p.Namespace, p.Name), "ingress ports: %s", quotePolicyPort(pp)),
					quote(casebook.KindService, objName(svc.Namespace, svc.Name), "spec.ports[%s]: port %d, targetPort %s", servicePortName(sp), sp.Port, target),
					note(casebook.KindPod, "the selected pods declare container ports: %s", strings.Join(podPorts, ", ")),
				},
			})
		}
	}
	return out
}

// serviceMapping returns a Service in the namespace that selects one of the
// pods and has port as its port, with a different targetPort.
func serviceMapping(services []*corev1.Service, ns string, pods []*corev1.Pod, port int32, proto corev1.Protocol) (*corev1.Service, corev1.ServicePort, bool) {
	for _, svc := range services {
		if svc.Namespace != ns || len(svc.Spec.Selector) == 0 {
			continue
		}
		picks := false
		for _, pod := range pods {
			if selects(svc.Spec.Selector, pod.Labels) {
				picks = true
				break
			}
		}
		if !picks {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			spProto := sp.Protocol
			if spProto == "" {
				spProto = corev1.ProtocolTCP
			}
			if sp.Port != port || spProto != proto {
				continue
			}
			if sp.TargetPort.Type == intstr.Int && (sp.TargetPort.IntVal == port || sp.TargetPort.IntVal == 0) {
				continue
			}
			return svc, sp, true
		}
	}
	return nil, corev1.ServicePort{}, false
}

func servicePortName(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return fmt.Sprint(sp.Port)
}

// k004Steps are the next steps of NetworkPolicyNotEffective findings, by cause.
var k004Steps = stepsByCause{
	"policy-controller-disabled": {
		{Step: 2, Kind: casebook.KindNode, Cmd: `kubectl get node %name% -o jsonpath='{.metadata.annotations.k3s\.io/node-args}{"\n"}'`},
		{Step: 3, Kind: casebook.KindNode, Cmd: `journalctl -u k3s --no-pager | grep -i "network policy"`, OnNode: true},
	},
	"policy-selects-no-pod": {
		{Step: 6, Kind: casebook.KindNetworkPolicy, Cmd: `kubectl describe networkpolicy -n %ns% %name%`},
		{Step: 6, Kind: casebook.KindNetworkPolicy, Cmd: `kubectl get pods -n %ns% --show-labels`},
	},
	"": {
		{Step: 6, Kind: casebook.KindNetworkPolicy, Cmd: `kubectl describe networkpolicy -n %ns% %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (NetworkPolicyNotEffective) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return k004Steps.of(f.Cause)
}

// k004ZH are the messages of NetworkPolicyNotEffective findings in Chinese, by cause.
var k004ZH = zhByCause{
	"policy-controller-disabled":   `存在 NetworkPolicy 但无人执行：K3s 以 --disable-network-policy 运行，且没有安装带策略引擎的 CNI`,
	"policy-selects-no-pod":        `NetworkPolicy 的 podSelector 选不中任何 Pod，因此它什么也不保护`,
	"egress-blocks-dns":            `这些 Pod 的出站 NetworkPolicy 没有放行 UDP 53 端口，DNS 查询因此失败`,
	"ingress-port-is-service-port": `NetworkPolicy 放行的是 Service 端口，但策略看到的是 Pod 端口（targetPort），本想放行的流量被拒绝`,
}

// MessageZH returns the finding's message in Chinese.
func (NetworkPolicyNotEffective) MessageZH(f *casebook.Finding) string { return k004ZH.of(f.Cause) }
