package cluster

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	casebook "github.com/casebook-dev/casebook"
)

// PodIndex holds the pods in scope by namespace, node and owner. Pods that
// have finished or are going away are left out of the namespace and owner
// lists: they serve nothing and are waited for by no one.
type PodIndex struct {
	all         []*corev1.Pod
	byNamespace map[string][]*corev1.Pod
	byNode      map[string][]*corev1.Pod
	byOwner     map[types.UID][]*corev1.Pod
	byKey       map[string]*corev1.Pod
}

// Pods returns the pods in scope, sorted by namespace and name.
func (s *State) Pods() ([]*corev1.Pod, error) {
	return List[corev1.Pod](s, casebook.KindPod, casebook.AllNamespaces)
}

// PodsIn returns the pods of one namespace, read even when the diagnosis
// is limited to another.
func (s *State) PodsIn(namespace string) ([]*corev1.Pod, error) {
	return List[corev1.Pod](s, casebook.KindPod, namespace)
}

// PodsAndSystem returns the pods in scope plus those of kube-system, where
// K3s runs its packaged components, even when the diagnosis is limited to
// another namespace. An unreadable kube-system comes back as a skippable
// error with the pods in scope.
func (s *State) PodsAndSystem() ([]*corev1.Pod, error) {
	pods, err := s.Pods()
	if err != nil {
		return nil, err
	}
	for _, p := range pods {
		if p.Namespace == SystemNamespace {
			return pods, nil
		}
	}
	system, err := s.PodsIn(SystemNamespace)
	if err != nil {
		return pods, err
	}
	return append(append([]*corev1.Pod(nil), pods...), system...), nil
}

// PodIndex returns the index of the pods in scope.
func (s *State) PodIndex() (*PodIndex, error) {
	pods, err := s.Pods()
	return s.pods.get(func() *PodIndex { return newPodIndex(pods) }), err
}

func newPodIndex(pods []*corev1.Pod) *PodIndex {
	idx := &PodIndex{all: pods, byNamespace: map[string][]*corev1.Pod{}, byNode: map[string][]*corev1.Pod{},
		byOwner: map[types.UID][]*corev1.Pod{}, byKey: make(map[string]*corev1.Pod, len(pods))}
	for _, p := range pods {
		idx.byKey[p.Namespace+"/"+p.Name] = p
		if p.Spec.NodeName != "" {
			idx.byNode[p.Spec.NodeName] = append(idx.byNode[p.Spec.NodeName], p)
		}
		if Terminal(p) {
			continue
		}
		idx.byNamespace[p.Namespace] = append(idx.byNamespace[p.Namespace], p)
		for _, o := range p.OwnerReferences {
			idx.byOwner[o.UID] = append(idx.byOwner[o.UID], p)
		}
	}
	return idx
}

// All returns every pod in scope.
func (idx *PodIndex) All() []*corev1.Pod { return idx.all }

// Get returns a pod by namespace and name, or nil.
func (idx *PodIndex) Get(namespace, name string) *corev1.Pod { return idx.byKey[namespace+"/"+name] }

// InNamespace returns the live pods of a namespace.
func (idx *PodIndex) InNamespace(ns string) []*corev1.Pod { return idx.byNamespace[ns] }

// OnNode returns every pod bound to a node.
func (idx *PodIndex) OnNode(node string) []*corev1.Pod { return idx.byNode[node] }

// OwnedBy returns the live pods an object (a ReplicaSet, StatefulSet,
// DaemonSet, Job) owns.
func (idx *PodIndex) OwnedBy(uid types.UID) []*corev1.Pod { return idx.byOwner[uid] }

// Selected returns the live pods of a namespace a Service-style selector
// selects; an empty selector selects none.
func (idx *PodIndex) Selected(ns string, selector map[string]string) []*corev1.Pod {
	if len(selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromValidatedSet(selector)
	var out []*corev1.Pod
	for _, p := range idx.byNamespace[ns] {
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// Terminal reports whether a pod has finished or is going away.
func Terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil
}
