package detectors

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
)

// MemoryOverflow finds W-002 where the cluster can see it: a Wasm
// container the kernel OOM-killed. With a memory limit, the limit does not
// cover the module's linear memory (which only grows) plus the Wasm
// runtime's own memory; without one, the module grew until the node ran
// out. Only the OOMKilled reason counts: runwasi exits 137 whenever a
// module fails, so exit code 137 alone says nothing about memory. Traps
// inside the module (an allocation failure, out-of-bounds access) are only
// in the pod's log, which casebook does not read.
type MemoryOverflow struct{}

var (
	_ engine.Detector   = MemoryOverflow{}
	_ engine.Stepper    = MemoryOverflow{}
	_ engine.Translator = MemoryOverflow{}
)

// CaseID returns "W-002".
func (MemoryOverflow) CaseID() string { return "W-002" }

// Kinds lists the kinds the detector reads.
func (MemoryOverflow) Kinds() []casebook.Kind {
	return []casebook.Kind{casebook.KindPod, casebook.KindEvent, casebook.KindRuntimeClass}
}

// Detect checks the containers of every Wasm pod for an OOM kill.
func (MemoryOverflow) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
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
		if p.DeletionTimestamp != nil {
			continue
		}
		rtQuote, ok := rt.isWasm(p)
		if !ok {
			continue
		}
		for i := range p.Spec.Containers {
			if f, ok := oomKilled(p, &p.Spec.Containers[i], rt, rtQuote, events); ok {
				out = append(out, f)
			}
		}
	}
	return r.done(out)
}

// oomKilled reports a Wasm container whose last (or final) run ended in an
// OOM kill.
func oomKilled(p *corev1.Pod, c *corev1.Container, rt *wasmRuntimes, rtQuote casebook.Evidence, events *cluster.EventIndex) (casebook.Finding, bool) {
	cs := statusOfContainer(p, c.Name)
	if cs == nil {
		return casebook.Finding{}, false
	}
	field, t := "lastState.terminated", cs.LastTerminationState.Terminated
	if t == nil || t.Reason != "OOMKilled" {
		field, t = "state.terminated", cs.State.Terminated
	}
	if t == nil || t.Reason != "OOMKilled" {
		return casebook.Finding{}, false
	}
	name := objName(p.Namespace, p.Name)
	ev := []casebook.Evidence{rtQuote, quoteTerminated(p, c.Name, field, t)}
	state := quote(casebook.KindPod, name, "container %s restartCount %d", c.Name, cs.RestartCount)
	switch {
	case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
		state.Text += ", waiting: " + cs.State.Waiting.Reason
	case cs.State.Running != nil:
		state.Text += ", running again since " + cs.State.Running.StartedAt.UTC().Format("2006-01-02T15:04:05Z")
	}
	ev = append(ev, state, quoteContainerResources(p, c))
	if q := rt.overheadQuote(p); q.Text != "" {
		ev = append(ev, q)
	}
	if bo := last(eventsOfContainer(p, c.Name, events.Of("Pod", p, "BackOff"))); bo != nil {
		ev = append(ev, quoteEvent(bo))
	}
	f := casebook.Finding{CaseID: "W-002", Objects: []casebook.ObjectRef{ref(casebook.KindPod, p)}, Evidence: ev}
	if containerLimit(c, corev1.ResourceMemory) != nil {
		f.Cause = "memory-limit-too-low"
		f.Message = "the Wasm container is OOM-killed at its memory limit: limits.memory does not cover the module's linear memory plus the Wasm runtime's own memory"
	} else {
		f.Cause = "no-memory-limit"
		f.Message = "the Wasm container has no memory limit: its linear memory, which only grows, took the node's memory until the kernel OOM-killed it"
	}
	return f, true
}

// w002Steps are the next steps of MemoryOverflow findings, by cause.
var w002Steps = stepsByCause{
	"": {
		{Step: 1, Kind: casebook.KindPod, Cmd: `kubectl describe pod -n %ns% %name%`},
		{Step: 3, Kind: casebook.KindPod, Cmd: `dmesg -T | grep -i -E "oom|killed process"`, OnNode: true},
	},
}

// NextSteps returns the next steps of a finding, for its own objects.
func (MemoryOverflow) NextSteps(f *casebook.Finding) []engine.StepTemplate {
	return w002Steps.of(f.Cause)
}

// w002ZH are the messages of MemoryOverflow findings in Chinese, by cause.
var w002ZH = zhByCause{
	"memory-limit-too-low": `Wasm 容器在内存限额处被 OOM 杀死：limits.memory 不够覆盖模块的线性内存加上 Wasm 运行时自身的内存`,
	"no-memory-limit":      `Wasm 容器没有内存限额：只增不减的线性内存吃光了节点内存，直到内核把它 OOM 杀死`,
}

// MessageZH returns the finding's message in Chinese.
func (MemoryOverflow) MessageZH(f *casebook.Finding) string { return w002ZH.of(f.Cause) }
