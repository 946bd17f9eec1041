package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	casebook "github.com/casebook-dev/casebook"
)

// KindContainerLog is the kind a snapshot keeps container log tails as:
// `casebook collect` writes one object per container and run
// (apiVersion casebook.dev/v1alpha1), so that a bundle's logs load as any
// other object does.
const KindContainerLog casebook.Kind = "ContainerLog.casebook.dev"

// LogAPIVersion is the apiVersion of the objects that hold log tails.
const LogAPIVersion = "casebook.dev/v1alpha1"

// LogRequest asks for the tail of one container's log.
type LogRequest struct {
	Namespace, Pod, Container string
	// Previous asks for the container's previous run.
	Previous bool
	// TailLines and LimitBytes bound what the server returns.
	TailLines, LimitBytes int64
}

// LogReader is a source that can read container logs (a live cluster):
// `GET /api/v1/namespaces/NS/pods/NAME/log`.
type LogReader interface {
	ContainerLog(ctx context.Context, req LogRequest) (string, error)
}

// ContainerLog is the tail of one container's log.
type ContainerLog struct {
	Namespace, Pod, Container string
	Previous                  bool
	Text                      string
}

// Field names where the text comes from, for evidence.
func (l ContainerLog) Field() string {
	if l.Previous {
		return "log(container " + l.Container + ", previous)"
	}
	return "log(container " + l.Container + ")"
}

// LogOptions bound the log tails one run reads.
type LogOptions struct {
	// Off turns logs off (diagnose --logs=false).
	Off bool
	// TailLines and LimitBytes bound each container's tail (defaults 300
	// lines and 64 KiB).
	TailLines, LimitBytes int64
	// Budget bounds the bytes read in the whole run (default 4 MiB): once
	// spent, no more tails are asked for.
	Budget int64
	// Concurrency bounds the requests in flight (default 4).
	Concurrency int
	// MaxRequests bounds the log requests of a run, answered or not
	// (default 128): a cluster whose kubelets do not answer spends no
	// bytes, and must not cost a request per pod.
	MaxRequests int
}

func (o LogOptions) withDefaults() LogOptions {
	if o.TailLines <= 0 {
		o.TailLines = 300
	}
	if o.LimitBytes <= 0 {
		o.LimitBytes = 64 << 10
	}
	if o.Budget <= 0 {
		o.Budget = 4 << 20
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = 128
	}
	return o
}

// Logs says how a run's log tails were obtained, for the report's
// evidence sources.
type Logs struct {
	Tails []ContainerLog
	// Available is false when no log could be read at all; Why says why
	// (turned off, not in the snapshot, forbidden), or what was left out.
	Available bool
	Why       string
	// Asked and Failed count the requests; Bytes what they returned.
	Asked, Failed int
	Bytes         int64
	// Err holds the reasons requests failed (403, 404), as warnings.
	Err error
}

// SetLogOptions sets how Logs reads; call it before any detector runs.
func (s *State) SetLogOptions(o LogOptions) { s.logOpts = o.withDefaults() }

// Logs returns the log tails of the pods that crash, restart or are not
// Ready, read once per run: from a live source through GET …/pods/NAME/log
// within the run's budget, or from the ContainerLog objects of a snapshot.
func (s *State) Logs() *Logs {
	return s.logs.get(func() *Logs {
		o := s.logOpts
		if o.TailLines == 0 {
			o = o.withDefaults()
		}
		if o.Off {
			return &Logs{Why: "turned off (--logs=false)"}
		}
		if r, ok := as[LogReader](s.src); ok {
			return s.readLogs(r, o)
		}
		return s.snapshotLogs()
	})
}

func (s *State) snapshotLogs() *Logs {
	objs, err := s.src.List(s.ctx, KindContainerLog, casebook.AllNamespaces)
	if err != nil || len(objs) == 0 {
		return &Logs{Why: "the snapshot holds no container logs (collect them with casebook collect)"}
	}
	// The tails of the pods a live run would read, no others: a
	// snapshot's pods say which those are, as the cluster's do.
	pods, _ := s.Pods()
	want := map[LogRequest]bool{}
	for _, t := range LogTargets(pods) {
		want[t] = true
	}
	out := &Logs{Available: true}
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		l, err := LogFromObject(u)
		if err != nil {
			out.Err = errors.Join(out.Err, err)
			continue
		}
		if !want[LogRequest{Namespace: l.Namespace, Pod: l.Pod, Container: l.Container, Previous: l.Previous}] {
			continue
		}
		out.Tails = append(out.Tails, l)
		out.Bytes += int64(len(l.Text))
	}
	sortLogs(out.Tails)
	out.Why = fmt.Sprintf("%d container log tails from the snapshot", len(out.Tails))
	return out
}

// LogTargets returns the containers whose logs a run reads: of every pod
// that is not Ready, has a container that restarted or is waiting, or
// terminated with an error, each container's current log, and its
// previous one when it ran before; and of the components whose own logs
// are a case's evidence even while they run (Gatekeeper's controller and
// audit pods for O-002, the local-path provisioner and its helper pods for
// K-003), the current log.
func LogTargets(pods []*corev1.Pod) []LogRequest {
	var out []LogRequest
	for _, p := range pods {
		if p.DeletionTimestamp != nil || (p.Status.Phase == corev1.PodSucceeded && !logComponent(p)) {
			continue
		}
		troubled := p.Status.Phase == corev1.PodFailed || !podReady(p) || logComponent(p)
		var statuses []corev1.ContainerStatus
		statuses = append(statuses, p.Status.InitContainerStatuses...)
		statuses = append(statuses, p.Status.ContainerStatuses...)
		for _, cs := range statuses {
			if cs.RestartCount > 0 || cs.State.Waiting != nil || (cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0) {
				troubled = true
			}
		}
		if !troubled {
			continue
		}
		for _, cs := range statuses {
			if cs.State.Running != nil || cs.State.Terminated != nil {
				out = append(out, LogRequest{Namespace: p.Namespace, Pod: p.Name, Container: cs.Name})
			}
			if cs.LastTerminationState.Terminated != nil {
				out = append(out, LogRequest{Namespace: p.Namespace, Pod: p.Name, Container: cs.Name, Previous: true})
			}
		}
	}
	return out
}

// logComponent reports whether a pod is one whose log is evidence while
// it runs: Gatekeeper's (label gatekeeper.sh/system=yes), the local-path
// provisioner (app=local-path-provisioner) and its helper pods
// (helper-pod-create-pvc-…, helper-pod-delete-pvc-…).
func logComponent(p *corev1.Pod) bool {
	return p.Labels["gatekeeper.sh/system"] == "yes" || p.Labels["app"] == "local-path-provisioner" ||
		strings.HasPrefix(p.Name, "helper-pod-create-pvc-") || strings.HasPrefix(p.Name, "helper-pod-delete-pvc-")
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// readLogs asks a live source for the targets' tails, a few at a time,
// until the budget is spent or the run's context ends.
func (s *State) readLogs(r LogReader, o LogOptions) *Logs {
	pods, err := s.Pods()
	if err != nil {
		return &Logs{Why: "pods could not be read: " + err.Error()}
	}
	targets := LogTargets(pods)
	out := &Logs{Available: true}
	if len(targets) == 0 {
		out.Why = "no pod crashes, restarts or is not Ready: no log was needed"
		return out
	}
	var (
		mu      sync.Mutex
		spent   atomic.Int64
		wg      sync.WaitGroup
		skipped int
		asked   int
		errs    []error
	)
	sem := make(chan struct{}, o.Concurrency)
	for _, t := range targets {
		if s.ctx.Err() != nil {
			break
		}
		if asked == o.MaxRequests {
			skipped++
			continue
		}
		// Reserve the most a tail can cost; what it did not use is given back.
		if spent.Add(o.LimitBytes) > o.Budget {
			spent.Add(-o.LimitBytes)
			skipped++
			continue
		}
		asked++
		t.TailLines, t.LimitBytes = o.TailLines, o.LimitBytes
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			text, err := r.ContainerLog(s.ctx, t)
			spent.Add(int64(len(text)) - o.LimitBytes)
			mu.Lock()
			defer mu.Unlock()
			out.Asked++
			if err != nil {
				out.Failed++
				errs = append(errs, fmt.Errorf("log of pod %s/%s container %s: %w", t.Namespace, t.Pod, t.Container, err))
				return
			}
			out.Bytes += int64(len(text))
			out.Tails = append(out.Tails, ContainerLog{Namespace: t.Namespace, Pod: t.Pod, Container: t.Container, Previous: t.Previous, Text: text})
		}()
	}
	wg.Wait()
	sortLogs(out.Tails)
	// A cluster whose kubelets do not answer fails every log alike: a few
	// say why, the count says how many.
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	if len(errs) > 5 {
		errs = append(errs[:5], fmt.Errorf("and %d more logs could not be read", len(errs)-5))
	}
	out.Err = errors.Join(errs...)
	if out.Asked > 0 && out.Failed == out.Asked {
		out.Available = false
	}
	out.Why = fmt.Sprintf("%d of %d container logs read (%d bytes)", len(out.Tails), len(targets), out.Bytes)
	if out.Failed > 0 {
		out.Why += fmt.Sprintf(", %d failed", out.Failed)
	}
	if skipped > 0 {
		out.Why += fmt.Sprintf(", %d left out by the run's budget (%d bytes, %d requests)", skipped, o.Budget, o.MaxRequests)
	}
	return out
}

func sortLogs(ls []ContainerLog) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Pod != b.Pod {
			return a.Pod < b.Pod
		}
		if a.Container != b.Container {
			return a.Container < b.Container
		}
		return !a.Previous && b.Previous
	})
}

// LogObject is the object a snapshot keeps a tail as.
func LogObject(l ContainerLog) *unstructured.Unstructured {
	name := l.Pod + "." + l.Container
	if l.Previous {
		name += ".previous"
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": LogAPIVersion,
		"kind":       "ContainerLog",
		"metadata":   map[string]any{"name": name, "namespace": l.Namespace},
		"pod":        l.Pod,
		"container":  l.Container,
		"previous":   l.Previous,
		"text":       l.Text,
	}}
	return u
}

// LogFromObject reads a tail back from its object.
func LogFromObject(u *unstructured.Unstructured) (ContainerLog, error) {
	l := ContainerLog{Namespace: u.GetNamespace()}
	var ok bool
	if l.Pod, ok = u.Object["pod"].(string); !ok || l.Pod == "" {
		return l, fmt.Errorf("ContainerLog %s/%s: no pod", u.GetNamespace(), u.GetName())
	}
	if l.Container, ok = u.Object["container"].(string); !ok || l.Container == "" {
		return l, fmt.Errorf("ContainerLog %s/%s: no container", u.GetNamespace(), u.GetName())
	}
	l.Previous, _ = u.Object["previous"].(bool)
	l.Text, _ = u.Object["text"].(string)
	return l, nil
}

// as finds an optional interface on a source or the sources it wraps
// (Unwrap() casebook.Source, as the progress display's wrapper has).
func as[T any](src casebook.Source) (T, bool) {
	for src != nil {
		if t, ok := src.(T); ok {
			return t, true
		}
		u, ok := src.(interface{ Unwrap() casebook.Source })
		if !ok {
			break
		}
		src = u.Unwrap()
	}
	var zero T
	return zero, false
}
