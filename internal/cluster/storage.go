package cluster

import (
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	casebook "github.com/casebook-dev/casebook"
)

// StorageIndex resolves claims to their volumes and classes: PVC → PV →
// StorageClass.
type StorageIndex struct {
	Claims   []*corev1.PersistentVolumeClaim
	Volumes  []*corev1.PersistentVolume
	Classes  []*storagev1.StorageClass
	claims   map[string]*corev1.PersistentVolumeClaim
	volumes  map[string]*corev1.PersistentVolume
	classes  map[string]*storagev1.StorageClass
	defaults []*storagev1.StorageClass
}

// Storage returns the storage index. Claims and classes are needed;
// unreadable volumes leave their part empty and come back as the error.
func (s *State) Storage() (*StorageIndex, error) {
	pvcs, err := List[corev1.PersistentVolumeClaim](s, casebook.KindPersistentVolumeClaim, casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	classes, err := List[storagev1.StorageClass](s, casebook.KindStorageClass, "")
	if err != nil {
		return nil, err
	}
	pvs, pvErr := List[corev1.PersistentVolume](s, casebook.KindPersistentVolume, "")
	return s.storage.get(func() *StorageIndex {
		idx := &StorageIndex{Claims: pvcs, Volumes: pvs, Classes: classes, claims: make(map[string]*corev1.PersistentVolumeClaim, len(pvcs)),
			volumes: make(map[string]*corev1.PersistentVolume, len(pvs)), classes: map[string]*storagev1.StorageClass{}}
		for _, c := range pvcs {
			idx.claims[c.Namespace+"/"+c.Name] = c
		}
		for _, v := range pvs {
			idx.volumes[v.Name] = v
		}
		for _, c := range classes {
			idx.classes[c.Name] = c
			if c.Annotations[DefaultClassAnnotation] == "true" || c.Annotations[betaDefaultClassAnnotation] == "true" {
				idx.defaults = append(idx.defaults, c)
			}
		}
		return idx
	}), pvErr
}

// The annotations that mark the default StorageClass.
const (
	DefaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// Claim returns a claim by namespace and name, or nil.
func (idx *StorageIndex) Claim(namespace, name string) *corev1.PersistentVolumeClaim {
	return idx.claims[namespace+"/"+name]
}

// Volume returns a volume by name, or nil.
func (idx *StorageIndex) Volume(name string) *corev1.PersistentVolume { return idx.volumes[name] }

// VolumeOf returns the volume a claim is bound to, or nil.
func (idx *StorageIndex) VolumeOf(c *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	if c.Spec.VolumeName == "" {
		return nil
	}
	return idx.volumes[c.Spec.VolumeName]
}

// Class returns a StorageClass by name, or nil.
func (idx *StorageIndex) Class(name string) *storagev1.StorageClass { return idx.classes[name] }

// Defaults returns the StorageClasses marked default.
func (idx *StorageIndex) Defaults() []*storagev1.StorageClass { return idx.defaults }

// ClassOf returns the class a claim asks for: its storageClassName, or the
// default class when it names none (nil when there is none, or several).
func (idx *StorageIndex) ClassOf(c *corev1.PersistentVolumeClaim) *storagev1.StorageClass {
	if c.Spec.StorageClassName != nil {
		return idx.classes[*c.Spec.StorageClassName]
	}
	if len(idx.defaults) == 1 {
		return idx.defaults[0]
	}
	return nil
}
