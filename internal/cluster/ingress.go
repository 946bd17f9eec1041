package cluster

import (
	networkingv1 "k8s.io/api/networking/v1"

	casebook "github.com/casebook-dev/casebook"
)

// Ingresses returns the Ingresses in scope.
func (s *State) Ingresses() ([]*networkingv1.Ingress, error) {
	return List[networkingv1.Ingress](s, casebook.KindIngress, casebook.AllNamespaces)
}

// IngressClasses returns the IngressClasses.
func (s *State) IngressClasses() ([]*networkingv1.IngressClass, error) {
	return List[networkingv1.IngressClass](s, casebook.KindIngressClass, "")
}

// IngressBackend is one Service an Ingress routes to, and where.
type IngressBackend struct {
	// Where says which rule or default backend it is ("rule host /path").
	Where   string
	Host    string
	Path    string
	Service *networkingv1.IngressServiceBackend
}

// BackendServices returns the Service backends of an Ingress: its default
// backend, then each rule's paths, in spec order.
func BackendServices(ing *networkingv1.Ingress) []IngressBackend {
	var out []IngressBackend
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, IngressBackend{Where: "spec.defaultBackend", Service: b.Service})
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service == nil {
				continue
			}
			host := r.Host
			if host == "" {
				host = "*"
			}
			out = append(out, IngressBackend{Where: "rule " + host + p.Path, Host: r.Host, Path: p.Path, Service: p.Backend.Service})
		}
	}
	return out
}
