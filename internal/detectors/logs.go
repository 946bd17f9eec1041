package detectors

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/search"
)

// LogCases are the cases that show in containers' own logs: the Wasm
// module's WASI errors (W-003, W-004, W-005, W-006), the kubelet's log
// errors (W-008), Gatekeeper's own logs (O-002) and the local-path
// provisioner's helper pods (K-003).
var LogCases = []string{"K-003", "O-002", "W-003", "W-004", "W-005", "W-006", "W-008"}

// LogMatch returns one detector per case of LogCases in the library: each
// finds its case's signals, verbatim, in the log tails of the pods that
// crash, restart or are not Ready (cluster.State.Logs). The detectors share
// one pass of the `casebook match` matcher's signal scan over each tail.
func LogMatch(cases []*casebook.Case) []engine.Detector {
	want := map[string]bool{}
	for _, id := range LogCases {
		want[id] = true
	}
	set := &logSet{}
	for _, c := range cases {
		if want[c.ID] && len(c.Signals) > 0 {
			set.cases = append(set.cases, c)
			set.steps = append(set.steps, logStep(c))
		}
	}
	if len(set.cases) == 0 {
		return nil
	}
	var out []engine.Detector
	for i := range set.cases {
		out = append(out, logDetector{set: set, index: i})
	}
	return out
}

// logSet is the cases the log detectors find, and their matcher, built on
// first use.
type logSet struct {
	cases []*casebook.Case
	// steps are, per case, the step of its 排查过程 that reads logs.
	steps []int
}

// logHit is a signal found in one container's log.
type logHit struct {
	log cluster.ContainerLog
	hit search.SignalHit
}

// scan matches every log case's signals over every tail, once per run.
func (s *logSet) scan(st *cluster.State) [][]logHit {
	out := make([][]logHit, len(s.cases))
	logs := st.Logs()
	if len(logs.Tails) == 0 {
		return out
	}
	m := search.NewMatcher(s.cases)
	for _, l := range logs.Tails {
		for ci, hits := range m.Signals(l.Text) {
			for _, h := range hits {
				out[ci] = append(out[ci], logHit{log: l, hit: h})
			}
		}
	}
	return out
}

// logDetector finds one case in container logs.
type logDetector struct {
	set   *logSet
	index int
}

var (
	_ engine.Stepper    = logDetector{}
	_ engine.Detector   = logDetector{}
	_ engine.Explainer  = logDetector{}
	_ engine.SourceUser = logDetector{}
)

// CaseID returns the case's ID.
func (d logDetector) CaseID() string { return d.set.cases[d.index].ID }

// Kinds lists the kinds the detector reads: the pods whose logs it reads.
func (logDetector) Kinds() []casebook.Kind { return []casebook.Kind{casebook.KindPod} }

// EvidenceSources says the detector reads container logs.
func (logDetector) EvidenceSources() []string { return []string{casebook.SourceLogs} }

// Symptom reports that a log line can be the consequence of another
// finding (a crash on a node whose network is down).
func (logDetector) Symptom(string) bool { return true }

// Detect returns the case's signals found in the run's log tails.
func (d logDetector) Detect(_ context.Context, st *cluster.State) ([]casebook.Finding, error) {
	hits := st.Memo(d.set, func() any { return d.set.scan(st) }).([][]logHit)[d.index]
	var out []casebook.Finding
	var sigs []string
	seen := map[string]bool{}
	for _, h := range hits {
		pod := casebook.ObjectRef{Kind: string(casebook.KindPod), Namespace: h.log.Namespace, Name: h.log.Pod}
		if sig := "`" + h.hit.Signal.String() + "`"; !seen[sig] {
			seen[sig] = true
			sigs = append(sigs, sig)
		}
		out = append(out, casebook.Finding{
			Cause:   "log",
			Objects: []casebook.ObjectRef{pod},
			Evidence: []casebook.Evidence{{Object: pod, Field: h.log.Field(),
				Text: fmt.Sprintf("line %d: %s", h.hit.Line.Number, strings.TrimSpace(h.hit.Line.Text))}},
		})
	}
	msg := "container logs quote the case's signal " + strings.Join(sigs, ", ") +
		" verbatim (a text match in a container's log tail)"
	msgZH := "容器日志逐字包含该案例的信号 " + strings.Join(sigs, "、") + "（容器日志尾部的文本匹配）"
	for i := range out {
		out[i].Message, out[i].MessageZH = msg, msgZH
	}
	return out, nil
}

// NextSteps reads the same log the finding quotes, in full.
func (d logDetector) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	for _, e := range f.Evidence {
		container, previous, ok := parseLogField(e.Field)
		if !ok || len(f.Objects) == 0 || e.Object != f.Objects[0] {
			continue
		}
		cmd := "kubectl logs -n %ns% %name% -c " + container + " --tail=300"
		if previous {
			cmd += " --previous"
		}
		return []engine.StepTemplate{{Step: d.set.steps[d.index], Kind: casebook.KindPod, Cmd: cmd}}
	}
	return nil
}

// parseLogField reads ContainerLog.Field back.
func parseLogField(field string) (container string, previous bool, ok bool) {
	rest, ok := strings.CutPrefix(field, "log(container ")
	if !ok {
		return "", false, false
	}
	rest, ok = strings.CutSuffix(rest, ")")
	if !ok {
		return "", false, false
	}
	container, previous = strings.CutSuffix(rest, ", previous")
	return container, previous, container != ""
}

var numberedLine = regexp.MustCompile(`^(\d+)\.\s`)

// logStep returns the step of a case's 排查过程 whose text first runs
// kubectl logs, or 1.
func logStep(c *casebook.Case) int {
	sec := c.Section("排查过程")
	if sec == nil {
		return 1
	}
	step := 0
	for _, ln := range strings.Split(sec.Text, "\n") {
		if m := numberedLine.FindStringSubmatch(ln); m != nil {
			step, _ = strconv.Atoi(m[1])
		}
		if step > 0 && strings.Contains(ln, "kubectl") && strings.Contains(ln, " logs ") {
			return step
		}
	}
	return 1
}
