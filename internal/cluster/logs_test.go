package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
)

type fakeLogs struct {
	pods  []runtime.Object
	text  string
	err   error
	calls atomic.Int32
}

func (f *fakeLogs) List(_ context.Context, kind casebook.Kind, _ string) ([]runtime.Object, error) {
	if kind == casebook.KindPod {
		return f.pods, nil
	}
	return nil, nil
}

func (f *fakeLogs) ContainerLog(context.Context, LogRequest) (string, error) {
	f.calls.Add(1)
	return f.text, f.err
}

func crashing(n int) []runtime.Object {
	var out []runtime.Object
	for i := range n {
		out = append(out, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("web-%03d", i)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 2,
					State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}}})
	}
	// A healthy pod, whose log is not read.
	out = append(out, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "ok"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}})
	return out
}

// TestLogBudget: the byte budget stops the reads once spent; failing
// reads spend no bytes but count against the request bound; many
// failures make one short warning.
func TestLogBudget(t *testing.T) {
	src := &fakeLogs{pods: crashing(100), text: strings.Repeat("x", 64<<10)}
	st := New(context.Background(), src)
	st.SetLogOptions(LogOptions{Budget: 1 << 20})
	l := st.Logs()
	// 100 pods × (current + previous) = 200 targets; 1 MiB / 64 KiB = 16.
	if len(l.Tails) != 16 || l.Bytes != 16*64<<10 || !strings.Contains(l.Why, "184 left out") {
		t.Errorf("tails %d, bytes %d, why %q", len(l.Tails), l.Bytes, l.Why)
	}

	failing := &fakeLogs{pods: crashing(100), err: errors.New("dial tcp: no route to host")}
	st = New(context.Background(), failing)
	st.SetLogOptions(LogOptions{})
	l = st.Logs()
	if n := failing.calls.Load(); n != 128 {
		t.Errorf("%d requests to kubelets that do not answer, want the bound 128", n)
	}
	if l.Available || !strings.Contains(l.Err.Error(), "and 123 more logs could not be read") || strings.Count(l.Err.Error(), "\n") != 5 {
		t.Errorf("available %v, err:\n%v", l.Available, l.Err)
	}

	st = New(context.Background(), src)
	st.SetLogOptions(LogOptions{Off: true})
	if l := st.Logs(); l.Available || len(l.Tails) != 0 {
		t.Errorf("--logs=false read %d tails", len(l.Tails))
	}
}

// TestLogsStopOnCancel: Ctrl-C (the run's context) stops asking.
func TestLogsStopOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &fakeLogs{pods: crashing(100), text: "x"}
	cancel()
	st := New(ctx, src)
	st.SetLogOptions(LogOptions{})
	st.Logs()
	if n := src.calls.Load(); n != 0 {
		t.Errorf("%d requests after cancel", n)
	}
}
