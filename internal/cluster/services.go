package cluster

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	casebook "github.com/casebook-dev/casebook"
)

// ServiceIndex resolves Services to their EndpointSlices and pods: the
// chain N-002, N-003 and O-001 each follow.
type ServiceIndex struct {
	services []*corev1.Service
	byKey    map[string]*corev1.Service
	slices   map[string][]*discoveryv1.EndpointSlice
	pods     *PodIndex
}

// Backend is a Service with what serves it.
type Backend struct {
	Service *corev1.Service
	Slices  []*discoveryv1.EndpointSlice
	// Pods are the live pods the Service's selector selects.
	Pods []*corev1.Pod
	// Ready counts the ready endpoints of the slices.
	Ready int
}

// Services returns the Services in scope.
func (s *State) Services() ([]*corev1.Service, error) {
	return List[corev1.Service](s, casebook.KindService, casebook.AllNamespaces)
}

// ServiceIndex returns the Service index. EndpointSlices and pods that
// cannot be read leave their part empty; the error says why.
func (s *State) ServiceIndex() (*ServiceIndex, error) {
	svcs, err := s.Services()
	if err != nil {
		return nil, err
	}
	slices, sliceErr := List[discoveryv1.EndpointSlice](s, casebook.KindEndpointSlice, casebook.AllNamespaces)
	pods, podErr := s.PodIndex()
	idx := s.services.get(func() *ServiceIndex { return newServiceIndex(svcs, slices, pods) })
	if sliceErr != nil {
		return idx, sliceErr
	}
	return idx, podErr
}

func newServiceIndex(svcs []*corev1.Service, slices []*discoveryv1.EndpointSlice, pods *PodIndex) *ServiceIndex {
	idx := &ServiceIndex{services: svcs, byKey: make(map[string]*corev1.Service, len(svcs)),
		slices: map[string][]*discoveryv1.EndpointSlice{}, pods: pods}
	for _, s := range svcs {
		idx.byKey[s.Namespace+"/"+s.Name] = s
	}
	for _, s := range slices {
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			idx.slices[s.Namespace+"/"+svc] = append(idx.slices[s.Namespace+"/"+svc], s)
		}
	}
	return idx
}

// All returns every Service in scope.
func (idx *ServiceIndex) All() []*corev1.Service { return idx.services }

// Get returns a Service by namespace and name, or nil.
func (idx *ServiceIndex) Get(namespace, name string) *corev1.Service {
	return idx.byKey[namespace+"/"+name]
}

// Backend returns what serves the Service namespace/name; its Service is
// nil when there is no such Service in scope.
func (idx *ServiceIndex) Backend(namespace, name string) Backend {
	b := Backend{Service: idx.byKey[namespace+"/"+name], Slices: idx.slices[namespace+"/"+name]}
	for _, s := range b.Slices {
		b.Ready += ReadyEndpoints(s)
	}
	if b.Service != nil && idx.pods != nil {
		b.Pods = idx.pods.Selected(namespace, b.Service.Spec.Selector)
	}
	return b
}

// ReadyEndpoints counts the ready endpoints of a slice (an endpoint
// without a ready condition counts as ready, as the API says).
func ReadyEndpoints(s *discoveryv1.EndpointSlice) int {
	n := 0
	for _, e := range s.Endpoints {
		if e.Conditions.Ready == nil || *e.Conditions.Ready {
			n++
		}
	}
	return n
}
