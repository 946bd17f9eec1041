package detectors

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// StorageVolumeMountFailed finds K-003, the K3s local-path side of volume
// failures: the local-path provisioner deployed but not running, its helper
// pods failing, a local-path volume pinned to a node that is gone or
// NotReady while a pod waits for it, and local-path mounts that fail on the
// node (the directory is gone).
type StorageVolumeMountFailed struct{}

var (
	_ engine.Detector   = StorageVolumeMountFailed{}
	_ engine.Stepper    = StorageVolumeMountFailed{}
	_ engine.Translator = StorageVolumeMountFailed{}
)

// CaseID returns "K-003".
func (StorageVolumeMountFailed) CaseID() string { return "K-003" }

// Kinds lists the kinds the detector reads.
func (StorageVolumeMountFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPod, casebook.KindNode, casebook.KindEvent, casebook.KindPersistentVolumeClaim, casebook.KindPersistentVolume, casebook.KindStorageClass}
}

// local-path names its helper pods after the volume: helper-pod-create-pvc-<uid>.
const (
	helperCreatePrefix = "helper-pod-create-"
	helperDeletePrefix = "helper-pod-delete-"
)

// Detect checks the local-path provisioner, its helper pods and the pods
// that use local-path volumes.
func (StorageVolumeMountFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	sto, err := r.storage()
	if err != nil {
		return nil, err
	}
	pods, err := r.podsAndSystem()
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

	var out []casebook.Finding
	if f, ok := provisionerNotRunning(pods, events); ok {
		out = append(out, f)
	}
	out = append(out, helperPodFailures(sto, pods, events)...)
	if nodes != nil {
		out = append(out, pinnedToBadNode(sto, pods, nodes, events)...)
	}
	for _, p := range pods {
		if podTerminal(p) || podRunning(p) {
			continue
		}
		if f, ok := localPathMountFailure(sto, p, events); ok {
			out = append(out, f)
		}
	}
	return r.done(out)
}

// provisionerNotRunning finds a local-path provisioner that is deployed
// but has no ready pod.
func provisionerNotRunning(pods []*corev1.Pod, events *cluster.EventIndex) (casebook.Finding, bool) {
	var prov []*corev1.Pod
	for _, p := range pods {
		if p.Labels[localPathLabel] == localPathLabelValue && !podTerminal(p) {
			if podReady(p) {
				return casebook.Finding{}, false
			}
			prov = append(prov, p)
		}
	}
	if len(prov) == 0 {
		return casebook.Finding{}, false
	}
	f := casebook.Finding{CaseID: "K-003", Cause: "provisioner-not-running",
		Message: "the local-path provisioner is not running, so no local-path volume is created or deleted"}
	for _, p := range prov {
		f.Objects = append(f.Objects, ref(casebook.KindPod, p))
		f.Evidence = append(f.Evidence, quote(casebook.KindPod, objName(p.Namespace, p.Name), "status.phase: %s", p.Status.Phase))
		f.Evidence = append(f.Evidence, waitingReasons(p)...)
		for _, e := range lastByReason(events.Of("Pod", p, "BackOff", "Failed", "FailedScheduling", "FailedMount")) {
			f.Evidence = append(f.Evidence, quoteEvent(e))
		}
	}
	return f, true
}

// helperPodFailures finds local-path helper pods (which create and delete
// the volume directories on the node) that cannot run, and the claims they
// hold up.
func helperPodFailures(sto *storage, pods []*corev1.Pod, events *cluster.EventIndex) []casebook.Finding {
	var out []casebook.Finding
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, helperCreatePrefix) && !strings.HasPrefix(p.Name, helperDeletePrefix) {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.DeletionTimestamp != nil || podRunning(p) {
			continue
		}
		ev := []casebook.Evidence{quote(casebook.KindPod, objName(p.Namespace, p.Name), "status.phase: %s", p.Status.Phase)}
		ev = append(ev, waitingReasons(p)...)
		if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
			ev = append(ev, quotePodCondition(p, c))
		}
		ev = append(ev, quoteEventsOf(p, lastByReason(events.Of("Pod", p, "Failed", "FailedScheduling", "BackOff", "FailedCreatePodSandBox")))...)
		if len(ev) == 1 && p.Status.Phase != corev1.PodFailed {
			// Just created and not failing yet.
			continue
		}
		objs := []casebook.ObjectRef{ref(casebook.KindPod, p)}
		pvName := strings.TrimPrefix(strings.TrimPrefix(p.Name, helperCreatePrefix), helperDeletePrefix)
		claimNS, claimName := helperClaim(p)
		for _, c := range sto.Claims {
			if (c.Namespace == claimNS && c.Name == claimName) || "pvc-"+string(c.UID) == pvName || c.Spec.VolumeName == pvName {
				objs = append(objs, ref(casebook.KindPersistentVolumeClaim, c))
				for _, e := range lastByReason(events.Of("PersistentVolumeClaim", c, "ProvisioningFailed")) {
					ev = append(ev, quoteEvent(e))
				}
			}
		}
		out = append(out, casebook.Finding{CaseID: "K-003", Cause: "helper-pod-failed", Objects: objs,
			Message:  "a local-path helper pod cannot run, so the volume directory on the node is not created or removed",
			Evidence: ev})
	}
	return out
}

// pinnedToBadNode finds pods waiting for a local-path volume whose node
// affinity pins it to a node that no longer exists or is not Ready.
func pinnedToBadNode(sto *storage, pods []*corev1.Pod, nodes []*corev1.Node, events *cluster.EventIndex) []casebook.Finding {
	byName := map[string]*corev1.Node{}
	for _, n := range nodes {
		byName[n.Name] = n
	}
	var out []casebook.Finding
	for _, pv := range sto.Volumes {
		if !sto.isLocalPath(pv) || pv.Spec.ClaimRef == nil {
			continue
		}
		host := pvNode(pv)
		if host == "" {
			continue
		}
		node := byName[host]
		if node != nil && nodeReady(node) {
			continue
		}
		claim := sto.Claim(pv.Spec.ClaimRef.Namespace, pv.Spec.ClaimRef.Name)
		if claim == nil {
			continue
		}
		var waiting []*corev1.Pod
		for _, p := range consumers(pods, claim) {
			if !podRunning(p) {
				waiting = append(waiting, p)
			}
		}
		if len(waiting) == 0 {
			continue
		}
		ev := []casebook.Evidence{quotePVNodeAffinity(pv)}
		cause, msg := "pv-node-gone", "the pod's local-path volume lives on a node that no longer exists, so the pod cannot start anywhere"
		if node == nil {
			ev = append(ev, quote(casebook.KindNode, host, "not found; nodes: %s", nodeNames(nodes)))
		} else {
			cause, msg = "pv-node-not-ready", "the pod's local-path volume lives on a node that is not Ready, so the pod cannot start"
			if c := nodeCondition(node, corev1.NodeReady); c != nil {
				ev = append(ev, quote(casebook.KindNode, node.Name, "condition Ready=%s reason %s: %s", c.Status, c.Reason, c.Message))
			} else {
				ev = append(ev, quote(casebook.KindNode, node.Name, "has no Ready condition"))
			}
		}
		objs := []casebook.ObjectRef{}
		for _, p := range waiting {
			objs = append(objs, ref(casebook.KindPod, p))
			if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
				ev = append(ev, quotePodCondition(p, c))
			}
			ev = append(ev, quoteEventsOf(p, lastByReason(events.Of("Pod", p, "FailedScheduling", "FailedMount")))...)
		}
		objs = append(objs, ref(casebook.KindPersistentVolume, pv))
		out = append(out, casebook.Finding{CaseID: "K-003", Cause: cause, Objects: objs, Message: msg, Evidence: ev})
	}
	return out
}

// localPathMountFailure finds a waiting pod whose local-path volume fails
// to mount on its node: typically the directory under
// /var/lib/rancher/k3s/storage is gone (node rebuilt, disk not mounted).
func localPathMountFailure(sto *storage, p *corev1.Pod, events *cluster.EventIndex) (casebook.Finding, bool) {
	vols := sto.claimVolumes(p)
	var ev []casebook.Evidence
	objs := []casebook.ObjectRef{ref(casebook.KindPod, p)}
	for _, e := range lastByMessage(events.Of("Pod", p, "FailedMount")) {
		local := false
		for _, v := range volumesOfEvent(vols, e.Message) {
			if v.pvc != nil && sto.claimIsLocalPath(v.pvc) {
				local = true
				if v.pv != nil {
					objs = appendRef(objs, ref(casebook.KindPersistentVolume, v.pv))
				}
			}
		}
		if local {
			ev = append(ev, quoteEvent(e))
		}
	}
	if len(ev) == 0 {
		return casebook.Finding{}, false
	}
	for _, v := range vols {
		if v.pv != nil && sto.isLocalPath(v.pv) {
			ev = append(ev, quotePVNodeAffinity(v.pv))
		}
	}
	return casebook.Finding{CaseID: "K-003", Cause: "local-path-mount-failed", Objects: objs,
		Message:  "the pod's local-path volume cannot be mounted on its node; its directory is missing or unusable",
		Evidence: ev}, true
}

// helperClaim reads the claim a local-path helper pod works for from the
// volume directory it is given: -p /var/lib/rancher/k3s/storage/pvc-<uid>_<namespace>_<claim>.
func helperClaim(p *corev1.Pod) (namespace, name string) {
	for _, c := range p.Spec.Containers {
		for i, a := range c.Args {
			if a != "-p" || i+1 >= len(c.Args) {
				continue
			}
			dir := c.Args[i+1]
			base := dir[strings.LastIndexByte(dir, '/')+1:]
			parts := strings.SplitN(base, "_", 3)
			if len(parts) == 3 {
				return parts[1], parts[2]
			}
		}
	}
	return "", ""
}

func nodeNames(nodes []*corev1.Node) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	return strings.Join(names, ", ")
}

// k003Steps are the next steps of StorageVolumeMountFailed findings, by cause.
var k003Steps = stepsByCause{
	"provisioner-not-running": {
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl -n kube-system describe pod %name%`},
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl -n %ns% logs %name% --tail=50`},
	},
	"helper-pod-failed": {
		{Step: 3, Kind: casebook.KindPod, Cmd: `kubectl -n %ns% describe pod %name%`},
	},
	"pv-node-gone": {
		{Step: 5, Kind: casebook.KindPersistentVolume, Cmd: `kubectl get pv %name% -o jsonpath='{.spec.nodeAffinity}{"\n"}'`},
		{Step: 5, Kind: casebook.KindPersistentVolume, Cmd: `kubectl get nodes`},
	},
	"pv-node-not-ready": {
		{Step: 5, Kind: casebook.KindPersistentVolume, Cmd: `kubectl get pv %name% -o jsonpath='{.spec.nodeAffinity}{"\n"}'`},
		{Step: 5, Kind: casebook.KindNode, Cmd: `kubectl describe node %name%`},
	},
	"local-path-mount-failed": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 6, Kind: casebook.KindPod, Cmd: `ls -ld /var/lib/rancher/k3s/storage/*`, OnNode: true},
	},
	"": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (StorageVolumeMountFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return k003Steps.of(f.Cause)
}

// k003ZH are the messages of StorageVolumeMountFailed findings in Chinese, by cause.
var k003ZH = zhByCause{
	"provisioner-not-running": `local-path provisioner 没有运行，local-path 卷既不会创建也不会删除`,
	"helper-pod-failed":       `local-path 的 helper Pod 无法运行，节点上的卷目录没有被创建或删除`,
	"pv-node-gone":            `Pod 的 local-path 卷所在的节点已不存在，Pod 在哪里都无法启动`,
	"pv-node-not-ready":       `Pod 的 local-path 卷所在的节点未就绪，Pod 无法启动`,
	"local-path-mount-failed": `Pod 的 local-path 卷无法在其节点上挂载：目录缺失或不可用`,
}

// MessageZH returns the finding's message in Chinese.
func (StorageVolumeMountFailed) MessageZH(f *casebook.Finding) string { return k003ZH.of(f.Cause) }
