package detectors

import (
	"context"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// SignalMatch returns one detector for each case of the library that has
// signals but no dedicated detector in All(): it finds the case by its
// verbatim signals (front matter `signals`) in the text the API holds —
// the messages of Warning events, on the event's involved object, and the
// messages of container states (state.waiting, state.terminated and
// lastState.terminated) on the pod. It is a weaker, text-based check than a
// dedicated detector: it quotes what the cluster says and does not check
// the cluster's state behind it, so these cases are not "detected" in the
// index's sense and IDs() does not list them. Signals that do not compile
// are left out (the library's linter reports them).
func SignalMatch(cases []*casebook.Case) []engine.Detector {
	dedicated := map[string]bool{}
	for _, id := range IDs() {
		dedicated[id] = true
	}
	var out []engine.Detector
	for _, c := range cases {
		if dedicated[c.ID] {
			continue
		}
		d := signalDetector{id: c.ID}
		for _, s := range c.Signals {
			if re, err := s.Compile(); err == nil && strings.TrimSpace(s.String()) != "" {
				d.signals = append(d.signals, compiledCaseSignal{sig: s, re: re})
			}
		}
		if len(d.signals) > 0 {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CaseID() < out[j].CaseID() })
	return out
}

// signalDetector finds one case by its signals.
type signalDetector struct {
	id      string
	signals []compiledCaseSignal
}

type compiledCaseSignal struct {
	sig casebook.Signal
	re  *regexp.Regexp
}

var _ engine.Detector = signalDetector{}

// CaseID returns the case's ID.
func (d signalDetector) CaseID() string { return d.id }

// Symptom reports that a signal match can be the consequence of another
// finding: a crash loop quoted from a pod on a node whose network is down.
func (signalDetector) Symptom(string) bool { return true }

// Kinds lists the kinds the detector reads.
func (signalDetector) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindEvent, casebook.KindPod}
}

// Detect matches the case's signals against Warning event messages and
// container state messages.
func (d signalDetector) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	var out []casebook.Finding
	matched := map[string]bool{}
	add := func(obj casebook.ObjectRef, sig casebook.Signal, evidence casebook.Evidence) {
		matched[sig.String()] = true
		out = append(out, casebook.Finding{
			CaseID:   d.id,
			Cause:    "signal",
			Objects:  []casebook.ObjectRef{obj},
			Evidence: []casebook.Evidence{evidence},
		})
	}

	evs, err := cluster.List[corev1.Event](st, casebook.KindEvent, casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, e := range evs {
			if e.Type != corev1.EventTypeWarning {
				continue
			}
			if sig, ok := d.match(e.Message); ok {
				o := e.InvolvedObject
				add(casebook.ObjectRef{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}, sig, quoteEvent(e))
			}
		}
	}

	pods, err := r.pods(casebook.AllNamespaces)
	if ok, err := r.optional(err); err != nil {
		return nil, err
	} else if ok {
		for _, p := range pods {
			for _, st := range allContainerStatuses(p) {
				for _, t := range containerTexts(st) {
					if sig, line, ok := d.matchLine(t.text); ok {
						add(ref(casebook.KindPod, p), sig, casebook.Evidence{Object: ref(casebook.KindPod, p), Field: "container " + st.Name + " " + t.field, Text: line})
					}
				}
			}
		}
	}

	if len(out) > 0 {
		var sigs []string
		for _, s := range d.signals {
			if matched[s.sig.String()] {
				sigs = append(sigs, "`"+s.sig.String()+"`")
			}
		}
		msg := "the cluster's messages quote the case's signal " + strings.Join(sigs, ", ") +
			" verbatim (a text match, not a check of the cluster's state)"
		msgZH := "集群消息逐字引用了该案例的信号 " + strings.Join(sigs, "、") + "（文本匹配，未检查集群状态）"
		for i := range out {
			out[i].Message, out[i].MessageZH = msg, msgZH
		}
	}
	return r.done(out)
}

// match returns the first signal found on any line of text.
func (d signalDetector) match(text string) (casebook.Signal, bool) {
	sig, _, ok := d.matchLine(text)
	return sig, ok
}

// matchLine returns the first signal found on a line of text, and that
// line, trimmed.
func (d signalDetector) matchLine(text string) (casebook.Signal, string, bool) {
	if strings.TrimSpace(text) == "" {
		return casebook.Signal{}, "", false
	}
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" {
			continue
		}
		for _, s := range d.signals {
			if s.re.MatchString(ln) {
				return s.sig, ln, true
			}
		}
	}
	return casebook.Signal{}, "", false
}

func allContainerStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	out = append(out, p.Status.InitContainerStatuses...)
	out = append(out, p.Status.ContainerStatuses...)
	out = append(out, p.Status.EphemeralContainerStatuses...)
	return out
}

type containerText struct{ field, text string }

// containerTexts returns the messages a container status holds, with the
// field each comes from.
func containerTexts(st corev1.ContainerStatus) []containerText {
	var out []containerText
	if w := st.State.Waiting; w != nil && w.Message != "" {
		out = append(out, containerText{"state.waiting.message", w.Message})
	}
	if t := st.State.Terminated; t != nil && t.Message != "" {
		out = append(out, containerText{"state.terminated.message", t.Message})
	}
	if t := st.LastTerminationState.Terminated; t != nil && t.Message != "" {
		out = append(out, containerText{"lastState.terminated.message", t.Message})
	}
	return out
}
