// Package kube knows the Kubernetes kinds casebook reads: their API groups,
// versions and resources, how to decode them as typed objects, and how to
// read a casebook.Source as typed slices. It is shared by the snapshot and
// live sources and by the detectors.
package kube

import (
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	casebook "github.com/casebook-dev/casebook"
)

// Info describes a built-in kind.
type Info struct {
	Kind       casebook.Kind
	GVK        schema.GroupVersionKind
	Resource   string
	Namespaced bool
	// New returns an empty typed object of the kind.
	New func() runtime.Object
	// MetadataOnly kinds are read and kept as metadata only (Secrets).
	MetadataOnly bool
}

// GVR returns the kind's group, version and resource.
func (i *Info) GVR() schema.GroupVersionResource {
	return i.GVK.GroupVersion().WithResource(i.Resource)
}

func info(kind casebook.Kind, gv schema.GroupVersion, resource string, namespaced bool, newFn func() runtime.Object) *Info {
	return &Info{Kind: kind, GVK: gv.WithKind(string(kind)), Resource: resource, Namespaced: namespaced, New: newFn}
}

// builtins lists the kinds read as typed objects, in the order collect writes them.
var builtins = []*Info{
	info(casebook.KindNamespace, corev1.SchemeGroupVersion, "namespaces", false, func() runtime.Object { return &corev1.Namespace{} }),
	info(casebook.KindNode, corev1.SchemeGroupVersion, "nodes", false, func() runtime.Object { return &corev1.Node{} }),
	info(casebook.KindPod, corev1.SchemeGroupVersion, "pods", true, func() runtime.Object { return &corev1.Pod{} }),
	info(casebook.KindEvent, corev1.SchemeGroupVersion, "events", true, func() runtime.Object { return &corev1.Event{} }),
	info(casebook.KindService, corev1.SchemeGroupVersion, "services", true, func() runtime.Object { return &corev1.Service{} }),
	info(casebook.KindEndpointSlice, discoveryv1.SchemeGroupVersion, "endpointslices", true, func() runtime.Object { return &discoveryv1.EndpointSlice{} }),
	info(casebook.KindIngress, networkingv1.SchemeGroupVersion, "ingresses", true, func() runtime.Object { return &networkingv1.Ingress{} }),
	info(casebook.KindIngressClass, networkingv1.SchemeGroupVersion, "ingressclasses", false, func() runtime.Object { return &networkingv1.IngressClass{} }),
	{Kind: casebook.KindSecret, GVK: corev1.SchemeGroupVersion.WithKind("Secret"), Resource: "secrets", Namespaced: true,
		New: func() runtime.Object { return &metav1.PartialObjectMetadata{} }, MetadataOnly: true},
	info(casebook.KindConfigMap, corev1.SchemeGroupVersion, "configmaps", true, func() runtime.Object { return &corev1.ConfigMap{} }),
	info(casebook.KindPersistentVolumeClaim, corev1.SchemeGroupVersion, "persistentvolumeclaims", true, func() runtime.Object { return &corev1.PersistentVolumeClaim{} }),
	info(casebook.KindPersistentVolume, corev1.SchemeGroupVersion, "persistentvolumes", false, func() runtime.Object { return &corev1.PersistentVolume{} }),
	info(casebook.KindStorageClass, storagev1.SchemeGroupVersion, "storageclasses", false, func() runtime.Object { return &storagev1.StorageClass{} }),
	info(casebook.KindDeployment, appsv1.SchemeGroupVersion, "deployments", true, func() runtime.Object { return &appsv1.Deployment{} }),
	info(casebook.KindDaemonSet, appsv1.SchemeGroupVersion, "daemonsets", true, func() runtime.Object { return &appsv1.DaemonSet{} }),
	info(casebook.KindStatefulSet, appsv1.SchemeGroupVersion, "statefulsets", true, func() runtime.Object { return &appsv1.StatefulSet{} }),
	info(casebook.KindReplicaSet, appsv1.SchemeGroupVersion, "replicasets", true, func() runtime.Object { return &appsv1.ReplicaSet{} }),
	info(casebook.KindJob, batchv1.SchemeGroupVersion, "jobs", true, func() runtime.Object { return &batchv1.Job{} }),
	info(casebook.KindRuntimeClass, nodev1.SchemeGroupVersion, "runtimeclasses", false, func() runtime.Object { return &nodev1.RuntimeClass{} }),
	info(casebook.KindNetworkPolicy, networkingv1.SchemeGroupVersion, "networkpolicies", true, func() runtime.Object { return &networkingv1.NetworkPolicy{} }),
	info(casebook.KindValidatingWebhookConfiguration, admissionregistrationv1.SchemeGroupVersion, "validatingwebhookconfigurations", false, func() runtime.Object { return &admissionregistrationv1.ValidatingWebhookConfiguration{} }),
}

var (
	byKind = map[casebook.Kind]*Info{}
	byGK   = map[schema.GroupKind]*Info{}
)

func init() {
	for _, i := range builtins {
		byKind[i.Kind] = i
		byGK[i.GVK.GroupKind()] = i
	}
}

// Builtins returns every built-in kind, in a stable order.
func Builtins() []*Info { return append([]*Info(nil), builtins...) }

// Lookup returns the built-in kind, or nil.
func Lookup(k casebook.Kind) *Info { return byKind[k] }

// ForGroupKind returns the built-in kind with that group and kind, or nil.
func ForGroupKind(gk schema.GroupKind) *Info { return byGK[gk] }

// KindOf returns the casebook Kind for an API group and kind: the plain kind
// for built-in kinds and the core group, "Kind.group" otherwise.
func KindOf(gk schema.GroupKind) casebook.Kind {
	if i := byGK[gk]; i != nil {
		return i.Kind
	}
	if gk.Group == "" {
		return casebook.Kind(gk.Kind)
	}
	return casebook.Kind(gk.Kind + "." + gk.Group)
}

// ParseKind splits a casebook Kind into its API group and kind.
func ParseKind(k casebook.Kind) schema.GroupKind {
	if i := byKind[k]; i != nil {
		return i.GVK.GroupKind()
	}
	kind, group, _ := strings.Cut(string(k), ".")
	return schema.GroupKind{Group: group, Kind: kind}
}

// ListKindOf returns the item kind of a typed list kind ("PodList" → "Pod"),
// or "" if kind is not a list kind.
func ListKindOf(kind string) string {
	if kind == "List" || !strings.HasSuffix(kind, "List") {
		return ""
	}
	return strings.TrimSuffix(kind, "List")
}

// Ref returns a reference to obj.
func Ref(kind casebook.Kind, obj metav1.Object) casebook.ObjectRef {
	return casebook.ObjectRef{Kind: string(kind), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// Errorf wraps err with what was being read: `list pods in "shop": forbidden`.
func Errorf(err error, kind casebook.Kind, namespace string) error {
	where := "in all namespaces"
	if namespace != "" {
		where = fmt.Sprintf("in %q", namespace)
	}
	if i := byKind[kind]; i != nil && !i.Namespaced {
		return fmt.Errorf("list %s: %w", i.Resource, err)
	}
	return fmt.Errorf("list %s %s: %w", resourceName(kind), where, err)
}

func resourceName(k casebook.Kind) string {
	if i := byKind[k]; i != nil {
		return i.Resource
	}
	return strings.ToLower(string(k))
}
