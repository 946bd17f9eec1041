// Package benchdata generates the state of a large K3s cluster for
// casebook's benchmarks: by default 500 nodes, 5,000 pods, 1,000 services
// and 50,000 events, with a few of each problem the detectors look for
// among healthy objects. It is used by benchmarks only.
package benchdata

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Sizes is how big the generated cluster is.
type Sizes struct {
	Nodes, Namespaces, Pods, Services, Events int
}

// Default is the size the issue sets for the benchmark.
var Default = Sizes{Nodes: 500, Namespaces: 50, Pods: 5000, Services: 1000, Events: 50000}

// Cluster is a generated cluster state, by kind.
type Cluster struct {
	Nodes          []*corev1.Node
	Namespaces     []*corev1.Namespace
	Pods           []*corev1.Pod
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Events         []*corev1.Event
	StorageClasses []*storagev1.StorageClass
	PVCs           []*corev1.PersistentVolumeClaim
	Ingresses      []*networkingv1.Ingress
	IngressClasses []*networkingv1.IngressClass
}

var epoch = time.Date(2025, 6, 18, 9, 0, 0, 0, time.UTC)

func uid(kind string, i int) types.UID {
	return types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", len(kind), i))
}

// Generate builds a cluster of the given size. One pod in a hundred is
// Pending for lack of memory, one Service in fifty selects nothing, one
// Ingress in ten points at a missing port, one claim in ten names a
// missing StorageClass.
func Generate(s Sizes) *Cluster {
	c := &Cluster{}
	ts := metav1.NewTime(epoch)
	for i := range s.Nodes {
		name := fmt.Sprintf("edge-%03d", i)
		c.Nodes = append(c.Nodes, &corev1.Node{
			TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: uid("node", i), CreationTimestamp: ts,
				Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/arch": "arm64", "node.kubernetes.io/instance-type": "k3s"},
				Annotations: map[string]string{"k3s.io/node-args": `["agent","--server","https://192.168.50.10:6443","--token","********"]`,
					"flannel.alpha.coreos.com/public-ip": fmt.Sprintf("192.168.%d.%d", 50+i/250, 10+i%240)}},
			Spec: corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.42.%d.0/24", i%256), ProviderID: "k3s://" + name},
			Status: corev1.NodeStatus{
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("3926032Ki"), corev1.ResourcePods: resource.MustParse("110")},
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("3926032Ki"), corev1.ResourcePods: resource.MustParse("110")},
				Conditions: []corev1.NodeCondition{
					{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available", LastHeartbeatTime: ts, LastTransitionTime: ts},
					{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure", LastHeartbeatTime: ts, LastTransitionTime: ts},
					{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: ts, LastTransitionTime: ts},
				},
				NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.31.4+k3s1", ContainerRuntimeVersion: "containerd://1.7.23-k3s2", OSImage: "Debian GNU/Linux 12 (bookworm)", Architecture: "arm64", OperatingSystem: "linux"},
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("192.168.%d.%d", 50+i/250, 10+i%240)}, {Type: corev1.NodeHostName, Address: name}},
			},
		})
	}
	for i := range s.Namespaces {
		c.Namespaces = append(c.Namespaces, &corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%02d", i), UID: uid("ns", i), CreationTimestamp: ts}})
	}
	c.StorageClasses = []*storagev1.StorageClass{{TypeMeta: metav1.TypeMeta{Kind: "StorageClass", APIVersion: "storage.k8s.io/v1"},
		ObjectMeta:  metav1.ObjectMeta{Name: "local-path", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}, CreationTimestamp: ts},
		Provisioner: "rancher.io/local-path", ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)}}
	c.IngressClasses = []*networkingv1.IngressClass{{TypeMeta: metav1.TypeMeta{Kind: "IngressClass", APIVersion: "networking.k8s.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "traefik", Annotations: map[string]string{"ingressclass.kubernetes.io/is-default-class": "true"}, CreationTimestamp: ts},
		Spec:       networkingv1.IngressClassSpec{Controller: "traefik.io/ingress-controller"}}}

	perService := max(1, s.Pods/max(1, s.Services))
	for i := range s.Services {
		ns := c.Namespaces[i%len(c.Namespaces)].Name
		app := fmt.Sprintf("svc-%04d", i)
		selector := map[string]string{"app": app}
		if i%50 == 49 {
			selector = map[string]string{"app": app + "-typo"}
		}
		c.Services = append(c.Services, &corev1.Service{TypeMeta: metav1.TypeMeta{Kind: "Service", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns, UID: uid("svc", i), CreationTimestamp: ts},
			Spec: corev1.ServiceSpec{Selector: selector, Type: corev1.ServiceTypeClusterIP,
				ClusterIP: fmt.Sprintf("10.43.%d.%d", i/250, 1+i%250),
				Ports:     []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}}})
		var eps []discoveryv1.Endpoint
		for j := range perService {
			p := c.addPod(ns, app, i*perService+j, s, ts)
			if i%50 != 49 && p.Status.PodIP != "" {
				eps = append(eps, discoveryv1.Endpoint{Addresses: []string{p.Status.PodIP}, NodeName: &p.Spec.NodeName,
					Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
					TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.Name}})
			}
		}
		c.EndpointSlices = append(c.EndpointSlices, &discoveryv1.EndpointSlice{TypeMeta: metav1.TypeMeta{Kind: "EndpointSlice", APIVersion: "discovery.k8s.io/v1"},
			ObjectMeta:  metav1.ObjectMeta{Name: app + "-x7k2p", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: app}, CreationTimestamp: ts},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: eps,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}}})
		if i%10 == 0 {
			port := networkingv1.ServiceBackendPort{Name: "http"}
			if i%100 == 0 {
				port = networkingv1.ServiceBackendPort{Number: 8080}
			}
			c.Ingresses = append(c.Ingresses, &networkingv1.Ingress{TypeMeta: metav1.TypeMeta{Kind: "Ingress", APIVersion: "networking.k8s.io/v1"},
				ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns, CreationTimestamp: ts},
				Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("traefik"), Rules: []networkingv1.IngressRule{{Host: app + ".example.com",
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: app, Port: port}}}}}}}}}})
		}
		if i%5 == 0 {
			sc := "local-path"
			if i%50 == 0 {
				sc = "fast-ssd"
			}
			c.PVCs = append(c.PVCs, &corev1.PersistentVolumeClaim{TypeMeta: metav1.TypeMeta{Kind: "PersistentVolumeClaim", APIVersion: "v1"},
				ObjectMeta: metav1.ObjectMeta{Name: "data-" + app, Namespace: ns, UID: uid("pvc", i), CreationTimestamp: ts},
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &sc, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}})
		}
	}
	// Events: the usual lifecycle of every pod, then whatever is left as
	// probe warnings, so that the count is exact.
	reasons := []struct{ typ, reason, msg string }{
		{"Normal", "Scheduled", "Successfully assigned %s to %s"},
		{"Normal", "Pulled", `Container image "registry.example.com/app:1.0" already present on machine`},
		{"Normal", "Created", "Created container app"},
		{"Normal", "Started", "Started container app"},
	}
	for i := 0; len(c.Events) < s.Events; i++ {
		p := c.Pods[i%len(c.Pods)]
		round := i / len(c.Pods)
		var typ, reason, msg string
		switch {
		case p.Spec.NodeName == "":
			typ, reason, msg = "Warning", "FailedScheduling", p.Status.Conditions[0].Message
		case round < len(reasons):
			r := reasons[round]
			typ, reason, msg = r.typ, r.reason, r.msg
			if reason == "Scheduled" {
				msg = fmt.Sprintf(msg, p.Namespace+"/"+p.Name, p.Spec.NodeName)
			}
		default:
			typ, reason, msg = "Warning", "Unhealthy", fmt.Sprintf("Readiness probe failed: Get \"http://%s:8080/healthz\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)", p.Status.PodIP)
		}
		t := metav1.NewTime(epoch.Add(time.Duration(i) * time.Second))
		c.Events = append(c.Events, &corev1.Event{TypeMeta: metav1.TypeMeta{Kind: "Event", APIVersion: "v1"},
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%016x", p.Name, i), Namespace: p.Namespace, CreationTimestamp: t},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID, APIVersion: "v1"},
			Reason:         reason, Message: msg, Type: typ, Count: 1, FirstTimestamp: t, LastTimestamp: t,
			Source: corev1.EventSource{Component: "kubelet", Host: p.Spec.NodeName}})
	}
	return c
}

func (c *Cluster) addPod(ns, app string, i int, s Sizes, ts metav1.Time) *corev1.Pod {
	name := fmt.Sprintf("%s-6f9c7d8b5c-%05d", app, i)
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: uid("pod", i), CreationTimestamp: ts,
			Labels: map[string]string{"app": app, "pod-template-hash": "6f9c7d8b5c"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app + "-6f9c7d8b5c",
				UID: uid("rs", i), Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0",
				Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:       []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}},
			ServiceAccountName: "default", RestartPolicy: corev1.RestartPolicyAlways,
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)}},
		},
	}
	if i%100 == 99 {
		msg := fmt.Sprintf("0/%d nodes are available: %d Insufficient memory. preemption: 0/%d nodes are available: %d No preemption victims found for incoming pod.", s.Nodes, s.Nodes, s.Nodes, s.Nodes)
		p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("6Gi")
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: ts}}, QOSClass: corev1.PodQOSBurstable}
	} else {
		node := fmt.Sprintf("edge-%03d", i%s.Nodes)
		p.Spec.NodeName = node
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.42.%d.%d", (i/250)%256, 2+i%250), HostIP: "192.168.50.10",
			StartTime: &ts, QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ts},
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: ts},
			},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, Started: ptr.To(true), Image: "registry.example.com/app:1.0",
				ContainerID: fmt.Sprintf("containerd://%064x", i), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts}}}}}
	}
	c.Pods = append(c.Pods, p)
	return p
}

// Objects returns every object, cluster-scoped kinds first.
func (c *Cluster) Objects() []runtime.Object {
	var out []runtime.Object
	for _, o := range c.Namespaces {
		out = append(out, o)
	}
	for _, o := range c.Nodes {
		out = append(out, o)
	}
	for _, o := range c.StorageClasses {
		out = append(out, o)
	}
	for _, o := range c.IngressClasses {
		out = append(out, o)
	}
	for _, o := range c.Services {
		out = append(out, o)
	}
	for _, o := range c.EndpointSlices {
		out = append(out, o)
	}
	for _, o := range c.PVCs {
		out = append(out, o)
	}
	for _, o := range c.Ingresses {
		out = append(out, o)
	}
	for _, o := range c.Pods {
		out = append(out, o)
	}
	for _, o := range c.Events {
		out = append(out, o)
	}
	return out
}

// WriteDump writes the cluster as `kubectl cluster-info dump
// --output-directory` lays it out: nodes.json and NAMESPACE/KIND.json
// typed lists, plus a resources.json List for the kinds the dump leaves
// out.
func (c *Cluster) WriteDump(dir string) error {
	write := func(name string, v any) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	}
	if err := write("nodes.json", list("NodeList", "v1", c.Nodes)); err != nil {
		return err
	}
	podsByNS := map[string][]*corev1.Pod{}
	for _, p := range c.Pods {
		podsByNS[p.Namespace] = append(podsByNS[p.Namespace], p)
	}
	svcByNS := map[string][]*corev1.Service{}
	for _, s := range c.Services {
		svcByNS[s.Namespace] = append(svcByNS[s.Namespace], s)
	}
	evByNS := map[string][]*corev1.Event{}
	for _, e := range c.Events {
		evByNS[e.Namespace] = append(evByNS[e.Namespace], e)
	}
	for _, ns := range c.Namespaces {
		n := ns.Name
		if err := write(n+"/pods.json", list("PodList", "v1", podsByNS[n])); err != nil {
			return err
		}
		if err := write(n+"/services.json", list("ServiceList", "v1", svcByNS[n])); err != nil {
			return err
		}
		if err := write(n+"/events.json", list("EventList", "v1", evByNS[n])); err != nil {
			return err
		}
	}
	var rest []runtime.Object
	for _, o := range c.Namespaces {
		rest = append(rest, o)
	}
	for _, o := range c.StorageClasses {
		rest = append(rest, o)
	}
	for _, o := range c.IngressClasses {
		rest = append(rest, o)
	}
	for _, o := range c.EndpointSlices {
		rest = append(rest, o)
	}
	for _, o := range c.PVCs {
		rest = append(rest, o)
	}
	for _, o := range c.Ingresses {
		rest = append(rest, o)
	}
	return write("resources.json", map[string]any{"apiVersion": "v1", "kind": "List", "items": rest})
}

// list is a typed list whose items leave out their kind, as the dump does.
func list[T any](kind, apiVersion string, items []*T) map[string]any {
	out := make([]json.RawMessage, 0, len(items))
	for _, it := range items {
		b, _ := json.Marshal(it)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		delete(m, "kind")
		delete(m, "apiVersion")
		b, _ = json.Marshal(m)
		out = append(out, b)
	}
	return map[string]any{"kind": kind, "apiVersion": apiVersion, "metadata": map[string]any{}, "items": out}
}
