package cluster

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	casebook "github.com/casebook-dev/casebook"
)

// Webhooks returns the ValidatingWebhookConfigurations.
func (s *State) Webhooks() ([]*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	return List[admissionregistrationv1.ValidatingWebhookConfiguration](s, casebook.KindValidatingWebhookConfiguration, "")
}

// WebhookBackend resolves a webhook's Service to its EndpointSlices and
// pods. A webhook's Service usually lives in a namespace of its own
// (gatekeeper-system), which is read even when the diagnosis is limited to
// another namespace. An error says which part could not be read.
func (s *State) WebhookBackend(ref *admissionregistrationv1.ServiceReference) (Backend, error) {
	if idx, err := s.ServiceIndex(); err == nil {
		if b := idx.Backend(ref.Namespace, ref.Name); b.Service != nil {
			return b, nil
		}
	}
	// Not in scope: read the webhook's namespace itself.
	var b Backend
	svcs, err := List[corev1.Service](s, casebook.KindService, ref.Namespace)
	if err != nil {
		return b, err
	}
	for _, svc := range svcs {
		if svc.Name == ref.Name {
			b.Service = svc
		}
	}
	slices, err := List[discoveryv1.EndpointSlice](s, casebook.KindEndpointSlice, ref.Namespace)
	if err != nil {
		return b, err
	}
	for _, sl := range slices {
		if sl.Labels[discoveryv1.LabelServiceName] == ref.Name {
			b.Slices = append(b.Slices, sl)
			b.Ready += ReadyEndpoints(sl)
		}
	}
	if b.Service == nil || len(b.Service.Spec.Selector) == 0 {
		return b, nil
	}
	pods, err := s.PodsIn(ref.Namespace)
	if err != nil {
		return b, err
	}
	b.Pods = newPodIndex(pods).Selected(ref.Namespace, b.Service.Spec.Selector)
	return b, nil
}
