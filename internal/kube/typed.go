package kube

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
)

// Metadata reads kind from src as object metadata only, as Secrets come.
func Metadata(ctx context.Context, src casebook.Source, kind casebook.Kind, namespace string) ([]metav1.Object, error) {
	objs, err := src.List(ctx, kind, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]metav1.Object, 0, len(objs))
	for _, o := range objs {
		m, err := meta.Accessor(o)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", kind, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// MetadataOf returns a metadata-only copy of obj: what a Source keeps of a Secret.
func MetadataOf(obj runtime.Object, gvk metav1.TypeMeta) (*metav1.PartialObjectMetadata, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	p := &metav1.PartialObjectMetadata{TypeMeta: gvk}
	p.Name, p.Namespace, p.UID = m.GetName(), m.GetNamespace(), m.GetUID()
	p.ResourceVersion, p.CreationTimestamp = m.GetResourceVersion(), m.GetCreationTimestamp()
	p.Labels, p.OwnerReferences = m.GetLabels(), m.GetOwnerReferences()
	p.Annotations = withoutLastApplied(m.GetAnnotations())
	return p, nil
}

// LastApplied is the annotation kubectl apply keeps a copy of the whole
// object in; for a Secret that copy includes its data.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func withoutLastApplied(a map[string]string) map[string]string {
	if _, ok := a[LastApplied]; !ok {
		return a
	}
	out := make(map[string]string, len(a))
	for k, v := range a {
		if k != LastApplied {
			out[k] = v
		}
	}
	return out
}
