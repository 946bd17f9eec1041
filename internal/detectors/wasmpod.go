package detectors

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// wasmShimHandlers are the RuntimeClass handlers of the Wasm shims K3s
// detects at startup and pre-installs RuntimeClasses for (name = handler):
// they run nothing but Wasm.
var wasmShimHandlers = map[string]bool{
	"wasmedge": true, "wasmer": true, "wasmtime": true, "spin": true, "slight": true, "wws": true, "lunatic": true,
}

// crun runs a container as Wasm only when the OCI spec carries one of these
// annotations (containerd passes pod annotations through pod_annotations);
// otherwise it runs it as a Linux process like runc.
const crunHandler = "crun"

var crunWasmAnnotations = map[string]map[string]bool{
	"module.wasm.image/variant": {"compat": true, "compat-smart": true},
	"run.oci.handler":           {"wasm": true, "wasm-smart": true},
}

// wasmRuntimes knows the cluster's RuntimeClasses, to tell which pods run
// as Wasm.
type wasmRuntimes struct {
	classes map[string]*nodev1.RuntimeClass
	// known is false when RuntimeClasses could not be read: a class is
	// then taken to be named after its handler, as K3s names its own.
	known bool
}

// wasmRuntimes reads the RuntimeClasses; an unreadable kind is recorded and
// classes are then judged by name.
func (r *reader) wasmRuntimes() (*wasmRuntimes, error) {
	rcs, err := cluster.List[nodev1.RuntimeClass](r.st, casebook.KindRuntimeClass, "")
	ok, err := r.optional(err)
	if err != nil {
		return nil, err
	}
	w := &wasmRuntimes{classes: map[string]*nodev1.RuntimeClass{}, known: ok}
	for _, rc := range rcs {
		w.classes[rc.Name] = rc
	}
	return w, nil
}

// handler returns the handler of a pod's RuntimeClass, or "".
func (w *wasmRuntimes) handler(p *corev1.Pod) string {
	if p.Spec.RuntimeClassName == nil || *p.Spec.RuntimeClassName == "" {
		return ""
	}
	name := *p.Spec.RuntimeClassName
	if rc := w.classes[name]; rc != nil {
		return rc.Handler
	}
	if !w.known {
		return name
	}
	return ""
}

// isWasm reports whether a pod runs as Wasm: its RuntimeClass's handler is
// a Wasm shim, or crun with the annotation that makes crun run Wasm. The
// quote says why, for the evidence.
func (w *wasmRuntimes) isWasm(p *corev1.Pod) (casebook.Evidence, bool) {
	h := w.handler(p)
	if h == "" {
		return casebook.Evidence{}, false
	}
	q := quote(casebook.KindPod, objName(p.Namespace, p.Name), "spec.runtimeClassName: %s (handler %s)", *p.Spec.RuntimeClassName, h)
	if wasmShimHandlers[h] {
		return q, true
	}
	if h == crunHandler {
		keys := make([]string, 0, len(crunWasmAnnotations))
		for k := range crunWasmAnnotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if v, has := p.Annotations[k]; has && crunWasmAnnotations[k][v] {
				q.Text += fmt.Sprintf(", annotation %s: %s", k, v)
				return q, true
			}
		}
	}
	return casebook.Evidence{}, false
}

// overheadQuote quotes a pod's RuntimeClass overhead, or says it has none.
func (w *wasmRuntimes) overheadQuote(p *corev1.Pod) casebook.Evidence {
	if p.Spec.RuntimeClassName == nil {
		return casebook.Evidence{}
	}
	rc := w.classes[*p.Spec.RuntimeClassName]
	if rc == nil {
		return casebook.Evidence{}
	}
	if rc.Overhead == nil || len(rc.Overhead.PodFixed) == 0 {
		return quote(casebook.KindRuntimeClass, rc.Name, "has no overhead.podFixed")
	}
	return quote(casebook.KindRuntimeClass, rc.Name, "overhead.podFixed: %s", resourceList(rc.Overhead.PodFixed))
}

// statusOfContainer returns the status of a pod's container by name.
func statusOfContainer(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	for i := range p.Status.InitContainerStatuses {
		if p.Status.InitContainerStatuses[i].Name == name {
			return &p.Status.InitContainerStatuses[i]
		}
	}
	return nil
}

// eventContainer returns the container an event is about, from its
// involvedObject.fieldPath ("spec.containers{app}"), or "".
func eventContainer(e *corev1.Event) string {
	fp := e.InvolvedObject.FieldPath
	i := strings.IndexByte(fp, '{')
	if i < 0 || !strings.HasSuffix(fp, "}") {
		return ""
	}
	return fp[i+1 : len(fp)-1]
}

// eventsOfContainer keeps the events about one container of a pod; events
// that name no container count for it when the pod has only one.
func eventsOfContainer(p *corev1.Pod, container string, evs []*corev1.Event) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range evs {
		c := eventContainer(e)
		if c == container || (c == "" && len(p.Spec.Containers)+len(p.Spec.InitContainers) == 1) {
			out = append(out, e)
		}
	}
	return out
}

// quoteTerminated quotes a container's last termination: why, the exit
// code, and how long it ran.
func quoteTerminated(p *corev1.Pod, container, field string, t *corev1.ContainerStateTerminated) casebook.Evidence {
	s := quote(casebook.KindPod, objName(p.Namespace, p.Name), "container %s %s: reason %s, exitCode %d", container, field, t.Reason, t.ExitCode)
	if !t.StartedAt.IsZero() && !t.FinishedAt.IsZero() {
		s.Text += fmt.Sprintf(", startedAt %s, finishedAt %s (ran %s)", t.StartedAt.UTC().Format("2006-01-02T15:04:05Z"),
			t.FinishedAt.UTC().Format("2006-01-02T15:04:05Z"), t.FinishedAt.Sub(t.StartedAt.Time))
	}
	return s
}

// resourceList writes a resource list sorted by name: "cpu 100m, memory 64Mi".
func resourceList(l corev1.ResourceList) string {
	names := make([]corev1.ResourceName, 0, len(l))
	for n := range l {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return formatResources(l, names)
}

// quoteContainerResources quotes a container's requests and limits.
func quoteContainerResources(p *corev1.Pod, c *corev1.Container) casebook.Evidence {
	s := quote(casebook.KindPod, objName(p.Namespace, p.Name), "container %s resources:", c.Name)
	if len(c.Resources.Limits) == 0 {
		s.Text += " no limits"
	} else {
		s.Text += " limits {" + resourceList(c.Resources.Limits) + "}"
	}
	if len(c.Resources.Requests) > 0 {
		s.Text += ", requests {" + resourceList(c.Resources.Requests) + "}"
	}
	return s
}

// containerLimit returns a container's limit of a resource, or nil.
func containerLimit(c *corev1.Container, name corev1.ResourceName) *resource.Quantity {
	q, ok := c.Resources.Limits[name]
	if !ok {
		return nil
	}
	return &q
}
