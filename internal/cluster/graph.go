package cluster

import (
	"regexp"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
)

// Upstream returns the objects whose health an object's health depends on,
// one step up the graph: an Ingress on its backend Services, a Service on
// the pods it selects, a pod on its claims and its node, a claim on its
// volume, a workload that cannot create pods on the admission webhooks its
// events name. The engine walks it to put root causes first.
func (s *State) Upstream(o casebook.ObjectRef) []casebook.ObjectRef {
	var out []casebook.ObjectRef
	switch casebook.Kind(o.Kind) {
	case casebook.KindIngress:
		ings, _ := s.Ingresses()
		for _, ing := range ings {
			if ing.Namespace != o.Namespace || ing.Name != o.Name {
				continue
			}
			for _, b := range BackendServices(ing) {
				out = append(out, casebook.ObjectRef{Kind: string(casebook.KindService), Namespace: ing.Namespace, Name: b.Service.Name})
			}
		}
	case casebook.KindService:
		if idx, err := s.ServiceIndex(); idx != nil && (err == nil || Skippable(err)) {
			for _, p := range idx.Backend(o.Namespace, o.Name).Pods {
				out = append(out, ref(casebook.KindPod, p.Namespace, p.Name))
			}
		}
	case casebook.KindPod:
		idx, _ := s.PodIndex()
		if idx == nil {
			break
		}
		p := idx.Get(o.Namespace, o.Name)
		if p == nil {
			break
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				out = append(out, ref(casebook.KindPersistentVolumeClaim, p.Namespace, v.PersistentVolumeClaim.ClaimName))
			}
		}
		if p.Spec.NodeName != "" {
			out = append(out, ref(casebook.KindNode, "", p.Spec.NodeName))
		}
	case casebook.KindPersistentVolumeClaim:
		if idx, _ := s.Storage(); idx != nil {
			if c := idx.Claim(o.Namespace, o.Name); c != nil && c.Spec.VolumeName != "" {
				out = append(out, ref(casebook.KindPersistentVolume, "", c.Spec.VolumeName))
			}
		}
	case casebook.KindValidatingWebhookConfiguration:
		configs, _ := s.Webhooks()
		for _, c := range configs {
			if c.Name != o.Name {
				continue
			}
			for _, w := range c.Webhooks {
				if svc := w.ClientConfig.Service; svc != nil {
					out = append(out, ref(casebook.KindService, svc.Namespace, svc.Name))
				}
			}
		}
	case casebook.KindReplicaSet, casebook.KindStatefulSet, casebook.KindDaemonSet, casebook.KindJob:
		out = append(out, s.failingWebhooks(o)...)
	}
	return out
}

func ref(kind casebook.Kind, ns, name string) casebook.ObjectRef {
	return casebook.ObjectRef{Kind: string(kind), Namespace: ns, Name: name}
}

// webhookCall finds the webhook an admission error names, as the API
// server words it: failed calling webhook "validation.gatekeeper.sh": ...
var webhookCall = regexp.MustCompile(`failed calling webhook "([^"]+)"`)

// failingWebhooks returns the ValidatingWebhookConfigurations whose
// webhooks a workload's events say failed.
func (s *State) failingWebhooks(o casebook.ObjectRef) []casebook.ObjectRef {
	events, _ := s.Events()
	configs, _ := s.Webhooks()
	if events == nil || len(configs) == 0 {
		return nil
	}
	var out []casebook.ObjectRef
	seen := map[string]bool{}
	for _, e := range events.byKey[eventKey{o.Kind, o.Namespace, o.Name}] {
		if e.Type != corev1.EventTypeWarning {
			continue
		}
		m := webhookCall.FindStringSubmatch(e.Message)
		if m == nil {
			continue
		}
		for _, c := range configs {
			for _, w := range c.Webhooks {
				if w.Name == m[1] && !seen[c.Name] {
					seen[c.Name] = true
					out = append(out, ref(casebook.KindValidatingWebhookConfiguration, "", c.Name))
				}
			}
		}
	}
	return out
}
