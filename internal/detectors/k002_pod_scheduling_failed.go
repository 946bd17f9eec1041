package detectors

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// PodSchedulingFailed finds K-002: pods the scheduler cannot place. It
// reads the scheduler's own message ("0/3 nodes are available: ...") from
// the pod's PodScheduled condition or its FailedScheduling events, splits it
// into its reasons, and quotes the node and pod fields that explain each.
type PodSchedulingFailed struct{}

var (
	_ engine.Detector   = PodSchedulingFailed{}
	_ engine.Stepper    = PodSchedulingFailed{}
	_ engine.Translator = PodSchedulingFailed{}
	_ engine.Explainer  = PodSchedulingFailed{}
)

// CaseID returns "K-002".
func (PodSchedulingFailed) CaseID() string { return "K-002" }

// Kinds lists the kinds the detector reads.
func (PodSchedulingFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPod, casebook.KindNode, casebook.KindEvent, casebook.KindRuntimeClass, casebook.KindPersistentVolumeClaim}
}

// Detect reports every Pending, unscheduled pod whose scheduling failed.
func (PodSchedulingFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	pods, err := r.pods(casebook.AllNamespaces)
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
	sc := &schedContext{r: r, nodes: nodes, pods: pods}
	var out []casebook.Finding
	for _, p := range pods {
		if p.Status.Phase != corev1.PodPending || p.Spec.NodeName != "" || p.DeletionTimestamp != nil {
			continue
		}
		var evidence []casebook.Evidence
		msg := ""
		cond := podCondition(p, corev1.PodScheduled)
		if cond != nil && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			msg = cond.Message
			evidence = append(evidence, quotePodCondition(p, cond))
		}
		if cond != nil && cond.Reason == corev1.PodReasonSchedulingGated {
			// Held back on purpose by a scheduling gate, not failed.
			continue
		}
		if e := last(events.Of("Pod", p, "FailedScheduling")); e != nil {
			switch {
			case msg == "" && (cond == nil || cond.Status != corev1.ConditionTrue):
				msg = e.Message
				evidence = append(evidence, quoteEvent(e))
			case msg != "" && e.Message != msg:
				evidence = append(evidence, quoteEvent(e))
			}
		}
		if !isFitError(msg) {
			// Not the scheduler's verdict on the nodes (a PreBind error
			// while a volume is provisioned, say): another case's symptom.
			continue
		}
		reasons := parseSchedulerMessage(msg)
		f := casebook.Finding{
			CaseID:   "K-002",
			Cause:    schedCause(reasons),
			Objects:  []casebook.ObjectRef{ref(casebook.KindPod, p)},
			Message:  schedMessage(reasons),
			Evidence: append(evidence, sc.explain(p, reasons)...),
		}
		out = append(out, f)
	}
	return r.done(out)
}

// isFitError reports whether msg is the scheduler's FitError: no node fits.
func isFitError(msg string) bool {
	return strings.Contains(msg, " nodes are available") || strings.Contains(msg, "no nodes available to schedule pods")
}

// schedReason is one reason of a scheduler message: "2 Insufficient memory".
type schedReason struct {
	Count    int
	Text     string
	Category string
}

var taintInMessage = regexp.MustCompile(`\{([^}]*)\}`)

// parseSchedulerMessage splits the scheduler's FitError message,
// "0/N nodes are available: <reasons>. preemption: ...", into its reasons.
// It reads the current wording ("node(s) had untolerated taint(s)") and
// the older ones ("had untolerated taint {k: v}", "had taint {k: v}, that
// the pod didn't tolerate").
func parseSchedulerMessage(msg string) []schedReason {
	body := msg
	if _, after, ok := strings.Cut(msg, "nodes are available:"); ok {
		body = after
	}
	if before, _, ok := strings.Cut(body, " preemption:"); ok {
		body = before
	}
	body = strings.TrimSuffix(strings.TrimSpace(body), ".")
	var out []schedReason
	for _, tok := range strings.Split(body, ", ") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		count, text := 0, tok
		if n, rest, ok := strings.Cut(tok, " "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				count, text = v, rest
			}
		}
		if count == 0 && len(out) > 0 && !strings.HasPrefix(tok, "pod has") {
			// "that the pod didn't tolerate" continues the previous reason.
			out[len(out)-1].Text += ", " + tok
			continue
		}
		out = append(out, schedReason{Count: count, Text: text})
	}
	if strings.HasPrefix(strings.TrimSpace(msg), "0/0 nodes") || strings.Contains(msg, "no nodes available to schedule pods") {
		return []schedReason{{Text: "no nodes", Category: "no-nodes"}}
	}
	for i := range out {
		out[i].Category = schedCategory(out[i].Text)
	}
	return out
}

func schedCategory(text string) string {
	switch {
	case strings.HasPrefix(text, "Insufficient "):
		res := strings.TrimPrefix(text, "Insufficient ")
		switch res {
		case "cpu", "memory", "ephemeral-storage", "pods":
			return "insufficient-" + res
		}
		return "insufficient-resource"
	case strings.Contains(text, "untolerated taint") || strings.Contains(text, "had taint"):
		return "untolerated-taint"
	case strings.Contains(text, "didn't match Pod's node affinity/selector") || strings.Contains(text, "didn't match node selector"):
		return "node-affinity"
	case strings.Contains(text, "anti-affinity"):
		return "pod-anti-affinity"
	case strings.Contains(text, "pod affinity"):
		return "pod-affinity"
	case strings.Contains(text, "unbound immediate PersistentVolumeClaims"):
		return "unbound-pvc"
	case strings.Contains(text, "volume node affinity conflict") || strings.Contains(text, "didn't match PersistentVolume's node affinity"):
		return "volume-node-affinity"
	case strings.Contains(text, "didn't find available persistent volumes to bind"):
		return "no-persistent-volume"
	case strings.Contains(text, "Too many pods"):
		return "too-many-pods"
	case strings.Contains(text, "were unschedulable"):
		return "unschedulable"
	case strings.Contains(text, "free ports"):
		return "host-ports"
	case strings.Contains(text, "didn't match the requested node name"):
		return "node-name"
	case strings.Contains(text, "didn't satisfy plugin"):
		return "prefiltered"
	}
	return "other"
}

var categoryPhrase = map[string]string{
	"insufficient-cpu":               "not enough free CPU",
	"insufficient-memory":            "not enough free memory",
	"insufficient-ephemeral-storage": "not enough free ephemeral storage",
	"insufficient-pods":              "no free pod slots",
	"insufficient-resource":          "not enough of a requested resource",
	"untolerated-taint":              "a taint the pod does not tolerate",
	"node-affinity":                  "labels that do not match the pod's node selector or affinity",
	"pod-affinity":                   "no pod the pod's affinity asks for",
	"pod-anti-affinity":              "a pod its anti-affinity rules out",
	"unbound-pvc":                    "the pod's PersistentVolumeClaim is not bound",
	"volume-node-affinity":           "the pod's PersistentVolume is pinned to another node",
	"no-persistent-volume":           "no PersistentVolume to bind the claim to",
	"too-many-pods":                  "already running their maximum number of pods",
	"unschedulable":                  "cordoned (unschedulable)",
	"host-ports":                     "the requested host port is already in use",
	"node-name":                      "not the node the pod names",
	"prefiltered":                    "ruled out up front (a DaemonSet pod's other nodes, say)",
	"no-nodes":                       "the cluster has no nodes",
	"other":                          "another scheduling constraint",
}

// schedCause is the cause key: the kinds of reasons, sorted.
func schedCause(rs []schedReason) string {
	seen := map[string]bool{}
	var cats []string
	for _, r := range rs {
		if !seen[r.Category] {
			seen[r.Category] = true
			cats = append(cats, r.Category)
		}
	}
	sort.Strings(cats)
	return strings.Join(cats, "+")
}

// schedMessage says which reasons apply, most nodes first.
func schedMessage(rs []schedReason) string {
	sorted := append([]schedReason(nil), rs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Count > sorted[j].Count })
	var parts []string
	for _, r := range sorted {
		phrase := categoryPhrase[r.Category]
		if r.Category == "insufficient-resource" {
			phrase = "not enough " + strings.TrimPrefix(r.Text, "Insufficient ")
		}
		if r.Category == "other" {
			phrase = r.Text
		}
		if r.Count > 0 {
			parts = append(parts, fmt.Sprintf("%d node(s): %s", r.Count, phrase))
		} else {
			parts = append(parts, phrase)
		}
	}
	return "pod cannot be scheduled: " + strings.Join(parts, "; ")
}

// schedContext explains reasons with the cluster's own fields.
type schedContext struct {
	r     *reader
	nodes []*corev1.Node
	pods  []*corev1.Pod
	// runtimeClasses is read on first use.
	runtimeClasses map[string]*nodev1.RuntimeClass
	pvcs           map[string]*corev1.PersistentVolumeClaim
	// used is what the pods on each node request, summed on first use.
	used map[string]corev1.ResourceList
}

func (sc *schedContext) explain(p *corev1.Pod, rs []schedReason) []casebook.Evidence {
	var out []casebook.Evidence
	done := map[string]bool{}
	for _, r := range rs {
		cat := r.Category
		if strings.HasPrefix(cat, "insufficient-") {
			cat = "insufficient"
		}
		if done[cat] {
			continue
		}
		done[cat] = true
		switch cat {
		case "insufficient":
			out = append(out, sc.resources(p)...)
		case "untolerated-taint":
			out = append(out, sc.taints(p)...)
		case "node-affinity":
			out = append(out, sc.selectors(p)...)
		case "unbound-pvc", "volume-node-affinity", "no-persistent-volume":
			out = append(out, sc.claims(p)...)
		case "unschedulable":
			for _, n := range sc.nodes {
				if n.Spec.Unschedulable {
					out = append(out, quote(casebook.KindNode, n.Name, "spec.unschedulable: true"))
				}
			}
		}
	}
	return out
}

// podRequests sums what the scheduler counts for a pod: the larger of its
// containers (with restartable init containers) and any init container,
// plus the RuntimeClass overhead.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	total := corev1.ResourceList{}
	add := func(rl corev1.ResourceList) {
		for k, v := range rl {
			q := total[k]
			q.Add(v)
			total[k] = q
		}
	}
	for _, c := range p.Spec.Containers {
		add(c.Resources.Requests)
	}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c.Resources.Requests)
		}
	}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			continue
		}
		for k, v := range c.Resources.Requests {
			if q, ok := total[k]; !ok || v.Cmp(q) > 0 {
				total[k] = v.DeepCopy()
			}
		}
	}
	add(p.Spec.Overhead)
	return total
}

// requestedByNode sums the requests of the pods on each node.
func (sc *schedContext) requestedByNode() map[string]corev1.ResourceList {
	used := map[string]corev1.ResourceList{}
	for _, q := range sc.pods {
		if q.Spec.NodeName == "" || podTerminal(q) {
			continue
		}
		rl := used[q.Spec.NodeName]
		if rl == nil {
			rl = corev1.ResourceList{}
			used[q.Spec.NodeName] = rl
		}
		for k, v := range podRequests(q) {
			s := rl[k]
			s.Add(v)
			rl[k] = s
		}
	}
	return used
}

// formatResources writes quantities as the cluster wrote them, with memory
// also in Mi so that Ki and Gi figures can be compared at a glance.
func formatResources(rl corev1.ResourceList, names []corev1.ResourceName) string {
	var parts []string
	for _, n := range names {
		q, ok := rl[n]
		if !ok {
			continue
		}
		s := fmt.Sprintf("%s %s", n, q.String())
		if n == corev1.ResourceMemory || n == corev1.ResourceEphemeralStorage {
			if mi := fmt.Sprintf("%dMi", q.Value()>>20); mi != q.String() {
				s += " (" + mi + ")"
			}
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func (sc *schedContext) resources(p *corev1.Pod) []casebook.Evidence {
	names := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}
	req := podRequests(p)
	out := []casebook.Evidence{quote(casebook.KindPod, objName(p.Namespace, p.Name), "requests %s", formatResources(req, names))}
	if sc.used == nil {
		sc.used = sc.requestedByNode()
	}
	used := sc.used
	for _, n := range sc.nodes {
		if len(out) > 6 {
			break
		}
		var present []corev1.ResourceName
		for _, name := range names {
			if _, ok := req[name]; ok {
				present = append(present, name)
			}
		}
		out = append(out, quote(casebook.KindNode, n.Name, "allocatable %s; requested by its pods %s", formatResources(n.Status.Allocatable, present), formatResources(withZeros(used[n.Name], present), present)))
	}
	return out
}

func withZeros(rl corev1.ResourceList, names []corev1.ResourceName) corev1.ResourceList {
	full := corev1.ResourceList{}
	for _, n := range names {
		if q, ok := rl[n]; ok {
			full[n] = q
		} else {
			full[n] = *resource.NewQuantity(0, resource.DecimalSI)
		}
	}
	return full
}

func (sc *schedContext) taints(p *corev1.Pod) []casebook.Evidence {
	var out []casebook.Evidence
	for _, n := range sc.nodes {
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectPreferNoSchedule {
				continue
			}
			tolerated := false
			for _, tol := range p.Spec.Tolerations {
				if tolerates(tol, t) {
					tolerated = true
					break
				}
			}
			if !tolerated {
				out = append(out, quote(casebook.KindNode, n.Name, "taint %s (not tolerated by the pod)", t.ToString()))
			}
		}
	}
	return out
}

func (sc *schedContext) selectors(p *corev1.Pod) []casebook.Evidence {
	var out []casebook.Evidence
	keys := make([]string, 0, len(p.Spec.NodeSelector))
	for k := range p.Spec.NodeSelector {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := p.Spec.NodeSelector[k]
		matched := 0
		for _, n := range sc.nodes {
			if n.Labels[k] == v {
				matched++
			}
		}
		if matched == 0 {
			out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "spec.nodeSelector %s=%s matches 0 of %d nodes", k, v, len(sc.nodes)))
		}
	}
	if rc := sc.runtimeClass(p.Spec.RuntimeClassName); rc != nil && rc.Scheduling != nil && len(rc.Scheduling.NodeSelector) > 0 {
		out = append(out, quote(casebook.KindRuntimeClass, rc.Name, "scheduling.nodeSelector: %s", formatLabels(rc.Scheduling.NodeSelector)))
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, e := range term.MatchExpressions {
				out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "requires node affinity %s %s %s", e.Key, e.Operator, strings.Join(e.Values, ",")))
			}
		}
	}
	return out
}

func (sc *schedContext) runtimeClass(name *string) *nodev1.RuntimeClass {
	if name == nil || *name == "" {
		return nil
	}
	if sc.runtimeClasses == nil {
		sc.runtimeClasses = map[string]*nodev1.RuntimeClass{}
		rcs, err := cluster.List[nodev1.RuntimeClass](sc.r.st, casebook.KindRuntimeClass, "")
		if ok, _ := sc.r.optional(err); ok {
			for _, rc := range rcs {
				sc.runtimeClasses[rc.Name] = rc
			}
		}
	}
	return sc.runtimeClasses[*name]
}

func (sc *schedContext) claims(p *corev1.Pod) []casebook.Evidence {
	if sc.pvcs == nil {
		sc.pvcs = map[string]*corev1.PersistentVolumeClaim{}
		pvcs, err := cluster.List[corev1.PersistentVolumeClaim](sc.r.st, casebook.KindPersistentVolumeClaim, casebook.AllNamespaces)
		if ok, _ := sc.r.optional(err); ok {
			for _, c := range pvcs {
				sc.pvcs[c.Namespace+"/"+c.Name] = c
			}
		}
	}
	var out []casebook.Evidence
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		c := sc.pvcs[p.Namespace+"/"+v.PersistentVolumeClaim.ClaimName]
		if c == nil {
			out = append(out, quote(casebook.KindPod, objName(p.Namespace, p.Name), "volume %s: PersistentVolumeClaim %q not found", v.Name, v.PersistentVolumeClaim.ClaimName))
			continue
		}
		sc := "<default>"
		if c.Spec.StorageClassName != nil {
			sc = *c.Spec.StorageClassName
		}
		text := fmt.Sprintf("%s, storageClassName: %s", c.Status.Phase, sc)
		if c.Spec.VolumeName != "" {
			text += ", volumeName: " + c.Spec.VolumeName
		}
		out = append(out, casebook.Evidence{Object: ref(casebook.KindPersistentVolumeClaim, c), Field: "status.phase", Text: text})
	}
	return out
}

// tolerates is the scheduler's toleration match for the Equal and Exists
// operators.
func tolerates(tol corev1.Toleration, t corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != t.Effect {
		return false
	}
	if tol.Key == "" {
		return tol.Operator == corev1.TolerationOpExists
	}
	if tol.Key != t.Key {
		return false
	}
	switch tol.Operator {
	case corev1.TolerationOpExists:
		return true
	case "", corev1.TolerationOpEqual:
		return tol.Value == t.Value
	}
	return false
}

// k002ResourceSteps are the next steps of every "not enough of a resource"
// cause: the pod's own message, then what the nodes have allocated.
var k002ResourceSteps = []engine.StepTemplate{
	{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
	{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl describe nodes | grep -A 8 'Allocated resources'`},
}

// k002Steps are the next steps of PodSchedulingFailed findings, by cause.
var k002Steps = stepsByCause{
	"insufficient-cpu":               k002ResourceSteps,
	"insufficient-memory":            k002ResourceSteps,
	"insufficient-pods":              k002ResourceSteps,
	"insufficient-ephemeral-storage": k002ResourceSteps,
	"insufficient-resource":          k002ResourceSteps,
	"too-many-pods":                  k002ResourceSteps,
	"untolerated-taint": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 4, Kind: casebook.KindPod, Cmd: `kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints`},
	},
	"unschedulable": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 4, Kind: casebook.KindPod, Cmd: `kubectl get nodes -o custom-columns=NAME:.metadata.name,UNSCHEDULABLE:.spec.unschedulable`},
	},
	"node-affinity": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 5, Kind: casebook.KindPod, Cmd: `kubectl get pod -n %ns% %name% -o jsonpath='{.spec.nodeSelector}{"\n"}{.spec.affinity}{"\n"}{.spec.runtimeClassName}{"\n"}'`},
	},
	"unbound-pvc": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 6, Kind: casebook.KindPod, Cmd: `kubectl get pvc -n %ns%`},
	},
	"volume-node-affinity": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 6, Kind: casebook.KindPod, Cmd: `kubectl get pvc -n %ns%`},
	},
	"no-persistent-volume": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 6, Kind: casebook.KindPod, Cmd: `kubectl get pvc -n %ns%`},
	},
	"": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (PodSchedulingFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return k002Steps.of(f.Cause)
}

// k002ZH are the messages of PodSchedulingFailed findings in Chinese, by cause.
var k002ZH = zhByCause{
	"insufficient-cpu":               `Pod 无法调度：节点空闲 CPU 不足`,
	"insufficient-memory":            `Pod 无法调度：节点空闲内存不足`,
	"insufficient-ephemeral-storage": `Pod 无法调度：节点空闲临时存储不足`,
	"insufficient-pods":              `Pod 无法调度：节点没有空闲的 Pod 名额`,
	"insufficient-resource":          `Pod 无法调度：节点缺少所请求的资源`,
	"untolerated-taint":              `Pod 无法调度：节点有 Pod 不容忍的污点`,
	"node-affinity":                  `Pod 无法调度：节点标签不满足 Pod 的 nodeSelector 或节点亲和性`,
	"pod-affinity":                   `Pod 无法调度：找不到 Pod 亲和性要求的 Pod`,
	"pod-anti-affinity":              `Pod 无法调度：反亲和性规则排除了节点`,
	"unbound-pvc":                    `Pod 无法调度：Pod 的 PersistentVolumeClaim 未绑定`,
	"volume-node-affinity":           `Pod 无法调度：Pod 的 PersistentVolume 固定在别的节点上`,
	"no-persistent-volume":           `Pod 无法调度：没有可供该 PVC 绑定的 PersistentVolume`,
	"too-many-pods":                  `Pod 无法调度：节点已运行到 Pod 数上限`,
	"unschedulable":                  `Pod 无法调度：节点已被 cordon（unschedulable）`,
	"host-ports":                     `Pod 无法调度：请求的 hostPort 已被占用`,
	"node-name":                      `Pod 无法调度：不是 Pod 指定的节点`,
	"prefiltered":                    `Pod 无法调度：节点被预先排除（例如 DaemonSet Pod 的其他节点）`,
	"no-nodes":                       `Pod 无法调度：集群没有节点`,
	"other":                          `Pod 无法调度：其他调度约束`,
	"":                               `Pod 无法调度`,
}

// MessageZH returns the finding's message in Chinese.
func (PodSchedulingFailed) MessageZH(f *casebook.Finding) string { return k002ZH.of(f.Cause) }

// Symptom reports whether a finding of the cause can be the consequence of
// another finding (its pods' own fault, say): only those are shown under
// a root cause.
func (PodSchedulingFailed) Symptom(cause string) bool {
	switch strings.SplitN(cause, "+", 2)[0] {
	case "unbound-pvc", "volume-node-affinity", "no-persistent-volume":
		return true
	}
	return false
}
