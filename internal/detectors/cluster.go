package detectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/kube"
)

// reader reads the cluster state for one detector. Kinds a detector cannot
// do without fail the detector; kinds that only feed some checks are read
// with optional, which records why those checks were skipped and lets the
// detector go on.
type reader struct {
	ctx     context.Context
	st      *cluster.State
	skipped []error
}

func newReader(ctx context.Context, st *cluster.State) *reader { return &reader{ctx: ctx, st: st} }

// optional absorbs a forbidden or unserved kind: it reports whether the
// list can be used, and remembers the error for the report. Other errors
// are returned unchanged.
func (r *reader) optional(err error) (ok bool, _ error) {
	if err == nil {
		return true, nil
	}
	if cluster.Skippable(err) {
		r.skipped = append(r.skipped, err)
		return false, nil
	}
	return false, err
}

// done returns the detector's findings with what it had to skip.
func (r *reader) done(fs []casebook.Finding) ([]casebook.Finding, error) {
	return fs, errors.Join(r.skipped...)
}

func (r *reader) pods(ns string) ([]*corev1.Pod, error) {
	if ns == casebook.AllNamespaces {
		return r.st.Pods()
	}
	return r.st.PodsIn(ns)
}

// podsAndSystem returns the pods in scope plus those of kube-system, where
// K3s runs its packaged components (Traefik, the local-path provisioner and
// its helper pods, ServiceLB), even when the diagnosis is limited to
// another namespace.
func (r *reader) podsAndSystem() ([]*corev1.Pod, error) {
	pods, err := r.st.PodsAndSystem()
	if pods == nil {
		return nil, err
	}
	_, err = r.optional(err)
	return pods, err
}

func (r *reader) nodes() ([]*corev1.Node, error) { return r.st.Nodes() }

// events returns the event index; an unreadable Event kind leaves it
// empty, so detectors fall back to object status.
func (r *reader) events() (*cluster.EventIndex, error) {
	idx, err := r.st.Events()
	if _, err := r.optional(err); err != nil {
		return nil, err
	}
	return idx, nil
}

func last(evs []*corev1.Event) *corev1.Event { return cluster.Last(evs) }

// quoteEvent quotes an event as evidence on the object it is about: type,
// reason and count as the field, the message verbatim.
func quoteEvent(e *corev1.Event) casebook.Evidence {
	count := e.Count
	if e.Series != nil && e.Series.Count > count {
		count = e.Series.Count
	}
	field := "event " + e.Type + " " + e.Reason
	if count > 1 {
		field += fmt.Sprintf(" (x%d)", count)
	}
	o := e.InvolvedObject
	return casebook.Evidence{Object: casebook.ObjectRef{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}, Field: field, Text: e.Message}
}

// quote returns evidence about the object of a kind named "namespace/name"
// (or "name"): the format's text up to its first ": " names the field, the
// rest is the text quoted.
func quote(kind casebook.Kind, obj string, format string, args ...any) casebook.Evidence {
	ns, name, ok := strings.Cut(obj, "/")
	if !ok {
		ns, name = "", obj
	}
	return fieldText(casebook.ObjectRef{Kind: string(kind), Namespace: ns, Name: name}, fmt.Sprintf(format, args...))
}

// quoteOf returns evidence about obj, as quote does.
func quoteOf(kind casebook.Kind, obj metav1.Object, format string, args ...any) casebook.Evidence {
	return fieldText(ref(kind, obj), fmt.Sprintf(format, args...))
}

// note returns evidence about a kind as a whole ("no StorageClass is
// marked default"), naming no object.
func note(kind casebook.Kind, format string, args ...any) casebook.Evidence {
	return casebook.Evidence{Object: casebook.ObjectRef{Kind: string(kind)}, Text: fmt.Sprintf(format, args...)}
}

func fieldText(obj casebook.ObjectRef, s string) casebook.Evidence {
	field, text, ok := strings.Cut(s, ": ")
	if !ok {
		return casebook.Evidence{Object: obj, Text: s}
	}
	return casebook.Evidence{Object: obj, Field: field, Text: text}
}

// quoteEventsOf quotes a pod's events, leaving out those that only repeat
// its PodScheduled condition, which the evidence already quotes.
func quoteEventsOf(p *corev1.Pod, evs []*corev1.Event) []casebook.Evidence {
	cond := ""
	if c := podCondition(p, corev1.PodScheduled); c != nil && c.Status == corev1.ConditionFalse {
		cond = c.Message
	}
	var out []casebook.Evidence
	for _, e := range evs {
		if e.Message != cond {
			out = append(out, quoteEvent(e))
		}
	}
	return out
}

func objName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// quoteCondition quotes a pod condition as evidence.
func quotePodCondition(p *corev1.Pod, c *corev1.PodCondition) casebook.Evidence {
	field := fmt.Sprintf("condition %s=%s", c.Type, c.Status)
	if c.Reason != "" {
		field += " reason " + c.Reason
	}
	return casebook.Evidence{Object: ref(casebook.KindPod, p), Field: field, Text: c.Message}
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func nodeCondition(n *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == t {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// podReady reports whether a pod is Ready.
func podReady(p *corev1.Pod) bool {
	c := podCondition(p, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// nodeReady reports whether a node is Ready.
func nodeReady(n *corev1.Node) bool {
	c := nodeCondition(n, corev1.NodeReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

// podTerminal reports whether a pod has finished or is going away: such a
// pod serves nothing and is waited for by no one.
func podTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil
}

// podRunning reports whether every container of a pod has started.
func podRunning(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// waitingReasons quotes the containers of a pod that wait or crashed.
func waitingReasons(p *corev1.Pod) []casebook.Evidence {
	var out []casebook.Evidence
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			text := cs.State.Waiting.Reason
			if cs.State.Waiting.Message != "" {
				text += ": " + cs.State.Waiting.Message
			}
			out = append(out, casebook.Evidence{Object: ref(casebook.KindPod, p), Field: "container " + cs.Name + " waiting", Text: text})
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			t := cs.State.Terminated
			text := fmt.Sprintf("%s (exit code %d)", t.Reason, t.ExitCode)
			if t.Message != "" {
				text += ": " + strings.TrimSpace(t.Message)
			}
			out = append(out, casebook.Evidence{Object: ref(casebook.KindPod, p), Field: "container " + cs.Name + " terminated", Text: text})
		}
	}
	return out
}

// selects reports whether a Service-style selector selects the labels.
func selects(selector map[string]string, l map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	return labels.SelectorFromValidatedSet(selector).Matches(labels.Set(l))
}

// formatLabels writes labels as k=v, sorted.
func formatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

func ref(kind casebook.Kind, obj metav1.Object) casebook.ObjectRef { return kube.Ref(kind, obj) }

// k3sNodeArgs returns a node's k3s.io/node-args annotation: the K3s
// command-line flags as a JSON array, each flag and value its own element.
func k3sNodeArgs(n *corev1.Node) string { return n.Annotations["k3s.io/node-args"] }

// k3sDisables reports whether a K3s server was started with --disable for
// a packaged component ("traefik", "local-storage") and quotes the flag.
func k3sDisables(idx *cluster.NodeIndex, component string) (casebook.Evidence, bool) {
	if idx == nil {
		return casebook.Evidence{}, false
	}
	n, ok := idx.Disables(component)
	if !ok {
		return casebook.Evidence{}, false
	}
	return quote(casebook.KindNode, n.Name, "annotation k3s.io/node-args: %s", k3sNodeArgs(n)), true
}

// nodeArgs returns a node's K3s flags, parsed once per run by the state.
func nodeArgs(st *cluster.State, n *corev1.Node) []string {
	idx, _ := st.NodeIndex()
	if idx == nil {
		return nil
	}
	return idx.Args(n.Name)
}

// stepsByCause are a detector's next steps by cause; "" holds the steps
// of causes not listed. A combined cause ("insufficient-cpu+untolerated-taint")
// takes the steps of its first part.
type stepsByCause map[string][]engine.StepTemplate

func (m stepsByCause) of(cause string) []engine.StepTemplate {
	if ts, ok := m[cause]; ok {
		return ts
	}
	if first, _, ok := strings.Cut(cause, "+"); ok {
		if ts, ok := m[first]; ok {
			return ts
		}
	}
	return m[""]
}

// zhByCause are a detector's finding messages in Chinese, by cause; a
// combined cause takes the message of its first part, as stepsByCause.
type zhByCause map[string]string

func (m zhByCause) of(cause string) string {
	if s, ok := m[cause]; ok {
		return s
	}
	if first, _, ok := strings.Cut(cause, "+"); ok {
		return m[first]
	}
	return m[""]
}

// causeUnrecognised is the cause of a finding whose case's symptom is
// there but whose cause is none the detector knows: the case is reported
// with the symptom's evidence verbatim, so a cause nobody enumerated is
// not a silent miss.
const causeUnrecognised = "unrecognised"

// Prefixes of an unrecognised finding's message; the evidence follows.
const (
	unrecognisedEN = "cause not recognised — evidence: "
	unrecognisedZH = "原因未识别——证据："
)

// unrecognised returns the finding of a case whose symptom shows in
// symptom (quoted verbatim, first) and whose cause is not known.
func unrecognised(caseID string, objs []casebook.ObjectRef, symptom casebook.Evidence, more ...casebook.Evidence) casebook.Finding {
	return casebook.Finding{CaseID: caseID, Cause: causeUnrecognised, Objects: objs,
		Message:  unrecognisedEN + symptom.Text,
		Evidence: append([]casebook.Evidence{symptom}, more...)}
}

// message returns a finding's Chinese message: an unrecognised cause
// quotes its evidence after the Chinese prefix, the others come by cause.
func (m zhByCause) message(f *casebook.Finding) string {
	if text, ok := strings.CutPrefix(f.Message, unrecognisedEN); ok && f.Cause == causeUnrecognised {
		return unrecognisedZH + text
	}
	return m.of(f.Cause)
}
