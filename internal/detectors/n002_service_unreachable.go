package detectors

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// ServiceUnreachable finds N-002: Services that cannot deliver traffic
// because their selector matches no pod, none of the selected pods is
// ready, or their targetPort is not a port the pods expose. A
// LoadBalancer without an address is K-007's.
type ServiceUnreachable struct{}

var (
	_ engine.Detector   = ServiceUnreachable{}
	_ engine.Stepper    = ServiceUnreachable{}
	_ engine.Translator = ServiceUnreachable{}
	_ engine.Explainer  = ServiceUnreachable{}
)

// CaseID returns "N-002".
func (ServiceUnreachable) CaseID() string { return "N-002" }

// Kinds lists the kinds the detector reads.
func (ServiceUnreachable) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindService, casebook.KindEndpointSlice, casebook.KindPod, casebook.KindEvent}
}

// K3s ServiceLB labels its svclb pods with the Service they serve.
const (
	svclbServiceLabel   = "svccontroller.k3s.cattle.io/svcname"
	svclbNamespaceLabel = "svccontroller.k3s.cattle.io/svcnamespace"
)

// Detect checks every Service that selects pods.
func (ServiceUnreachable) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	// Service -> EndpointSlices -> pods, resolved once per run by the state.
	idx, err := st.ServiceIndex()
	if idx == nil {
		return nil, err
	}
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	pods, err := r.st.PodIndex()
	if err != nil {
		return nil, err
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}

	var out []casebook.Finding
	for _, svc := range idx.All() {
		if svc.Spec.Type == corev1.ServiceTypeExternalName || len(svc.Spec.Selector) == 0 {
			// Without a selector the endpoints are managed by hand; nothing to check.
			continue
		}
		svcRef := ref(casebook.KindService, svc)
		selectorQuote := quote(casebook.KindService, objName(svc.Namespace, svc.Name), "spec.selector: %s", formatLabels(svc.Spec.Selector))
		backend := idx.Backend(svc.Namespace, svc.Name)
		selected, svcSlices := backend.Pods, backend.Slices

		if len(selected) == 0 {
			ev := []casebook.Evidence{selectorQuote}
			ev = append(ev, quoteSlices(svcSlices)...)
			ev = append(ev, nearMisses(svc.Spec.Selector, pods.InNamespace(svc.Namespace))...)
			out = append(out, casebook.Finding{
				CaseID: "N-002", Cause: "selector-matches-no-pod", Objects: []casebook.ObjectRef{svcRef},
				Message:  "the Service's selector matches no pod, so it has no endpoints",
				Evidence: ev,
			})
			continue
		}

		ready := 0
		for _, p := range selected {
			if podReady(p) {
				ready++
			}
		}
		if ready == 0 {
			ev := []casebook.Evidence{selectorQuote}
			ev = append(ev, quoteSlices(svcSlices)...)
			for _, p := range selected {
				if c := podCondition(p, corev1.PodReady); c != nil {
					ev = append(ev, quotePodCondition(p, c))
				} else {
					ev = append(ev, quote(casebook.KindPod, objName(p.Namespace, p.Name), "status.phase: %s", p.Status.Phase))
				}
				ev = append(ev, waitingReasons(p)...)
				if e := last(events.Of("Pod", p, "Unhealthy", "FailedScheduling", "BackOff")); e != nil {
					ev = append(ev, quoteEvent(e))
				}
			}
			out = append(out, casebook.Finding{
				CaseID: "N-002", Cause: "no-ready-endpoints", Objects: []casebook.ObjectRef{svcRef},
				Message:  fmt.Sprintf("none of the %d pod(s) the Service selects is Ready, so it has no ready endpoints", len(selected)),
				Evidence: ev,
			})
		}

		for _, sp := range svc.Spec.Ports {
			if f, ok := checkTargetPort(svc, sp, selected, selectorQuote); ok {
				out = append(out, f)
			}
		}
	}
	return r.done(out)
}

// checkTargetPort finds a targetPort the selected pods do not expose. A
// named targetPort that no container declares gets no endpoint port at all;
// a numeric one is only judged when the pods declare their ports.
func checkTargetPort(svc *corev1.Service, sp corev1.ServicePort, selected []*corev1.Pod, selectorQuote casebook.Evidence) (casebook.Finding, bool) {
	target := sp.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		target = intstr.FromInt32(sp.Port)
	}
	proto := sp.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	declared := map[string]bool{}
	var exposed []string
	found := false
	for _, p := range selected {
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				cproto := cp.Protocol
				if cproto == "" {
					cproto = corev1.ProtocolTCP
				}
				desc := fmt.Sprintf("%d/%s", cp.ContainerPort, cproto)
				if cp.Name != "" {
					desc = cp.Name + " " + desc
				}
				if !declared[desc] {
					declared[desc] = true
					exposed = append(exposed, desc)
				}
				if cproto != proto {
					continue
				}
				if (target.Type == intstr.String && cp.Name == target.StrVal) || (target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
					found = true
				}
			}
		}
	}
	if found || (target.Type == intstr.Int && len(exposed) == 0) {
		return casebook.Finding{}, false
	}
	sort.Strings(exposed)
	portName := sp.Name
	if portName == "" {
		portName = fmt.Sprint(sp.Port)
	}
	exposedQuote := note(casebook.KindPod, "the selected pods declare no container ports")
	if len(exposed) > 0 {
		exposedQuote = note(casebook.KindPod, "the selected pods declare container ports: %s", strings.Join(exposed, ", "))
	}
	cause, msg := "target-port-not-exposed", "the Service's targetPort is not a port its pods expose"
	if target.Type == intstr.String {
		cause, msg = "target-port-name-not-found", "the Service's named targetPort matches no container port name of its pods"
	}
	return casebook.Finding{
		CaseID: "N-002", Cause: cause, Objects: []casebook.ObjectRef{ref(casebook.KindService, svc)},
		Message: msg,
		Evidence: []casebook.Evidence{
			quote(casebook.KindService, objName(svc.Namespace, svc.Name), "spec.ports[%s]: port %d, targetPort %s, protocol %s", portName, sp.Port, target.String(), proto),
			exposedQuote, selectorQuote,
		},
	}, true
}

// quoteSlices quotes a Service's EndpointSlices: how many endpoints, how many ready.
func quoteSlices(slices []*discoveryv1.EndpointSlice) []casebook.Evidence {
	var out []casebook.Evidence
	for _, s := range slices {
		ready := 0
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				ready++
			}
		}
		out = append(out, quoteOf(casebook.KindEndpointSlice, s, "endpoints: %d, %d ready", len(s.Endpoints), ready))
	}
	return out
}

// nearMisses quotes up to three pods whose labels come close to the
// selector: every key present, and each differing value similar to the
// wanted one (the usual typo or rename: "webapp" for "web").
func nearMisses(selector map[string]string, pods []*corev1.Pod) []casebook.Evidence {
	var out []casebook.Evidence
	for _, p := range pods {
		close := true
		for k, want := range selector {
			have, ok := p.Labels[k]
			if !ok || (have != want && !similar(have, want)) {
				close = false
				break
			}
		}
		if close && len(out) < 3 {
			out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "labels: %s", formatLabels(p.Labels)))
		}
	}
	return out
}

// similar reports whether two label values look like one value mistyped
// or renamed: one contains the other, or they differ in at most two edits.
func similar(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	if strings.Contains(a, b) || strings.Contains(b, a) {
		return true
	}
	return editDistance(a, b) <= 2
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// n002Steps are the next steps of ServiceUnreachable findings, by cause.
var n002Steps = stepsByCause{
	"selector-matches-no-pod": {
		{Step: 2, Kind: casebook.KindService, Cmd: `kubectl get service -n %ns% %name% -o yaml`},
		{Step: 4, Kind: casebook.KindService, Cmd: `kubectl get pods -n %ns% --show-labels`},
	},
	"no-ready-endpoints": {
		{Step: 3, Kind: casebook.KindService, Cmd: `kubectl get endpointslices -n %ns% -l kubernetes.io/service-name=%name%`},
		{Step: 5, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
	},
	"target-port-not-exposed": {
		{Step: 6, Kind: casebook.KindService, Cmd: `kubectl get service -n %ns% %name% -o jsonpath='{.spec.ports}{"\n"}'`},
		{Step: 3, Kind: casebook.KindService, Cmd: `kubectl get endpointslices -n %ns% -l kubernetes.io/service-name=%name% -o yaml`},
	},
	"target-port-name-not-found": {
		{Step: 6, Kind: casebook.KindService, Cmd: `kubectl get service -n %ns% %name% -o jsonpath='{.spec.ports}{"\n"}'`},
		{Step: 3, Kind: casebook.KindService, Cmd: `kubectl get endpointslices -n %ns% -l kubernetes.io/service-name=%name% -o yaml`},
	},
	"": {
		{Step: 2, Kind: casebook.KindService, Cmd: `kubectl describe service -n %ns% %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (ServiceUnreachable) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return n002Steps.of(f.Cause)
}

// n002ZH are the messages of ServiceUnreachable findings in Chinese, by cause.
var n002ZH = zhByCause{
	"selector-matches-no-pod":    `Service 的选择器选不中任何 Pod，因此没有端点`,
	"no-ready-endpoints":         `Service 选中的 Pod 没有一个就绪，因此没有就绪端点`,
	"target-port-not-exposed":    `Service 的 targetPort 不是其 Pod 暴露的端口`,
	"target-port-name-not-found": `Service 的命名 targetPort 与其 Pod 的任何容器端口名都不匹配`,
}

// MessageZH returns the finding's message in Chinese.
func (ServiceUnreachable) MessageZH(f *casebook.Finding) string { return n002ZH.of(f.Cause) }

// Symptom reports whether a finding of the cause can be the consequence of
// another finding (its pods' own fault, say): only those are shown under
// a root cause.
func (ServiceUnreachable) Symptom(cause string) bool {
	switch strings.SplitN(cause, "+", 2)[0] {
	case "no-ready-endpoints":
		return true
	}
	return false
}
