package detectors

import (
	"context"
	"errors"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"unicode/utf8"

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
//
// The detectors share one pass over the cluster's messages: every signal
// of every case is tried at once, each distinct message once, and a
// signal's regular expression runs only on lines that hold the literal
// text it cannot match without.
func SignalMatch(cases []*casebook.Case) []engine.Detector {
	dedicated := map[string]bool{}
	for _, id := range IDs() {
		dedicated[id] = true
	}
	set := &signalSet{}
	for _, c := range cases {
		if dedicated[c.ID] {
			continue
		}
		sc := signalCase{id: c.ID}
		for _, s := range c.Signals {
			if re, err := s.Compile(); err == nil && strings.TrimSpace(s.String()) != "" {
				sc.signals = append(sc.signals, compiledCaseSignal{sig: s, re: re, anchors: anchorsOf(s)})
			}
		}
		if len(sc.signals) > 0 {
			set.cases = append(set.cases, sc)
		}
	}
	sort.SliceStable(set.cases, func(i, j int) bool { return set.cases[i].id < set.cases[j].id })
	var out []engine.Detector
	for i := range set.cases {
		out = append(out, signalDetector{set: set, index: i})
	}
	return out
}

// signalSet is the signals of every case the signal detectors find.
type signalSet struct {
	cases []signalCase
}

type signalCase struct {
	id      string
	signals []compiledCaseSignal
}

type compiledCaseSignal struct {
	sig casebook.Signal
	re  *regexp.Regexp
	// anchors are lower-case texts every match contains one of; none
	// when the expression has none to offer, and then it always runs.
	anchors []string
}

// anchorsOf returns lower-case texts a signal cannot match without one of
// (any of them will do): the literal itself, or for an expression the
// literal runs it requires, one per branch of an alternation. Nil means
// the expression offers none and always runs.
func anchorsOf(s casebook.Signal) []string {
	if s.Pattern == "" {
		return []string{strings.ToLower(s.Literal)}
	}
	re, err := syntax.Parse(s.Pattern, syntax.Perl|syntax.FoldCase)
	if err != nil {
		return nil
	}
	as := requiredLiterals(re.Simplify())
	for i := range as {
		as[i] = strings.ToLower(as[i])
	}
	return as
}

// minAnchor is how selective a set of anchors is: its shortest one.
func minAnchor(as []string) int {
	if len(as) == 0 {
		return 0
	}
	m := -1
	for _, a := range as {
		if n := utf8.RuneCountInString(a); m < 0 || n < m {
			m = n
		}
	}
	return m
}

// requiredLiterals returns texts of which every match of re contains one.
func requiredLiterals(re *syntax.Regexp) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{string(re.Rune)}
	case syntax.OpCapture, syntax.OpPlus:
		return requiredLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min > 0 {
			return requiredLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		// Adjacent literals join into one longer text; of the parts, the
		// most selective one serves.
		var best []string
		run := ""
		consider := func(as []string) {
			if minAnchor(as) > minAnchor(best) {
				best = as
			}
		}
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpLiteral {
				run += string(sub.Rune)
				continue
			}
			if run != "" {
				consider([]string{run})
				run = ""
			}
			consider(requiredLiterals(sub))
		}
		if run != "" {
			consider([]string{run})
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			as := requiredLiterals(sub)
			if len(as) == 0 {
				return nil // a branch with no anchor can match anything
			}
			all = append(all, as...)
		}
		return all
	}
	return nil
}

// hit is the first signal of a case found in a text, and the line it is on.
type hit struct {
	sig  int
	line string
}

// scan is one pass of the signal set over a state's messages.
type scan struct {
	// events and pods hold, per case, the matches found.
	events [][]eventHit
	pods   [][]podHit
	// fatal stops the detectors; skipped says which kinds could not be read.
	fatal, skipped error
}

type eventHit struct {
	event *corev1.Event
	sig   int
}

type podHit struct {
	pod   *corev1.Pod
	field string
	h     hit
}

// matchText returns, per case, the first of its signals found on a line
// of text (in line order, then signal order).
func (s *signalSet) matchText(text string, cache map[string][]hit) []hit {
	if hs, ok := cache[text]; ok {
		return hs
	}
	var hs []hit
	found := 0
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" {
			continue
		}
		lower := strings.ToLower(ln)
		for ci, c := range s.cases {
			if hs != nil && hs[ci].sig >= 0 {
				continue
			}
			for si, sig := range c.signals {
				if !anchored(lower, sig.anchors) {
					continue
				}
				if sig.re.MatchString(ln) {
					if hs == nil {
						hs = make([]hit, len(s.cases))
						for i := range hs {
							hs[i].sig = -1
						}
					}
					hs[ci] = hit{sig: si, line: ln}
					found++
					break
				}
			}
		}
		if found == len(s.cases) {
			break
		}
	}
	cache[text] = hs
	return hs
}

// anchored reports whether a lower-case line holds one of the anchors (or
// there are none).
func anchored(lower string, anchors []string) bool {
	if len(anchors) == 0 {
		return true
	}
	for _, a := range anchors {
		if strings.Contains(lower, a) {
			return true
		}
	}
	return false
}

// scan matches every case's signals over the state's Warning events and
// container messages, once.
func (s *signalSet) scan(st *cluster.State) *scan {
	out := &scan{events: make([][]eventHit, len(s.cases)), pods: make([][]podHit, len(s.cases))}
	cache := map[string][]hit{}
	var skipped []error
	evs, err := cluster.List[corev1.Event](st, casebook.KindEvent, casebook.AllNamespaces)
	switch {
	case err == nil:
		for _, e := range evs {
			if e.Type != corev1.EventTypeWarning {
				continue
			}
			for ci, h := range s.matchText(e.Message, cache) {
				if h.sig >= 0 {
					out.events[ci] = append(out.events[ci], eventHit{event: e, sig: h.sig})
				}
			}
		}
	case cluster.Skippable(err):
		skipped = append(skipped, err)
	default:
		out.fatal = err
		return out
	}
	pods, err := st.Pods()
	switch {
	case err == nil:
		for _, p := range pods {
			for _, cs := range allContainerStatuses(p) {
				for _, t := range containerTexts(cs) {
					for ci, h := range s.matchText(t.text, cache) {
						if h.sig >= 0 {
							out.pods[ci] = append(out.pods[ci], podHit{pod: p, field: "container " + cs.Name + " " + t.field, h: h})
						}
					}
				}
			}
		}
	case cluster.Skippable(err):
		skipped = append(skipped, err)
	default:
		out.fatal = err
		return out
	}
	out.skipped = errors.Join(skipped...)
	return out
}

// signalDetector finds one case by its signals.
type signalDetector struct {
	set   *signalSet
	index int
}

var (
	_ engine.Detector  = signalDetector{}
	_ engine.Explainer = signalDetector{}
)

// CaseID returns the case's ID.
func (d signalDetector) CaseID() string { return d.set.cases[d.index].id }

// Symptom reports that a signal match can be the consequence of another
// finding: a crash loop quoted from a pod on a node whose network is down.
func (signalDetector) Symptom(string) bool { return true }

// Kinds lists the kinds the detector reads.
func (signalDetector) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindEvent, casebook.KindPod}
}

// Detect returns the case's matches from the set's one pass over the state.
func (d signalDetector) Detect(_ context.Context, st *cluster.State) ([]casebook.Finding, error) {
	sc := st.Memo(d.set, func() any { return d.set.scan(st) }).(*scan)
	if sc.fatal != nil {
		return nil, sc.fatal
	}
	c := d.set.cases[d.index]
	var out []casebook.Finding
	matched := map[int]bool{}
	add := func(obj casebook.ObjectRef, sig int, evidence casebook.Evidence) {
		matched[sig] = true
		out = append(out, casebook.Finding{CaseID: c.id, Cause: "signal", Objects: []casebook.ObjectRef{obj},
			Evidence: []casebook.Evidence{evidence}})
	}
	for _, h := range sc.events[d.index] {
		o := h.event.InvolvedObject
		add(casebook.ObjectRef{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name}, h.sig, quoteEvent(h.event))
	}
	for _, h := range sc.pods[d.index] {
		add(ref(casebook.KindPod, h.pod), h.h.sig, casebook.Evidence{Object: ref(casebook.KindPod, h.pod), Field: h.field, Text: h.h.line})
	}
	if len(out) > 0 {
		var sigs []string
		for i, s := range c.signals {
			if matched[i] {
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
	return out, sc.skipped
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
