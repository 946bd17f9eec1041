package detectors

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// The K3s local-path provisioner (rancher/local-path-provisioner).
const (
	localPathProvisioner = "rancher.io/local-path"
	localPathLabel       = "app"
	localPathLabelValue  = "local-path-provisioner"
	provisionedBy        = "pv.kubernetes.io/provisioned-by"
	selectedNode         = "volume.kubernetes.io/selected-node"
	defaultSCAnnotation  = "storageclass.kubernetes.io/is-default-class"
)

// storage is the cluster's volumes, claims and classes, indexed once per
// run by the cluster state.
type storage struct{ *cluster.StorageIndex }

func (r *reader) storage() (*storage, error) {
	idx, err := r.st.Storage()
	if idx == nil {
		return nil, err
	}
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	return &storage{idx}, nil
}

// isLocalPath reports whether a volume is one the local-path provisioner made.
func (s *storage) isLocalPath(pv *corev1.PersistentVolume) bool {
	if pv == nil {
		return false
	}
	if pv.Annotations[provisionedBy] == localPathProvisioner {
		return true
	}
	c := s.Class(pv.Spec.StorageClassName)
	return c != nil && c.Provisioner == localPathProvisioner
}

// claimIsLocalPath reports whether a claim is, or will be, a local-path volume.
func (s *storage) claimIsLocalPath(c *corev1.PersistentVolumeClaim) bool {
	if c.Spec.VolumeName != "" {
		if pv := s.Volume(c.Spec.VolumeName); pv != nil {
			return s.isLocalPath(pv)
		}
	}
	sc := s.classOf(c)
	return sc != nil && sc.Provisioner == localPathProvisioner
}

// classOf returns a claim's StorageClass, or nil.
func (s *storage) classOf(c *corev1.PersistentVolumeClaim) *storagev1.StorageClass {
	if c.Spec.StorageClassName == nil {
		return nil
	}
	return s.Class(*c.Spec.StorageClassName)
}

// podVolume is a pod volume backed by a claim.
type podVolume struct {
	name string
	pvc  *corev1.PersistentVolumeClaim
	pv   *corev1.PersistentVolume
}

// claimVolumes returns a pod's claim-backed volumes.
func (s *storage) claimVolumes(p *corev1.Pod) []podVolume {
	var out []podVolume
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		pv := podVolume{name: v.Name, pvc: s.Claim(p.Namespace, v.PersistentVolumeClaim.ClaimName)}
		if pv.pvc != nil && pv.pvc.Spec.VolumeName != "" {
			pv.pv = s.Volume(pv.pvc.Spec.VolumeName)
		}
		out = append(out, pv)
	}
	return out
}

// consumers returns the live pods that use a claim.
func consumers(pods []*corev1.Pod, c *corev1.PersistentVolumeClaim) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.Namespace != c.Namespace || podTerminal(p) {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == c.Name {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

var (
	forVolume       = regexp.MustCompile(`for volume "([^"]+)"`)
	unmountedVolume = regexp.MustCompile(`unmounted volumes=\[([^\]]*)\]`)
)

// volumesInMessage returns the volume names a kubelet or attach/detach
// controller message is about: `for volume "pvc-…"` names the
// PersistentVolume (or the pod volume, for other volume types), and
// `unmounted volumes=[data]` names pod volumes.
func volumesInMessage(msg string) []string {
	var out []string
	for _, m := range forVolume.FindAllStringSubmatch(msg, -1) {
		out = append(out, m[1])
	}
	for _, m := range unmountedVolume.FindAllStringSubmatch(msg, -1) {
		out = append(out, strings.Fields(m[1])...)
	}
	return out
}

// volumesOfEvent resolves the volumes an event names to the pod's
// claim-backed volumes.
func volumesOfEvent(vols []podVolume, msg string) []podVolume {
	var out []podVolume
	for _, name := range volumesInMessage(msg) {
		for _, v := range vols {
			if v.name == name || (v.pv != nil && v.pv.Name == name) || (v.pvc != nil && v.pvc.Spec.VolumeName == name) {
				out = append(out, v)
			}
		}
	}
	return out
}

// pvNode returns the node a volume is pinned to by its required node
// affinity on kubernetes.io/hostname, as local volumes are.
func pvNode(pv *corev1.PersistentVolume) string {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return ""
	}
	for _, term := range pv.Spec.NodeAffinity.Required.NodeSelectorTerms {
		for _, e := range term.MatchExpressions {
			if e.Key == corev1.LabelHostname && e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 {
				return e.Values[0]
			}
		}
	}
	return ""
}

func quotePVC(c *corev1.PersistentVolumeClaim) casebook.Evidence {
	sc := "<unset>"
	if c.Spec.StorageClassName != nil {
		sc = fmt.Sprintf("%q", *c.Spec.StorageClassName)
	}
	modes := make([]string, len(c.Spec.AccessModes))
	for i, m := range c.Spec.AccessModes {
		modes[i] = string(m)
	}
	return quote(casebook.KindPersistentVolumeClaim, objName(c.Namespace, c.Name), "status.phase: %s, storageClassName: %s, accessModes: [%s]", c.Status.Phase, sc, strings.Join(modes, ", "))
}

func quotePVNodeAffinity(pv *corev1.PersistentVolume) casebook.Evidence {
	path := ""
	switch {
	case pv.Spec.Local != nil:
		path = ", local.path " + pv.Spec.Local.Path
	case pv.Spec.HostPath != nil:
		path = ", hostPath.path " + pv.Spec.HostPath.Path
	}
	return quote(casebook.KindPersistentVolume, pv.Name, "nodeAffinity: %s in [%s]%s", corev1.LabelHostname, pvNode(pv), path)
}
