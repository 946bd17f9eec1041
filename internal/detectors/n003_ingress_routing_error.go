package detectors

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// IngressRoutingError finds N-003: Ingresses whose routes cannot work
// because their backend Service or port is missing, their IngressClass does
// not exist or has no running controller, their TLS Secret is absent, or
// another Ingress claims the same host and path.
type IngressRoutingError struct{}

var (
	_ engine.Detector   = IngressRoutingError{}
	_ engine.Stepper    = IngressRoutingError{}
	_ engine.Translator = IngressRoutingError{}
	_ engine.Explainer  = IngressRoutingError{}
)

// CaseID returns "N-003".
func (IngressRoutingError) CaseID() string { return "N-003" }

// Kinds lists the kinds the detector reads.
func (IngressRoutingError) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindIngress, casebook.KindIngressClass, casebook.KindService, casebook.KindEndpointSlice, casebook.KindPod, casebook.KindNode, casebook.KindSecret}
}

// ingressControllers maps IngressClass controllers to the label their pods
// carry, for the controllers an edge cluster runs.
var ingressControllers = map[string]struct{ label, value, k3sComponent string }{
	"traefik.io/ingress-controller": {"app.kubernetes.io/name", "traefik", "traefik"},
	"k8s.io/ingress-nginx":          {"app.kubernetes.io/name", "ingress-nginx", ""},
}

const (
	defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
	legacyClassAnnotation  = "kubernetes.io/ingress.class"
)

// Detect checks every Ingress.
func (IngressRoutingError) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	ingresses, err := cluster.List[networkingv1.Ingress](st, casebook.KindIngress, casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	if len(ingresses) == 0 {
		return nil, nil
	}
	services, err := cluster.List[corev1.Service](st, casebook.KindService, casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	classes, err := cluster.List[networkingv1.IngressClass](st, casebook.KindIngressClass, "")
	classesOK, err := r.optional(err)
	if err != nil {
		return nil, err
	}
	pods, err := r.podsAndSystem()
	if err != nil {
		return nil, err
	}
	// The pods of each known controller, found once for every Ingress.
	ctrlPods := map[string][]*corev1.Pod{}
	for ctrl, known := range ingressControllers {
		for _, p := range pods {
			if p.Labels[known.label] == known.value && !podTerminal(p) {
				ctrlPods[ctrl] = append(ctrlPods[ctrl], p)
			}
		}
	}
	// K3s flags say whether Traefik was disabled on purpose.
	nodeIdx, err := st.NodeIndex()
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	secrets, err := cluster.List[metav1.PartialObjectMetadata](st, casebook.KindSecret, casebook.AllNamespaces)
	secretsOK, err := r.optional(err)
	if err != nil {
		return nil, err
	}

	// The endpoints behind each backend; without EndpointSlices that
	// check is skipped.
	svcIdx, err := st.ServiceIndex()
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if !ok {
		svcIdx = nil
	}

	svcByName := map[string]*corev1.Service{}
	for _, s := range services {
		svcByName[s.Namespace+"/"+s.Name] = s
	}
	classByName := map[string]*networkingv1.IngressClass{}
	var defaults []*networkingv1.IngressClass
	for _, c := range classes {
		classByName[c.Name] = c
		if c.Annotations[defaultClassAnnotation] == "true" {
			defaults = append(defaults, c)
		}
	}
	secretExists := map[string]bool{}
	for _, s := range secrets {
		secretExists[s.GetNamespace()+"/"+s.GetName()] = true
	}

	var out []casebook.Finding
	for _, ing := range ingresses {
		ingRef := ref(casebook.KindIngress, ing)
		name := objName(ing.Namespace, ing.Name)

		class, classQuote := effectiveClass(ing, defaults)
		if classesOK {
			if ing.Spec.IngressClassName != nil && classByName[*ing.Spec.IngressClassName] == nil {
				out = append(out, casebook.Finding{
					CaseID: "N-003", Cause: "ingress-class-missing", Objects: []casebook.ObjectRef{ingRef},
					Message:  "the Ingress names an IngressClass that does not exist, so no controller serves it",
					Evidence: []casebook.Evidence{classQuote, note(casebook.KindIngressClass, "IngressClasses in the cluster: %s", listClasses(classes))},
				})
			} else if f, ok := checkController(ing, class, classQuote, classByName, classes, ctrlPods, nodeIdx); ok {
				out = append(out, f)
			}
		}

		for _, b := range backends(ing) {
			svc := svcByName[ing.Namespace+"/"+b.service.Name]
			backendQuote := quote(casebook.KindIngress, name, "%s backend: service %s port %s", b.where, b.service.Name, backendPort(b.service.Port))
			if svc == nil {
				out = append(out, casebook.Finding{
					CaseID: "N-003", Cause: "backend-service-missing", Objects: []casebook.ObjectRef{ingRef},
					Message:  "the Ingress routes to a Service that does not exist",
					Evidence: []casebook.Evidence{backendQuote, quote(casebook.KindService, objName(ing.Namespace, b.service.Name), "not found")},
				})
				continue
			}
			if !serviceHasPort(svc, b.service.Port) {
				var ports []string
				for _, p := range svc.Spec.Ports {
					ports = append(ports, servicePortDesc(p))
				}
				out = append(out, casebook.Finding{
					CaseID: "N-003", Cause: "backend-port-missing", Objects: []casebook.ObjectRef{ingRef},
					Message:  "the Ingress routes to a port its backend Service does not have",
					Evidence: []casebook.Evidence{backendQuote, quote(casebook.KindService, objName(svc.Namespace, svc.Name), "spec.ports: %s", strings.Join(ports, ", "))},
				})
				continue
			}
			if f, ok := noReadyBackend(svcIdx, ingRef, backendQuote, svc); ok {
				out = append(out, f)
			}
		}

		if secretsOK {
			for _, tls := range ing.Spec.TLS {
				if tls.SecretName == "" || secretExists[ing.Namespace+"/"+tls.SecretName] {
					continue
				}
				out = append(out, casebook.Finding{
					CaseID: "N-003", Cause: "tls-secret-missing", Objects: []casebook.ObjectRef{ingRef},
					Message: "the Ingress's TLS Secret does not exist, so HTTPS is served with the controller's default certificate or not at all",
					Evidence: []casebook.Evidence{
						quote(casebook.KindIngress, name, "spec.tls: hosts %s, secretName %s", strings.Join(tls.Hosts, ","), tls.SecretName),
						quote(casebook.KindSecret, objName(ing.Namespace, tls.SecretName), "not found"),
					},
				})
			}
		}
	}
	out = append(out, conflicts(ingresses, defaults)...)
	return r.done(out)
}

// effectiveClass returns the class an Ingress belongs to and quotes where
// that comes from.
func effectiveClass(ing *networkingv1.Ingress, defaults []*networkingv1.IngressClass) (string, casebook.Evidence) {
	name := objName(ing.Namespace, ing.Name)
	switch {
	case ing.Spec.IngressClassName != nil:
		return *ing.Spec.IngressClassName, quote(casebook.KindIngress, name, "spec.ingressClassName: %s", *ing.Spec.IngressClassName)
	case ing.Annotations[legacyClassAnnotation] != "":
		c := ing.Annotations[legacyClassAnnotation]
		return c, quote(casebook.KindIngress, name, "annotation %s: %s", legacyClassAnnotation, c)
	case len(defaults) == 1:
		return defaults[0].Name, quote(casebook.KindIngress, name, "has no class; default IngressClass: %s", defaults[0].Name)
	}
	return "", quote(casebook.KindIngress, name, "has no class and the cluster has no default IngressClass")
}

func listClasses(classes []*networkingv1.IngressClass) string {
	if len(classes) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range classes {
		parts = append(parts, fmt.Sprintf("%s (controller %s)", c.Name, c.Spec.Controller))
	}
	return strings.Join(parts, ", ")
}

// checkController finds an Ingress whose controller is not running: its
// class's known controller has no ready pod, or no class and no controller
// exist at all (K3s started with --disable traefik).
func checkController(ing *networkingv1.Ingress, class string, classQuote casebook.Evidence, classByName map[string]*networkingv1.IngressClass,
	classes []*networkingv1.IngressClass, ctrlPods map[string][]*corev1.Pod, nodeIdx *cluster.NodeIndex) (casebook.Finding, bool) {
	var controllers []string
	if c := classByName[class]; c != nil {
		controllers = []string{c.Spec.Controller}
	} else if class == "" || class == "traefik" {
		if len(classes) > 0 {
			return casebook.Finding{}, false
		}
		// No class at all: whatever controller would serve it must be running.
		controllers = []string{"traefik.io/ingress-controller", "k8s.io/ingress-nginx"}
	} else {
		return casebook.Finding{}, false
	}
	ev := []casebook.Evidence{classQuote}
	for _, ctrl := range controllers {
		known, ok := ingressControllers[ctrl]
		if !ok {
			return casebook.Finding{}, false
		}
		found := ctrlPods[ctrl]
		for _, p := range found {
			if podReady(p) {
				return casebook.Finding{}, false
			}
		}
		if c := classByName[class]; c != nil {
			ev = append(ev, quote(casebook.KindIngressClass, c.Name, "spec.controller: %s", c.Spec.Controller))
		}
		if len(found) == 0 {
			ev = append(ev, note(casebook.KindPod, "no pod labelled %s=%s", known.label, known.value))
		}
		for _, p := range found {
			if c := podCondition(p, corev1.PodReady); c != nil {
				ev = append(ev, quotePodCondition(p, c))
			}
			ev = append(ev, waitingReasons(p)...)
		}
		if known.k3sComponent != "" {
			if q, ok := k3sDisables(nodeIdx, known.k3sComponent); ok {
				ev = append(ev, q)
			}
		}
	}
	return casebook.Finding{
		CaseID: "N-003", Cause: "ingress-controller-not-running", Objects: []casebook.ObjectRef{ref(casebook.KindIngress, ing)},
		Message:  "no ingress controller is running for the Ingress's class, so nothing routes its traffic",
		Evidence: ev,
	}, true
}

type backendRef struct {
	where   string
	service *networkingv1.IngressServiceBackend
	host    string
	path    string
}

// backends lists every Service backend of an Ingress.
func backends(ing *networkingv1.Ingress) []backendRef {
	var out []backendRef
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, backendRef{where: "spec.defaultBackend", service: b.Service})
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			host := rule.Host
			if host == "" {
				host = "*"
			}
			out = append(out, backendRef{where: fmt.Sprintf("rule %s%s", host, p.Path), service: p.Backend.Service, host: rule.Host, path: p.Path})
		}
	}
	return out
}

func backendPort(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprint(p.Number)
}

func serviceHasPort(svc *corev1.Service, p networkingv1.ServiceBackendPort) bool {
	for _, sp := range svc.Spec.Ports {
		if (p.Name != "" && sp.Name == p.Name) || (p.Name == "" && sp.Port == p.Number) {
			return true
		}
	}
	return false
}

func servicePortDesc(p corev1.ServicePort) string {
	if p.Name != "" {
		return fmt.Sprintf("%s %d/%s", p.Name, p.Port, p.Protocol)
	}
	return fmt.Sprintf("%d/%s", p.Port, p.Protocol)
}

// conflicts finds Ingresses of one class that claim the same host and path
// for different backends: the controller picks one and the other silently
// gets no traffic.
func conflicts(ingresses []*networkingv1.Ingress, defaults []*networkingv1.IngressClass) []casebook.Finding {
	type route struct{ class, host, path string }
	type claim struct {
		ing     *networkingv1.Ingress
		backend string
	}
	claims := map[route][]claim{}
	var order []route
	for _, ing := range ingresses {
		class, _ := effectiveClass(ing, defaults)
		for _, b := range backends(ing) {
			if b.where == "spec.defaultBackend" {
				continue
			}
			rt := route{class, b.host, b.path}
			if _, seen := claims[rt]; !seen {
				order = append(order, rt)
			}
			claims[rt] = append(claims[rt], claim{ing, objName(ing.Namespace, b.service.Name) + ":" + backendPort(b.service.Port)})
		}
	}
	var out []casebook.Finding
	for _, rt := range order {
		cs := claims[rt]
		backendsSeen := map[string]bool{}
		ingSeen := map[string]bool{}
		for _, c := range cs {
			backendsSeen[c.backend] = true
			ingSeen[c.ing.Namespace+"/"+c.ing.Name] = true
		}
		if len(backendsSeen) < 2 || len(ingSeen) < 2 {
			continue
		}
		sort.SliceStable(cs, func(i, j int) bool { return metaLess(cs[i].ing, cs[j].ing) })
		f := casebook.Finding{CaseID: "N-003", Cause: "host-path-conflict",
			Message: "two Ingresses claim the same host and path for different backends; only one of them gets the traffic"}
		host := rt.host
		if host == "" {
			host = "*"
		}
		for _, c := range cs {
			f.Objects = append(f.Objects, ref(casebook.KindIngress, c.ing))
			f.Evidence = append(f.Evidence, quoteOf(casebook.KindIngress, c.ing, "rule: host %s path %s -> service %s", host, rt.path, c.backend))
		}
		out = append(out, f)
	}
	return out
}

func metaLess(a, b metav1.Object) bool {
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}

// n003Steps are the next steps of IngressRoutingError findings, by cause.
var n003Steps = stepsByCause{
	"ingress-class-missing": {
		{Step: 3, Kind: casebook.KindIngress, Cmd: `kubectl get ingressclass`},
		{Step: 3, Kind: casebook.KindIngress, Cmd: `kubectl get ingress -n %ns% %name% -o yaml`},
	},
	"ingress-controller-not-running": {
		{Step: 2, Kind: casebook.KindIngress, Cmd: `kubectl describe ingress -n %ns% %name%`},
		{Step: 2, Kind: casebook.KindIngress, Cmd: `kubectl -n kube-system get pods -l app.kubernetes.io/name=traefik -o wide`},
		{Step: 2, Kind: casebook.KindIngress, Cmd: `kubectl -n kube-system get svc -l app.kubernetes.io/name=traefik`},
	},
	"tls-secret-missing": {
		{Step: 6, Kind: casebook.KindIngress, Cmd: `kubectl get ingress -n %ns% %name% -o jsonpath='{.spec.tls}{"\n"}'`},
		{Step: 6, Kind: casebook.KindIngress, Cmd: `kubectl get secrets -n %ns% --field-selector type=kubernetes.io/tls`},
	},
	"host-path-conflict": {
		{Step: 7, Kind: casebook.KindIngress, Cmd: `kubectl get ingress -n %ns% %name% -o yaml`},
		{Step: 7, Kind: casebook.KindIngress, Cmd: `kubectl get ingress -A -o wide`},
	},
	"": {
		{Step: 5, Kind: casebook.KindIngress, Cmd: `kubectl describe ingress -n %ns% %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (IngressRoutingError) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return n003Steps.of(f.Cause)
}

// noReadyBackend finds a backend Service that selects pods but has no
// ready endpoint: the controller has nowhere to send the Ingress's
// requests.
func noReadyBackend(idx *cluster.ServiceIndex, ing casebook.ObjectRef, backendQuote casebook.Evidence, svc *corev1.Service) (casebook.Finding, bool) {
	if idx == nil || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return casebook.Finding{}, false
	}
	b := idx.Backend(svc.Namespace, svc.Name)
	if b.Ready > 0 {
		return casebook.Finding{}, false
	}
	ev := []casebook.Evidence{backendQuote}
	ev = append(ev, quoteSlices(b.Slices)...)
	if len(b.Slices) == 0 {
		ev = append(ev, quoteOf(casebook.KindService, svc, "has no EndpointSlice"))
	}
	return casebook.Finding{
		CaseID: "N-003", Cause: "backend-no-ready-endpoints", Objects: []casebook.ObjectRef{ing},
		Message:  "the Ingress routes to a Service with no ready endpoint, so the controller has nowhere to send its requests",
		Evidence: ev,
	}, true
}

// n003ZH are the messages of IngressRoutingError findings in Chinese, by cause.
var n003ZH = zhByCause{
	"ingress-class-missing":          `Ingress 指定的 IngressClass 不存在，没有控制器为它服务`,
	"backend-service-missing":        `Ingress 路由到一个不存在的 Service`,
	"backend-port-missing":           `Ingress 路由到后端 Service 没有的端口`,
	"backend-no-ready-endpoints":     `Ingress 路由到的 Service 没有就绪端点，控制器无处转发请求`,
	"tls-secret-missing":             `Ingress 的 TLS Secret 不存在，HTTPS 用控制器的默认证书提供，或根本不提供`,
	"ingress-controller-not-running": `Ingress 所属类别的 ingress 控制器没有运行，没有组件为它路由流量`,
	"host-path-conflict":             `两个 Ingress 为不同后端声明了相同的 host 和 path，只有其中一个能收到流量`,
}

// MessageZH returns the finding's message in Chinese.
func (IngressRoutingError) MessageZH(f *casebook.Finding) string { return n003ZH.of(f.Cause) }

// Symptom reports whether a finding of the cause can be the consequence of
// another finding (its pods' own fault, say): only those are shown under
// a root cause.
func (IngressRoutingError) Symptom(cause string) bool {
	switch strings.SplitN(cause, "+", 2)[0] {
	case "backend-no-ready-endpoints", "ingress-controller-not-running":
		return true
	}
	return false
}
