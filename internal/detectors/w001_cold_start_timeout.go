package detectors

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// ColdStartTimeout finds W-001: a Wasm container that the kubelet kills by
// its startup or liveness probe before the module has finished starting,
// over and over. It takes the case's five signals: a Wasm RuntimeClass,
// restarts, Unhealthy events from the startup or liveness probe, no
// startupProbe (or one too short), and each run ending about when the probe
// budget — initialDelaySeconds + failureThreshold × periodSeconds — is
// spent. A CPU limit of 100m or less on such a container, which stretches
// the single-threaded start, is reported as a root cause of its own.
type ColdStartTimeout struct{}

var (
	_ engine.Detector   = ColdStartTimeout{}
	_ engine.Stepper    = ColdStartTimeout{}
	_ engine.Translator = ColdStartTimeout{}
)

// CaseID returns "W-001".
func (ColdStartTimeout) CaseID() string { return "W-001" }

// Kinds lists the kinds the detector reads.
func (ColdStartTimeout) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPod, casebook.KindEvent, casebook.KindRuntimeClass}
}

// lowCPULimit is the limit at or below which a Wasm start is throttled (the
// case's "≤ 100m").
var lowCPULimit = resource.MustParse("100m")

// coldStartProbeBudget is the budget the case takes as too tight when the
// container's run times are not known: the liveness defaults, 3 × 10 s.
const coldStartProbeBudget = 30 * time.Second

// Detect checks every Wasm pod with restarted containers.
func (ColdStartTimeout) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	r := newReader(ctx, st)
	pods, err := r.pods(casebook.AllNamespaces)
	if err != nil {
		return nil, err
	}
	rt, err := r.wasmRuntimes()
	if err != nil {
		return nil, err
	}
	events, err := r.events()
	if err != nil {
		return nil, err
	}
	var out []casebook.Finding
	for _, p := range pods {
		if podTerminal(p) {
			continue
		}
		rtQuote, ok := rt.isWasm(p)
		if !ok {
			continue
		}
		unhealthy := probeFailures(events.Of("Pod", p, "Unhealthy"))
		if len(unhealthy) == 0 {
			continue
		}
		for i := range p.Spec.Containers {
			out = append(out, coldStart(p, &p.Spec.Containers[i], rtQuote, unhealthy, events)...)
		}
	}
	return r.done(out)
}

// probeFailures keeps the Unhealthy events of startup and liveness probes,
// the two that restart a container (a failing readiness probe does not).
func probeFailures(evs []*corev1.Event) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range evs {
		if strings.HasPrefix(e.Message, "Startup probe failed") || strings.HasPrefix(e.Message, "Liveness probe failed") {
			out = append(out, e)
		}
	}
	return out
}

// coldStart judges one container of a Wasm pod whose probes fail.
func coldStart(p *corev1.Pod, c *corev1.Container, rtQuote casebook.Evidence, unhealthy []*corev1.Event, events *cluster.EventIndex) []casebook.Finding {
	cs := statusOfContainer(p, c.Name)
	if cs == nil || cs.RestartCount == 0 || cs.Ready {
		return nil
	}
	failures := eventsOfContainer(p, c.Name, unhealthy)
	if len(failures) == 0 {
		return nil
	}
	field, probe := "startupProbe", c.StartupProbe
	if probe == nil {
		field, probe = "livenessProbe", c.LivenessProbe
	}
	if probe == nil {
		return nil
	}
	b := budgetOf(probe)
	term := cs.LastTerminationState.Terminated
	if term != nil && term.Reason == "OOMKilled" {
		// Killed by the kernel, not by the probe: W-002.
		return nil
	}
	kills := eventsOfContainer(p, c.Name, probeKills(events.Of("Pod", p, "Killing")))
	ran, timed := time.Duration(0), term != nil && !term.StartedAt.IsZero() && !term.FinishedAt.IsZero()
	if timed {
		ran = term.FinishedAt.Sub(term.StartedAt.Time)
		grace := 30 * time.Second
		if p.Spec.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(min(max(*p.Spec.TerminationGracePeriodSeconds, 0), math.MaxInt64/int64(time.Second))) * time.Second
		}
		// Killed when the budget ran out (give or take a probe period and
		// the grace period): it never got to serve. A container killed
		// after running for hours hung at run time instead (W-006); one
		// killed a period or more before the budget ran out was not killed
		// by the probe.
		if ran > addCapped(b.total, time.Duration(int64(b.period)+int64(b.timeout))*time.Second, grace) ||
			addCapped(max(ran, 0), time.Duration(b.period)*time.Second) < b.total {
			return nil
		}
	} else if len(kills) == 0 || b.total > coldStartProbeBudget {
		return nil
	}

	name := objName(p.Namespace, p.Name)
	probeQuote := quote(casebook.KindPod, name, "container %s %s: %s (initialDelaySeconds + failureThreshold × periodSeconds = %s)", c.Name, field, describeProbe(probe), b.total)
	if c.StartupProbe == nil {
		probeQuote.Text += "; no startupProbe"
	}
	ev := []casebook.Evidence{rtQuote, probeQuote}
	if probe.Exec != nil {
		ev = append(ev, quote(casebook.KindPod, name, "container %s %s is an exec probe: a Wasm image (FROM scratch) has no shell or tools to run it", c.Name, field))
	}
	var ranQuote casebook.Evidence
	if timed {
		ranQuote = quoteTerminated(p, c.Name, "lastState.terminated", term)
		ev = append(ev, ranQuote)
	}
	stateQuote := quote(casebook.KindPod, name, "container %s restartCount %d, ready false", c.Name, cs.RestartCount)
	if w := cs.State.Waiting; w != nil && w.Reason != "" {
		stateQuote.Text += ", waiting: " + w.Reason
	}
	ev = append(ev, stateQuote)
	failureQuotes := lastPerProbe(failures)
	ev = append(ev, failureQuotes...)
	if k := last(kills); k != nil {
		ev = append(ev, quoteEvent(k))
	}
	if bo := last(eventsOfContainer(p, c.Name, events.Of("Pod", p, "BackOff"))); bo != nil {
		ev = append(ev, quoteEvent(bo))
	}

	podRef := ref(casebook.KindPod, p)
	cause, msg := "no-startup-probe", "the Wasm module is still starting when its liveness probe gives up: with no startupProbe the kubelet kills it at the same point every time, so it never becomes Ready"
	if c.StartupProbe != nil {
		cause, msg = "startup-probe-too-short", "the Wasm module takes longer to start than its startupProbe allows: the kubelet kills it at the same point every time, so it never becomes Ready"
	}
	out := []casebook.Finding{{CaseID: "W-001", Cause: cause, Objects: []casebook.ObjectRef{podRef}, Message: msg, Evidence: ev}}

	if cpu := containerLimit(c, corev1.ResourceCPU); cpu != nil && cpu.Cmp(lowCPULimit) <= 0 {
		cev := []casebook.Evidence{rtQuote, quoteContainerResources(p, c)}
		if ranQuote.Text != "" {
			cev = append(cev, ranQuote)
		}
		cev = append(cev, failureQuotes[len(failureQuotes)-1])
		out = append(out, casebook.Finding{CaseID: "W-001", Cause: "cpu-limit-too-low", Objects: []casebook.ObjectRef{podRef},
			Message:  "the Wasm container's CPU limit (100m or less) throttles its single-threaded start-up, stretching it past the probe budget",
			Evidence: cev})
	}
	return out
}

// probeKills keeps the kubelet's Killing events for failed startup and
// liveness probes: "Container app failed liveness probe, will be restarted".
func probeKills(evs []*corev1.Event) []*corev1.Event {
	var out []*corev1.Event
	for _, e := range evs {
		if strings.Contains(e.Message, " failed startup probe") || strings.Contains(e.Message, " failed liveness probe") {
			out = append(out, e)
		}
	}
	return out
}

// lastPerProbe quotes the last failure of each probe type
// (startup, liveness), oldest first.
func lastPerProbe(evs []*corev1.Event) []casebook.Evidence {
	lastOf := map[string]*corev1.Event{}
	var order []string
	for _, e := range evs {
		kind, _, _ := strings.Cut(e.Message, " ")
		if _, seen := lastOf[kind]; !seen {
			order = append(order, kind)
		}
		lastOf[kind] = e
	}
	out := make([]casebook.Evidence, len(order))
	for i, k := range order {
		out[i] = quoteEvent(lastOf[k])
	}
	return out
}

// probeBudget is how long a probe lets a container start before the
// kubelet kills it.
type probeBudget struct {
	delay, period, threshold, timeout int32
	total                             time.Duration
}

// budgetOf computes initialDelaySeconds + failureThreshold × periodSeconds,
// with the API defaults for unset fields.
func budgetOf(pr *corev1.Probe) probeBudget {
	b := probeBudget{delay: pr.InitialDelaySeconds, period: pr.PeriodSeconds, threshold: pr.FailureThreshold, timeout: pr.TimeoutSeconds}
	if b.period <= 0 {
		b.period = 10
	}
	if b.threshold <= 0 {
		b.threshold = 3
	}
	if b.timeout <= 0 {
		b.timeout = 1
	}
	// In 64 bits, capped at the longest Duration: 65536 × 65536 overflows int32.
	b.total = time.Duration(min(int64(max(b.delay, 0))+int64(b.threshold)*int64(b.period), math.MaxInt64/int64(time.Second))) * time.Second
	return b
}

// addCapped adds non-negative durations, capped at the longest Duration
// instead of wrapping to a negative one.
func addCapped(ds ...time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		if d > math.MaxInt64-sum {
			return math.MaxInt64
		}
		sum += d
	}
	return sum
}

// describeProbe writes a probe as kubectl describe does, with every timing
// field.
func describeProbe(pr *corev1.Probe) string {
	b := budgetOf(pr)
	var how string
	switch h := pr.ProbeHandler; {
	case h.HTTPGet != nil:
		scheme := strings.ToLower(string(h.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		how = fmt.Sprintf("http-get %s://%s:%s%s", scheme, h.HTTPGet.Host, h.HTTPGet.Port.String(), h.HTTPGet.Path)
	case h.TCPSocket != nil:
		how = fmt.Sprintf("tcp-socket %s:%s", h.TCPSocket.Host, h.TCPSocket.Port.String())
	case h.GRPC != nil:
		how = fmt.Sprintf("grpc <pod>:%d", h.GRPC.Port)
	case h.Exec != nil:
		how = "exec [" + strings.Join(h.Exec.Command, " ") + "]"
	default:
		how = "no handler"
	}
	return fmt.Sprintf("%s, initialDelaySeconds %d, periodSeconds %d, timeoutSeconds %d, failureThreshold %d",
		how, b.delay, b.period, b.timeout, b.threshold)
}

// w001Steps are the next steps of ColdStartTimeout findings, by cause.
var w001Steps = stepsByCause{
	"": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl get pod -n %ns% %name% -o jsonpath='{.spec.runtimeClassName}{" "}{.status.containerStatuses[*].restartCount}{"\n"}'`},
		{Step: 2, Kind: casebook.KindPod, Cmd: `kubectl get events -n %ns% --field-selector involvedObject.name=%name%`},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (ColdStartTimeout) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return w001Steps.of(f.Cause)
}

// w001ZH are the messages of ColdStartTimeout findings in Chinese, by cause.
var w001ZH = zhByCause{
	"no-startup-probe":        `Wasm 模块仍在启动时存活探针就放弃了：没有 startupProbe，kubelet 每次都在同一时刻杀掉它，它永远无法就绪`,
	"startup-probe-too-short": `Wasm 模块启动耗时超过 startupProbe 允许的时间：kubelet 每次都在同一时刻杀掉它，它永远无法就绪`,
	"cpu-limit-too-low":       `Wasm 容器的 CPU 限额（100m 或更低）拖慢了单线程的启动，使其超出探针预算`,
}

// MessageZH returns the finding's message in Chinese.
func (ColdStartTimeout) MessageZH(f *casebook.Finding) string { return w001ZH.of(f.Cause) }
