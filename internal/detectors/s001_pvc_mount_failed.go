package detectors

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// PVCMountFailed finds S-001: claims that cannot be provisioned (no or an
// unknown StorageClass, no default class, a provisioner that is not
// installed, an access mode local-path cannot serve) and pods whose claim
// cannot be attached or mounted (FailedAttachVolume, Multi-Attach,
// FailedMount). Mount failures of local-path volumes are K-003's.
type PVCMountFailed struct{}

var (
	_ engine.Detector   = PVCMountFailed{}
	_ engine.Stepper    = PVCMountFailed{}
	_ engine.Translator = PVCMountFailed{}
)

// CaseID returns "S-001".
func (PVCMountFailed) CaseID() string { return "S-001" }

// Kinds lists the kinds the detector reads.
func (PVCMountFailed) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPersistentVolumeClaim, casebook.KindPersistentVolume, casebook.KindStorageClass, casebook.KindPod, casebook.KindNode, casebook.KindEvent, casebook.KindDeployment}
}

// Detect checks Pending claims and pods waiting for their volumes.
func (PVCMountFailed) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	sto, err := r.storage()
	if err != nil {
		return nil, err
	}
	pods, err := r.pods(casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	var out []casebook.Finding
	for _, c := range sto.Claims {
		if c.Status.Phase != corev1.ClaimPending || c.DeletionTimestamp != nil {
			continue
		}
		if f, ok := r.pendingClaim(sto, c, pods, events); ok {
			out = append(out, f)
		}
	}
	if r.ctx.Err() != nil {
		return nil, r.ctx.Err()
	}
	for _, p := range pods {
		if podTerminal(p) || podRunning(p) {
			continue
		}
		if f, ok := attachOrMountFailure(sto, p, events); ok {
			out = append(out, f)
		}
	}
	return r.done(out)
}

// pendingClaim explains why a Pending claim gets no volume, if it is stuck.
func (r *reader) pendingClaim(sto *storage, c *corev1.PersistentVolumeClaim, pods []*corev1.Pod, events *cluster.EventIndex) (casebook.Finding, bool) {
	claimRef := ref(casebook.KindPersistentVolumeClaim, c)
	ev := []casebook.Evidence{quotePVC(c)}
	var failed *corev1.Event // the latest ProvisioningFailed: the symptom
	for _, e := range lastByReason(events.Of("PersistentVolumeClaim", c, "ProvisioningFailed", "ExternalProvisioning")) {
		ev = append(ev, quoteEvent(e))
		if e.Reason == "ProvisioningFailed" {
			failed = e
		}
	}
	provisioningFailed := failed != nil
	users := consumers(pods, c)
	finding := func(cause, msg string) (casebook.Finding, bool) {
		objs := []casebook.ObjectRef{claimRef}
		for _, p := range users {
			objs = append(objs, ref(casebook.KindPod, p))
		}
		return casebook.Finding{CaseID: "S-001", Cause: cause, Objects: objs, Message: msg, Evidence: ev}, true
	}

	switch {
	case c.Spec.StorageClassName == nil:
		if len(sto.Defaults()) > 0 || c.Spec.VolumeName != "" {
			return casebook.Finding{}, false
		}
		ev = append(ev, note(casebook.KindStorageClass, "no StorageClass is marked %s=true; StorageClasses: %s", defaultSCAnnotation, classNames(sto)))
		return finding("no-default-storage-class", "the claim names no StorageClass and the cluster has no default one, so nothing provisions it")
	case *c.Spec.StorageClassName == "":
		// Static binding to a pre-made volume; nothing to provision.
		return casebook.Finding{}, false
	}
	sc := sto.classOf(c)
	if sc == nil {
		ev = append(ev, note(casebook.KindStorageClass, "storageclass %q not found; StorageClasses: %s", *c.Spec.StorageClassName, classNames(sto)))
		return finding("storage-class-missing", "the claim's StorageClass does not exist, so nothing provisions it")
	}
	if sc.Provisioner != localPathProvisioner {
		if provisioningFailed {
			return finding("provisioning-failed", fmt.Sprintf("provisioner %s failed to create the claim's volume", sc.Provisioner))
		}
		return casebook.Finding{}, false
	}
	for _, m := range c.Spec.AccessModes {
		if m == corev1.ReadWriteMany || m == corev1.ReadOnlyMany {
			ev = append(ev, quote(casebook.KindStorageClass, sc.Name, "provisioner: %s", sc.Provisioner))
			return finding("access-mode-unsupported", fmt.Sprintf("local-path volumes are node-local and cannot serve access mode %s", m))
		}
	}
	if failed != nil && !localPathHelperExists(pods, c) {
		// The provisioner tried and failed for a reason none of the above
		// explains (volumeMode: Block on local-path, say): S-001's symptom
		// all the same, reported with the provisioner's own words.
		more := []casebook.Evidence{quotePVC(c)}
		if c.Spec.VolumeMode != nil {
			more = append(more, quote(casebook.KindPersistentVolumeClaim, objName(c.Namespace, c.Name), "spec.volumeMode: %s", *c.Spec.VolumeMode))
		}
		more = append(more, quote(casebook.KindStorageClass, sc.Name, "provisioner: %s", sc.Provisioner))
		f := unrecognised("S-001", []casebook.ObjectRef{claimRef}, quoteEvent(failed), more...)
		for _, p := range users {
			f.Objects = append(f.Objects, ref(casebook.KindPod, p))
		}
		return f, true
	}
	waiting := len(users) > 0 || c.Annotations[selectedNode] != ""
	if !waiting {
		// WaitForFirstConsumer: Pending until a pod uses the claim, as it should be.
		return casebook.Finding{}, false
	}
	present, quote, err := r.localPathProvisionerPresent()
	if err != nil || present {
		return casebook.Finding{}, false
	}
	ev = append(ev, quote...)
	return finding("provisioner-missing", "the local-path provisioner is not installed, so the claim's volume is never created")
}

// localPathHelperExists reports whether local-path's helper pod for the
// claim's volume is there (named helper-pod-create-pvc-<claim uid>, its -p
// argument ending in _<namespace>_<claim>): its failure is K-003's, and
// explains the claim's ProvisioningFailed.
func localPathHelperExists(pods []*corev1.Pod, c *corev1.PersistentVolumeClaim) bool {
	name := helperCreatePrefix + "pvc-" + string(c.UID)
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, helperCreatePrefix) {
			continue
		}
		if ns, claim := helperClaim(p); p.Name == name || ns == c.Namespace && claim == c.Name {
			return true
		}
	}
	return false
}

// localPathProvisionerPresent reports whether the local-path provisioner is
// deployed at all (running or not: K-003 covers a broken one), and quotes
// why not.
func (r *reader) localPathProvisionerPresent() (bool, []casebook.Evidence, error) {
	pods, err := r.pods(casebook.AllNamespaces)
	if err != nil {
		return false, nil, err
	}
	for _, p := range pods {
		if p.Labels[localPathLabel] == localPathLabelValue {
			return true, nil, nil
		}
	}
	deps, err := cluster.List[appsv1.Deployment](r.st, casebook.KindDeployment, "kube-system")
	ok, err := r.optional(err)
	if err != nil || !ok {
		// Cannot tell without Deployments; say nothing rather than guess.
		return true, nil, err
	}
	for _, d := range deps {
		if d.Name == "local-path-provisioner" {
			return true, nil, nil
		}
	}
	quotes := []casebook.Evidence{note(casebook.KindDeployment, "no pod labelled %s=%s and no Deployment kube-system/local-path-provisioner", localPathLabel, localPathLabelValue)}
	nodeIdx, err := r.st.NodeIndex()
	if ok, _ := r.optional(err); ok {
		if q, disabled := k3sDisables(nodeIdx, "local-storage"); disabled {
			quotes = append(quotes, q)
		}
	}
	return false, quotes, nil
}

// attachOrMountFailure finds a waiting pod whose claim-backed volume (not
// local-path) failed to attach or mount.
func attachOrMountFailure(sto *storage, p *corev1.Pod, events *cluster.EventIndex) (casebook.Finding, bool) {
	vols := sto.claimVolumes(p)
	if len(vols) == 0 {
		return casebook.Finding{}, false
	}
	evs := events.Of("Pod", p, "FailedAttachVolume", "FailedMount")
	var quotes []casebook.Evidence
	objs := []casebook.ObjectRef{ref(casebook.KindPod, p)}
	cause := ""
	for _, e := range lastByMessage(evs) {
		affected := volumesOfEvent(vols, e.Message)
		relevant := false
		for _, v := range affected {
			if v.pvc != nil && sto.claimIsLocalPath(v.pvc) {
				continue
			}
			relevant = true
			if v.pvc != nil {
				objs = appendRef(objs, ref(casebook.KindPersistentVolumeClaim, v.pvc))
			}
		}
		if !relevant {
			continue
		}
		quotes = append(quotes, quoteEvent(e))
		c := "mount-failed"
		if e.Reason == "FailedAttachVolume" {
			c = "attach-failed"
			if strings.Contains(e.Message, "Multi-Attach error") || strings.Contains(e.Message, "Waiting for detach") {
				c = "multi-attach"
			}
		}
		if causeRank[c] > causeRank[cause] {
			cause = c
		}
	}
	if cause == "" {
		return casebook.Finding{}, false
	}
	msg := map[string]string{
		"multi-attach":  "the pod's ReadWriteOnce volume is still attached to another node, so it cannot attach here (Multi-Attach)",
		"attach-failed": "the pod's volume cannot be attached to its node",
		"mount-failed":  "the pod's volume cannot be mounted, so its containers never start",
	}[cause]
	return casebook.Finding{CaseID: "S-001", Cause: cause, Objects: objs, Message: msg, Evidence: quotes}, true
}

var causeRank = map[string]int{"": 0, "mount-failed": 1, "attach-failed": 2, "multi-attach": 3}

func appendRef(refs []casebook.ObjectRef, r casebook.ObjectRef) []casebook.ObjectRef {
	for _, x := range refs {
		if x == r {
			return refs
		}
	}
	return append(refs, r)
}

// lastByReason keeps the latest event of each reason, in time order.
func lastByReason(evs []*corev1.Event) []*corev1.Event {
	return lastBy(evs, func(e *corev1.Event) string { return e.Reason })
}

// lastByMessage keeps the latest event of each reason and message.
func lastByMessage(evs []*corev1.Event) []*corev1.Event {
	return lastBy(evs, func(e *corev1.Event) string { return e.Reason + "\x00" + e.Message })
}

func lastBy(evs []*corev1.Event, key func(*corev1.Event) string) []*corev1.Event {
	latest := map[string]int{}
	for i, e := range evs {
		latest[key(e)] = i
	}
	var out []*corev1.Event
	for i, e := range evs {
		if latest[key(e)] == i {
			out = append(out, e)
		}
	}
	return out
}

func classNames(sto *storage) string {
	if len(sto.Classes) == 0 {
		return "none"
	}
	var names []string
	for _, c := range sto.Classes {
		desc := c.Name + " (" + c.Provisioner
		if c.Annotations[defaultSCAnnotation] == "true" {
			desc += ", default"
		}
		names = append(names, desc+")")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// s001ClassSteps are the next steps of the causes about the claim's
// StorageClass: the claim's events, then the classes there are.
var s001ClassSteps = []engine.StepTemplate{
	{Step: 2, Kind: casebook.KindPersistentVolumeClaim, Cmd: `kubectl describe pvc -n %ns% %name%`},
	{Step: 3, Kind: casebook.KindPersistentVolumeClaim, Cmd: `kubectl get storageclass`},
}

// s001Steps are the next steps of PVCMountFailed findings, by cause.
var s001Steps = stepsByCause{
	"storage-class-missing":    s001ClassSteps,
	"no-default-storage-class": s001ClassSteps,
	"provisioner-missing": {
		{Step: 2, Kind: casebook.KindPersistentVolumeClaim, Cmd: `kubectl describe pvc -n %ns% %name%`},
		{Step: 4, Kind: casebook.KindPersistentVolumeClaim, Cmd: `kubectl -n kube-system get deploy,pods -l app=local-path-provisioner`},
	},
	"provisioning-failed": {
		{Step: 2, Kind: casebook.KindPersistentVolumeClaim, Cmd: `kubectl describe pvc -n %ns% %name%`},
		{Step: 4, Kind: casebook.KindPersistentVolumeClaim, Cmd: `kubectl get storageclass`},
	},
	"access-mode-unsupported": s001ClassSteps,
	"multi-attach": {
		{Step: 6, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 6, Kind: casebook.KindPod, Cmd: `kubectl get volumeattachments`},
	},
	"attach-failed": {
		{Step: 6, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 6, Kind: casebook.KindPod, Cmd: `kubectl get volumeattachments`},
	},
	"mount-failed": {
		{Step: 7, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 7, Kind: casebook.KindPod, Cmd: `journalctl -u k3s-agent --no-pager | grep -i mount | tail -n 20`, OnNode: true},
	},
	"": {
		{Step: 2, Kind: casebook.KindPersistentVolumeClaim, Cmd: `kubectl describe pvc -n %ns% %name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (PVCMountFailed) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return s001Steps.of(f.Cause)
}

// s001ZH are the messages of PVCMountFailed findings in Chinese, by cause.
var s001ZH = zhByCause{
	"no-default-storage-class": `PVC 没有指定 StorageClass，集群也没有默认 StorageClass，没有组件为它供给卷`,
	"storage-class-missing":    `PVC 指定的 StorageClass 不存在，没有组件为它供给卷`,
	"provisioning-failed":      `provisioner 未能为该 PVC 创建卷`,
	"access-mode-unsupported":  `local-path 卷只在单个节点上，无法提供该访问模式`,
	"provisioner-missing":      `没有安装 local-path provisioner，PVC 的卷永远不会被创建`,
	"multi-attach":             `Pod 的 ReadWriteOnce 卷仍挂接在另一个节点上，无法挂接到这里（Multi-Attach）`,
	"attach-failed":            `Pod 的卷无法挂接到其节点`,
	"mount-failed":             `Pod 的卷无法挂载，容器始终无法启动`,
}

// MessageZH returns the finding's message in Chinese.
func (PVCMountFailed) MessageZH(f *casebook.Finding) string { return s001ZH.message(f) }
