package cluster

import (
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	casebook "github.com/casebook-dev/casebook"
)

// EventIndex holds events by the object they are about, oldest first: by
// the involved object's UID and by its kind, namespace and name.
type EventIndex struct {
	all   []*corev1.Event
	byUID map[types.UID][]*corev1.Event
	byKey map[eventKey][]*corev1.Event
}

type eventKey struct{ kind, namespace, name string }

// Events returns the event index. An unreadable Event kind leaves it empty
// (detectors fall back to object status) and returns why.
func (s *State) Events() (*EventIndex, error) {
	evs, err := List[corev1.Event](s, casebook.KindEvent, casebook.AllNamespaces)
	return s.events.get(func() *EventIndex { return newEventIndex(evs) }), err
}

func newEventIndex(evs []*corev1.Event) *EventIndex {
	idx := &EventIndex{all: evs, byUID: map[types.UID][]*corev1.Event{}, byKey: map[eventKey][]*corev1.Event{}}
	for _, e := range evs {
		o := e.InvolvedObject
		k := eventKey{o.Kind, o.Namespace, o.Name}
		idx.byKey[k] = append(idx.byKey[k], e)
		if o.UID != "" {
			idx.byUID[o.UID] = append(idx.byUID[o.UID], e)
		}
	}
	for _, list := range idx.byKey {
		byTime(list)
	}
	for _, list := range idx.byUID {
		byTime(list)
	}
	return idx
}

// All returns every event, sorted by namespace and name.
func (idx *EventIndex) All() []*corev1.Event { return idx.all }

// EventTime is when an event last happened.
func EventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// Of returns the events about this incarnation of an object with one of
// the reasons (any reason when none is given), oldest first. Events about
// an earlier object of the same name (a StatefulSet's pod before it was
// recreated) are left out: by UID when both carry one, else by time.
func (idx *EventIndex) Of(kind string, obj metav1.Object, reasons ...string) []*corev1.Event {
	var out []*corev1.Event
	keep := func(e *corev1.Event) {
		if len(reasons) == 0 {
			out = append(out, e)
			return
		}
		for _, r := range reasons {
			if e.Reason == r {
				out = append(out, e)
				return
			}
		}
	}
	uid := obj.GetUID()
	if uid != "" {
		// Events that name the UID are this object's, whatever their key;
		// events without a UID are judged by time below.
		for _, e := range idx.byUID[uid] {
			if e.InvolvedObject.Kind == kind {
				keep(e)
			}
		}
	}
	for _, e := range idx.byKey[eventKey{kind, obj.GetNamespace(), obj.GetName()}] {
		if e.InvolvedObject.UID != "" {
			if uid == "" && !EventTime(e).Before(obj.GetCreationTimestamp().Time) {
				keep(e)
			}
			continue
		}
		if !EventTime(e).Before(obj.GetCreationTimestamp().Time) {
			keep(e)
		}
	}
	if uid != "" && len(out) > 1 {
		byTime(out)
	}
	return out
}

// OfNode returns a node's events with one of the reasons, oldest first.
// Events about a node carry the node's name as its UID (the kubelet's and
// K3s's convention) or, once rewritten, its real UID; events from before a
// node of the same name was created are left out.
func (idx *EventIndex) OfNode(n *corev1.Node, reasons ...string) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range idx.byKey[eventKey{"Node", "", n.Name}] {
		uid := string(e.InvolvedObject.UID)
		if uid == "" || uid != string(n.UID) {
			if uid != "" && uid != n.Name {
				continue
			}
			if EventTime(e).Before(n.CreationTimestamp.Time) {
				continue
			}
		}
		for _, r := range reasons {
			if e.Reason == r {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Last returns the newest of evs, or nil.
func Last(evs []*corev1.Event) *corev1.Event {
	if len(evs) == 0 {
		return nil
	}
	return evs[len(evs)-1]
}

// byTime sorts events oldest first, by name when they tie.
func byTime(list []*corev1.Event) {
	sort.SliceStable(list, func(i, j int) bool {
		ti, tj := EventTime(list[i]), EventTime(list[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return list[i].Name < list[j].Name
	})
}
