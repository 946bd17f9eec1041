package reproduce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	casebook "github.com/casebook-dev/casebook"
)

// DefaultMaxNodes is the lab rule: a cluster with more nodes than this is
// not taken for a lab unless the user says it is (--i-know). A lab is a
// kind, k3d, kwok or single-board cluster of a handful of nodes; a fleet's
// production cluster has more, and a small production cluster is still
// protected by the confirmation, the own namespace and the name prefix.
const DefaultMaxNodes = 5

// Lab is a cluster a reproduction writes to.
type Lab struct {
	kube   kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

// NewLab connects to the cluster cfg names, with a writing client.
func NewLab(cfg *rest.Config) (*Lab, error) {
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Lab{kube: kc, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// ErrNotALab is returned by Check for a cluster that does not look like a lab.
var ErrNotALab = errors.New("not a lab cluster")

// Check applies the lab rule and refuses a namespace casebook did not make.
func (l *Lab) Check(ctx context.Context, r *Reproduction, maxNodes int, iKnow bool) error {
	if maxNodes <= 0 {
		maxNodes = DefaultMaxNodes
	}
	nodes, err := l.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("count the nodes: %w", err)
	}
	if n := len(nodes.Items); n > maxNodes && !iKnow {
		return fmt.Errorf("%w: the cluster has %d nodes, more than %d; pass --i-know if it is a lab all the same", ErrNotALab, n, maxNodes)
	}
	ns, err := l.kube.CoreV1().Namespaces().Get(ctx, r.Namespace(), metav1.GetOptions{})
	if err == nil && ns.Labels[LabelKey] != LabelValue(r.CaseID) {
		return fmt.Errorf("namespace %s exists and was not made by casebook reproduce (no label %s=%s); refusing to touch it", r.Namespace(), LabelKey, LabelValue(r.CaseID))
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("read namespace %s: %w", r.Namespace(), err)
	}
	return nil
}

func (l *Lab) resource(u *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := u.GroupVersionKind()
	m, err := l.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s %s: the cluster does not serve %s: %w", u.GetKind(), u.GetName(), gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if IsClusterScoped(u) {
			return nil, fmt.Errorf("%s %s is namespaced in this cluster", u.GetKind(), u.GetName())
		}
		return l.dyn.Resource(m.Resource).Namespace(u.GetNamespace()), nil
	}
	if !strings.HasPrefix(u.GetName(), NamePrefix) {
		return nil, fmt.Errorf("%s %s is cluster-scoped and not named %s…", u.GetKind(), u.GetName(), NamePrefix)
	}
	return l.dyn.Resource(m.Resource), nil
}

// CreateNamespace makes the lab namespace, labelled.
func (l *Lab) CreateNamespace(ctx context.Context, r *Reproduction) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.Namespace(), Labels: map[string]string{LabelKey: LabelValue(r.CaseID)}}}
	_, err := l.kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Apply applies objects (already Prepared) with server-side apply.
func (l *Lab) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, u := range objs {
		ri, err := l.resource(u)
		if err != nil {
			return err
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	return nil
}

// Delete deletes objects (already Prepared); missing ones are fine.
func (l *Lab) Delete(ctx context.Context, objs []*unstructured.Unstructured) error {
	var errs []error
	for _, u := range objs {
		ri, err := l.resource(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		policy := metav1.DeletePropagationBackground
		if err := ri.Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", u.GetKind(), u.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes what a run of r made, this run's or a crashed one's:
// every cluster-scoped object of r's kinds labelled for r, then the lab
// namespace; it waits up to wait for the namespace to be gone (the
// namespace controller deletes its contents first). It returns what it
// removed.
func (l *Lab) Cleanup(ctx context.Context, r *Reproduction, wait time.Duration) ([]string, error) {
	var removed []string
	var errs []error
	seen := map[schema.GroupVersionResource]bool{}
	for _, u := range append(append([]*unstructured.Unstructured(nil), r.Broken...), r.Fix...) {
		if !IsClusterScoped(u) {
			continue
		}
		gvk := u.GroupVersionKind()
		m, err := l.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil || seen[m.Resource] {
			continue
		}
		seen[m.Resource] = true
		list, err := l.dyn.Resource(m.Resource).List(ctx, metav1.ListOptions{LabelSelector: LabelKey + "=" + LabelValue(r.CaseID)})
		if err != nil {
			errs = append(errs, fmt.Errorf("list %s: %w", m.Resource.Resource, err))
			continue
		}
		for _, o := range list.Items {
			if !strings.HasPrefix(o.GetName(), NamePrefix) {
				continue
			}
			if err := l.dyn.Resource(m.Resource).Delete(ctx, o.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete %s %s: %w", o.GetKind(), o.GetName(), err))
				continue
			}
			removed = append(removed, o.GetKind()+" "+o.GetName())
		}
	}
	ns, err := l.kube.CoreV1().Namespaces().Get(ctx, r.Namespace(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return removed, errors.Join(errs...)
	case err != nil:
		return removed, errors.Join(append(errs, err)...)
	case ns.Labels[LabelKey] != LabelValue(r.CaseID):
		return removed, errors.Join(append(errs, fmt.Errorf("namespace %s is not labelled %s=%s; left alone", r.Namespace(), LabelKey, LabelValue(r.CaseID)))...)
	}
	if ns.DeletionTimestamp == nil {
		if err := l.kube.CoreV1().Namespaces().Delete(ctx, r.Namespace(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return removed, errors.Join(append(errs, err)...)
		}
	}
	removed = append(removed, "Namespace "+r.Namespace())
	deadline := time.Now().Add(wait)
	for {
		_, err := l.kube.CoreV1().Namespaces().Get(ctx, r.Namespace(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return removed, errors.Join(errs...)
		}
		if time.Now().After(deadline) {
			return removed, errors.Join(append(errs, fmt.Errorf("namespace %s still terminating after %s (is a namespace controller running?)", r.Namespace(), wait))...)
		}
		select {
		case <-ctx.Done():
			return removed, errors.Join(append(errs, ctx.Err())...)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Mine keeps the findings of r's case about r's objects: in its namespace
// or cluster-scoped and named casebook-lab-….
func Mine(r *Reproduction, fs []casebook.Finding) []casebook.Finding {
	var out []casebook.Finding
	for _, f := range fs {
		if f.CaseID != r.CaseID {
			continue
		}
		for _, o := range f.Objects {
			if o.Namespace == r.Namespace() || (o.Namespace == "" && strings.HasPrefix(o.Name, NamePrefix)) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}
