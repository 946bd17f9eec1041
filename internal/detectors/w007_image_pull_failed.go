package detectors

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// ImagePullFailed finds W-007: Wasm pods whose image cannot be pulled
// (ErrImagePull, ImagePullBackOff), with the pull error the kubelet
// reported sorted into the case's root causes: an image index with no
// manifest for the node's platform (quoting the node's architecture and
// where the same image does run), registry credentials, registry TLS or
// plain HTTP, and a tag that does not exist.
type ImagePullFailed struct{}

var (
	_ engine.Detector   = ImagePullFailed{}
	_ engine.Stepper    = ImagePullFailed{}
	_ engine.Translator = ImagePullFailed{}
)

// CaseID returns "W-007".
func (ImagePullFailed) CaseID() string { return "W-007" }

// Kinds lists the kinds the detector reads.
func (ImagePullFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPod, casebook.KindEvent, casebook.KindNode, casebook.KindRuntimeClass}
}

// pullCause is one root cause of a failed pull, told by the error text
// containerd gives the kubelet.
type pullCause struct {
	cause, message string
	re             *regexp.Regexp
}

// pullCauses are tried in order; the first whose pattern matches wins.
var pullCauses = []pullCause{
	{"platform-mismatch", "the image has no manifest for the node's platform (a wasi/wasm-only index, or another architecture's), so containerd cannot pull it there",
		regexp.MustCompile(`(?i)no match for platform in manifest`)},
	{"registry-auth", "the registry refuses the pull for lack of credentials: neither the node's registries.yaml nor the pod's imagePullSecrets give any it accepts",
		regexp.MustCompile(`(?i)401 Unauthorized|403 Forbidden|authorization failed|failed to authorize|pull access denied|insufficient_scope`)},
	{"registry-tls", "the node cannot talk TLS to the registry: its CA is not trusted, or it serves plain HTTP, and registries.yaml on the node does not say so",
		regexp.MustCompile(`(?i)x509: |tls: failed to verify certificate|server gave HTTP response to HTTPS client`)},
	{"image-not-found", "the image reference names a tag or digest the registry does not have",
		regexp.MustCompile(`failed to resolve reference "[^"]+": .*not found|manifest unknown`)},
}

// genericPull is the cause when the error says nothing the case explains.
var genericPull = pullCause{cause: "image-pull-failed", message: "the Wasm image cannot be pulled on the node; the pull error is quoted"}

// Detect checks the containers of every Wasm pod that wait for their image.
func (ImagePullFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	pods, err := r.pods(casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	rt, err := r.wasmRuntimes()
	if err != nil {
		return nil, err
	}
	nodes, err := r.nodes()
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if !ok {
		nodes = nil
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	nodeByName := map[string]*corev1.Node{}
	for _, n := range nodes {
		nodeByName[n.Name] = n
	}
	// Where each image runs: a pull that fails on one node and works on
	// another points at the platform.
	runsOn := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if podTerminal(p) || p.Spec.NodeName == "" {
			continue
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil {
				runsOn[cs.Image] = append(runsOn[cs.Image], p)
			}
		}
	}

	var out []casebook.Finding
	for _, p := range pods {
		if podTerminal(p) {
			continue
		}
		rtQuote, ok := rt.isWasm(p)
		if !ok {
			continue
		}
		containers := append(append([]corev1.Container(nil), p.Spec.InitContainers...), p.Spec.Containers...)
		for i := range containers {
			c := &containers[i]
			cs := statusOfContainer(p, c.Name)
			if cs == nil || cs.State.Waiting == nil || (cs.State.Waiting.Reason != "ErrImagePull" && cs.State.Waiting.Reason != "ImagePullBackOff") {
				continue
			}
			out = append(out, pullFailure(p, c, cs, rtQuote, events, nodeByName, runsOn))
		}
	}
	return r.done(out)
}

// pullFailure explains one container of a Wasm pod waiting for its image.
func pullFailure(p *corev1.Pod, c *corev1.Container, cs *corev1.ContainerStatus, rtQuote casebook.Evidence, events *cluster.EventIndex,
	nodeByName map[string]*corev1.Node, runsOn map[string][]*corev1.Pod) casebook.Finding {
	name := objName(p.Namespace, p.Name)
	w := cs.State.Waiting
	waiting := quote(casebook.KindPod, name, "container %s waiting: %s", c.Name, w.Reason)
	if w.Message != "" {
		waiting.Text += ": " + w.Message
	}
	ev := []casebook.Evidence{rtQuote, waiting}
	var texts []string
	for _, e := range lastByMessage(eventsOfContainer(p, c.Name, events.Of("Pod", p, "Failed"))) {
		if strings.HasPrefix(e.Message, "Failed to pull image") {
			ev = append(ev, quoteEvent(e))
			texts = append(texts, e.Message)
		}
	}
	// The waiting message carries the error itself for ErrImagePull, and
	// for ImagePullBackOff from Kubernetes 1.32 on.
	texts = append(texts, w.Message)
	pc := genericPull
	for _, cand := range pullCauses {
		if matchesAny(cand.re, texts) {
			pc = cand
			break
		}
	}
	if bo := last(eventsOfContainer(p, c.Name, events.Of("Pod", p, "BackOff"))); bo != nil && strings.HasPrefix(bo.Message, "Back-off pulling image") {
		ev = append(ev, quoteEvent(bo))
	}
	switch pc.cause {
	case "platform-mismatch":
		if n := nodeByName[p.Spec.NodeName]; n != nil {
			ev = append(ev, quoteNodePlatform(n))
		}
		ev = append(ev, elsewhere(c.Image, p, runsOn, nodeByName)...)
	case "registry-auth":
		if len(p.Spec.ImagePullSecrets) == 0 {
			ev = append(ev, quote(casebook.KindPod, name, "spec.imagePullSecrets: none"))
		} else {
			var names []string
			for _, s := range p.Spec.ImagePullSecrets {
				names = append(names, s.Name)
			}
			ev = append(ev, quote(casebook.KindPod, name, "spec.imagePullSecrets: %s", strings.Join(names, ", ")))
		}
	}
	if p.Spec.NodeName != "" && (pc.cause == "registry-auth" || pc.cause == "registry-tls" || pc.cause == genericPull.cause) {
		ev = append(ev, quote(casebook.KindPod, name, "spec.nodeName: %s (registries.yaml is read per node)", p.Spec.NodeName))
	}
	return casebook.Finding{CaseID: "W-007", Cause: pc.cause, Objects: []casebook.ObjectRef{ref(casebook.KindPod, p)},
		Message: pc.message, Evidence: ev}
}

func matchesAny(re *regexp.Regexp, texts []string) bool {
	for _, t := range texts {
		if re.MatchString(t) {
			return true
		}
	}
	return false
}

// quoteNodePlatform quotes the platform a node pulls images for.
func quoteNodePlatform(n *corev1.Node) casebook.Evidence {
	return quote(casebook.KindNode, n.Name, "nodeInfo: operatingSystem %s, architecture %s (label kubernetes.io/arch=%s)", n.Status.NodeInfo.OperatingSystem, n.Status.NodeInfo.Architecture, n.Labels[corev1.LabelArchStable])
}

// elsewhere quotes up to three pods that run the same image on other nodes,
// with those nodes' platforms.
func elsewhere(image string, p *corev1.Pod, runsOn map[string][]*corev1.Pod, nodeByName map[string]*corev1.Node) []casebook.Evidence {
	others := append([]*corev1.Pod(nil), runsOn[image]...)
	sort.SliceStable(others, func(i, j int) bool { return others[i].Spec.NodeName < others[j].Spec.NodeName })
	var out []casebook.Evidence
	for _, o := range others {
		if o.Spec.NodeName == p.Spec.NodeName || len(out) == 3 {
			continue
		}
		platform := ""
		if n := nodeByName[o.Spec.NodeName]; n != nil {
			platform = fmt.Sprintf(" (%s/%s)", n.Status.NodeInfo.OperatingSystem, n.Status.NodeInfo.Architecture)
		}
		out = append(out, quote(casebook.KindPod, objName(o.Namespace, o.Name), "runs the same image %s on node %s%s", image, o.Spec.NodeName, platform))
	}
	return out
}

// w007Steps are the next steps of ImagePullFailed findings, by cause.
var w007Steps = stepsByCause{
	"": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 2, Kind: casebook.KindPod, Cmd: `tail -n 100 /var/lib/rancher/k3s/agent/containerd/containerd.log`, OnNode: true},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (ImagePullFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return w007Steps.of(f.Cause)
}

// w007ZH are the messages of ImagePullFailed findings in Chinese, by cause.
var w007ZH = zhByCause{
	"platform-mismatch": `镜像没有节点平台的 manifest（仅 wasi/wasm 的 index，或其他架构），containerd 在该节点上无法拉取`,
	"registry-auth":     `仓库因缺少凭据拒绝拉取：节点的 registries.yaml 和 Pod 的 imagePullSecrets 都没有提供它接受的凭据`,
	"registry-tls":      `节点无法与仓库建立 TLS：其 CA 不受信任，或仓库只提供 HTTP，而节点上的 registries.yaml 没有声明`,
	"image-not-found":   `镜像引用的 tag 或 digest 在仓库中不存在`,
	"image-pull-failed": `节点无法拉取该 Wasm 镜像；拉取错误原样引用`,
}

// MessageZH returns the finding's message in Chinese.
func (ImagePullFailed) MessageZH(f *casebook.Finding) string { return w007ZH.of(f.Cause) }
