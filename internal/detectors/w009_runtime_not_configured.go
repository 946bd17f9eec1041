package detectors

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// RuntimeNotConfigured finds W-009: the pods of a Wasm workload never
// start because the runtime is not there. Its symptom is a workload whose
// pods admission rejects for their RuntimeClass (FailedCreate on the
// ReplicaSet), or a Wasm pod whose sandbox cannot be created
// (FailedCreatePodSandBox). The causes it knows: the RuntimeClass does not
// exist, or was deleted after the pod was admitted; the node's containerd
// has no runtime of that handler (while other nodes report it in
// status.runtimeHandlers and the RuntimeClass has no scheduling, the pod
// was sent to a node without the shim); containerd cannot find or start
// the shim. Any other sandbox failure of a Wasm pod is reported as
// unrecognised, with the kubelet's words.
type RuntimeNotConfigured struct{}

var (
	_ engine.Detector   = RuntimeNotConfigured{}
	_ engine.Stepper    = RuntimeNotConfigured{}
	_ engine.Translator = RuntimeNotConfigured{}
)

// CaseID returns "W-009".
func (RuntimeNotConfigured) CaseID() string { return "W-009" }

// Kinds lists the kinds the detector reads.
func (RuntimeNotConfigured) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPod, casebook.KindEvent, casebook.KindRuntimeClass, casebook.KindNode}
}

// The texts W-009 recognises, from the case's signals: the RuntimeClass
// admission plugin (kubernetes plugin/pkg/admission/runtimeclass), the
// kubelet's RuntimeClass lookup, containerd's CRI runtime lookup and its
// shim manager.
var (
	rcRejected     = regexp.MustCompile(`pod rejected: RuntimeClass "([^"]+)" not found`)
	rcGone         = regexp.MustCompile(`runtimeclass\.node\.k8s\.io "([^"]+)" not found`)
	noRuntimeFor   = regexp.MustCompile(`no runtime for "([^"]+)" is configured`)
	shimNotFound   = regexp.MustCompile(`binary not installed "containerd-shim-[a-z0-9]+-v[0-9]+"`)
	shimStartFails = "failed to start shim"
)

// Detect checks workloads whose pods are rejected for their RuntimeClass
// and Wasm pods whose sandbox fails.
func (RuntimeNotConfigured) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	wr, err := r.wasmRuntimes()
	if err != nil {
		return nil, err
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	pods, err := r.pods(casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	nodes, err := r.nodes()
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	out := rejectedWorkloads(events, wr)
	for _, p := range pods {
		if podTerminal(p) || podRunning(p) || p.Spec.RuntimeClassName == nil || *p.Spec.RuntimeClassName == "" {
			continue
		}
		if f, ok := sandboxFailure(p, wr, events, nodes); ok {
			out = append(out, f)
		}
	}
	return r.done(out)
}

// rejectedWorkloads finds the workloads whose pods admission rejects
// because their RuntimeClass does not exist. A rejection for a class that
// exists now is history.
func rejectedWorkloads(events *cluster.EventIndex, wr *wasmRuntimes) []casebook.Finding {
	if events == nil {
		return nil
	}
	var out []casebook.Finding
	latest := map[string]*corev1.Event{}
	var keys []string
	for _, e := range events.All() {
		if e.Reason != "FailedCreate" || e.Type != corev1.EventTypeWarning {
			continue
		}
		m := rcRejected.FindStringSubmatch(e.Message)
		if m == nil || (wr.known && wr.classes[m[1]] != nil) {
			continue
		}
		o := e.InvolvedObject
		k := o.Kind + "/" + o.Namespace + "/" + o.Name
		if prev := latest[k]; prev == nil {
			keys = append(keys, k)
		} else if cluster.EventTime(prev).After(cluster.EventTime(e)) {
			continue
		}
		latest[k] = e
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := latest[k]
		name := rcRejected.FindStringSubmatch(e.Message)[1]
		o := e.InvolvedObject
		obj := casebook.ObjectRef{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}
		out = append(out, casebook.Finding{CaseID: "W-009", Cause: "runtimeclass-missing", Objects: []casebook.ObjectRef{obj},
			Message:  fmt.Sprintf("admission rejects every pod of the workload: RuntimeClass %q does not exist", name),
			Evidence: []casebook.Evidence{quoteEvent(e), note(casebook.KindRuntimeClass, "runtimeclass %q not found; RuntimeClasses: %s", name, runtimeClassNames(wr))}})
	}
	return out
}

// sandboxFailure explains why a pod of a RuntimeClass gets no sandbox. Pods
// of a class that is not Wasm are reported only for the causes W-009 knows.
func sandboxFailure(p *corev1.Pod, wr *wasmRuntimes, events *cluster.EventIndex, nodes []*corev1.Node) (casebook.Finding, bool) {
	if events == nil {
		return casebook.Finding{}, false
	}
	e := last(events.Of("Pod", p, "FailedCreatePodSandBox"))
	if e == nil {
		return casebook.Finding{}, false
	}
	class := *p.Spec.RuntimeClassName
	rc := wr.classes[class]
	objs := []casebook.ObjectRef{ref(casebook.KindPod, p)}
	podQ := quote(casebook.KindPod, objName(p.Namespace, p.Name), "spec.runtimeClassName: %s, spec.nodeName: %s", class, p.Spec.NodeName)
	finding := func(cause, msg string, ev ...casebook.Evidence) (casebook.Finding, bool) {
		return casebook.Finding{CaseID: "W-009", Cause: cause, Objects: objs, Message: msg,
			Evidence: append([]casebook.Evidence{quoteEvent(e), podQ}, ev...)}, true
	}
	switch {
	case rcGone.MatchString(e.Message) && rc == nil:
		return finding("runtimeclass-deleted", fmt.Sprintf("the pod's RuntimeClass %q was deleted after the pod was admitted, so the kubelet cannot find its handler", class),
			note(casebook.KindRuntimeClass, "runtimeclass %q not found; RuntimeClasses: %s", class, runtimeClassNames(wr)))
	case noRuntimeFor.MatchString(e.Message):
		handler := noRuntimeFor.FindStringSubmatch(e.Message)[1]
		node := nodeNamed(nodes, p.Spec.NodeName)
		if node != nil {
			objs = append(objs, ref(casebook.KindNode, node))
		}
		var ev []casebook.Evidence
		if node != nil {
			ev = append(ev, quoteRuntimeHandlers(node))
		}
		others := nodesWithHandler(nodes, handler)
		if len(others) > 0 && rc != nil && (rc.Scheduling == nil || len(rc.Scheduling.NodeSelector) == 0) {
			ev = append(ev, note(casebook.KindNode, "status.runtimeHandlers of %s include %q", strings.Join(others, ", "), handler),
				quote(casebook.KindRuntimeClass, rc.Name, "handler: %s, scheduling: none", rc.Handler))
			if rc != nil {
				objs = append(objs, casebook.ObjectRef{Kind: string(casebook.KindRuntimeClass), Name: rc.Name})
			}
			return finding("runtimeclass-unscheduled", fmt.Sprintf("the RuntimeClass has no scheduling, so the pod went to node %s, whose containerd has no %q runtime, while other nodes have it", p.Spec.NodeName, handler), ev...)
		}
		return finding("handler-not-configured", fmt.Sprintf("containerd on node %s has no %q runtime: the shim is missing, or was installed after K3s started (K3s looks for runtimes only at startup)", p.Spec.NodeName, handler), ev...)
	case shimNotFound.MatchString(e.Message) || strings.Contains(e.Message, shimStartFails):
		return finding("shim-failed", fmt.Sprintf("containerd on node %s has the runtime configured but cannot find or start its shim", p.Spec.NodeName))
	}
	if _, wasm := wr.isWasm(p); !wasm && !wasmShimHandlers[class] {
		return casebook.Finding{}, false
	}
	f := unrecognised("W-009", objs, quoteEvent(e), podQ)
	return f, true
}

// quoteRuntimeHandlers quotes the handlers a node's container runtime
// reports. An empty list is not evidence of a missing handler: containerd
// 1.7 does not report any (the field is filled by containerd 2.x's CRI).
func quoteRuntimeHandlers(n *corev1.Node) casebook.Evidence {
	rt := n.Status.NodeInfo.ContainerRuntimeVersion
	if len(n.Status.RuntimeHandlers) == 0 {
		return quote(casebook.KindNode, n.Name, "status.runtimeHandlers: none reported (%s; containerd 1.7 reports none, so check the node's containerd config)", rt)
	}
	names := make([]string, len(n.Status.RuntimeHandlers))
	for i, h := range n.Status.RuntimeHandlers {
		names[i] = h.Name
		if names[i] == "" {
			names[i] = `""`
		}
	}
	return quote(casebook.KindNode, n.Name, "status.runtimeHandlers: %s (%s)", strings.Join(names, ", "), rt)
}

// nodesWithHandler returns the nodes whose runtime reports the handler.
func nodesWithHandler(nodes []*corev1.Node, handler string) []string {
	var out []string
	for _, n := range nodes {
		for _, h := range n.Status.RuntimeHandlers {
			if h.Name == handler {
				out = append(out, n.Name)
				break
			}
		}
	}
	return out
}

func nodeNamed(nodes []*corev1.Node, name string) *corev1.Node {
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func runtimeClassNames(wr *wasmRuntimes) string {
	if len(wr.classes) == 0 {
		return "none"
	}
	names := make([]string, 0, len(wr.classes))
	for _, rc := range wr.classes {
		names = append(names, rc.Name+" (handler "+rc.Handler+schedulingNote(rc)+")")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func schedulingNote(rc *nodev1.RuntimeClass) string {
	if rc.Scheduling == nil || len(rc.Scheduling.NodeSelector) == 0 {
		return ""
	}
	return ", nodeSelector " + formatLabels(rc.Scheduling.NodeSelector)
}

// w009Steps are the next steps of RuntimeNotConfigured findings, by cause.
var w009Steps = stepsByCause{
	"runtimeclass-missing": {
		{Step: 1, Kind: casebook.KindReplicaSet, Cmd: `kubectl describe rs -n %ns% %name%`},
		{Step: 2, Kind: casebook.KindReplicaSet, Cmd: `kubectl get runtimeclass`},
	},
	"runtimeclass-deleted": {
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl get pod -n %ns% %name% -o jsonpath='{.spec.runtimeClassName}{"\n"}'`},
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl get runtimeclass`},
	},
	"runtimeclass-unscheduled": {
		{Step: 3, Kind: casebook.KindRuntimeClass, Cmd: `kubectl get runtimeclass %name% -o jsonpath='handler={.handler}{"  "}scheduling={.scheduling}{"\n"}'`},
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl get nodes -o custom-columns='NODE:.metadata.name,CONTAINERD:.status.nodeInfo.containerRuntimeVersion,HANDLERS:.status.runtimeHandlers[*].name'`},
	},
	"handler-not-configured": {
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl get nodes -o custom-columns='NODE:.metadata.name,CONTAINERD:.status.nodeInfo.containerRuntimeVersion,HANDLERS:.status.runtimeHandlers[*].name'`},
		{Step: 4, Kind: casebook.KindPod, Cmd: `sudo journalctl -u k3s -u k3s-agent | grep -E 'container runtime at|default runtime' | tail -5`, OnNode: true},
	},
	"shim-failed": {
		{Step: 5, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 5, Kind: casebook.KindPod, Cmd: `sudo grep -E 'containerd-shim|failed to start shim' /var/lib/rancher/k3s/agent/containerd/containerd.log | tail -5`, OnNode: true},
	},
	"": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (RuntimeNotConfigured) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return w009Steps.of(f.Cause)
}

// w009ZH are the messages of RuntimeNotConfigured findings in Chinese, by cause.
var w009ZH = zhByCause{
	"runtimeclass-missing":     `准入拒绝该工作负载的每个 Pod：RuntimeClass 不存在`,
	"runtimeclass-deleted":     `Pod 通过准入后其 RuntimeClass 被删除，kubelet 查不到 handler`,
	"runtimeclass-unscheduled": `RuntimeClass 没有 scheduling，Pod 被调度到 containerd 没有该运行时的节点，而其他节点有`,
	"handler-not-configured":   `节点的 containerd 没有该运行时：shim 缺失，或在 K3s 启动之后才安装（K3s 只在启动时探测运行时）`,
	"shim-failed":              `节点的 containerd 配置了该运行时，但找不到或启动不了 shim`,
}

// MessageZH returns the finding's message in Chinese.
func (RuntimeNotConfigured) MessageZH(f *casebook.Finding) string { return w009ZH.message(f) }
