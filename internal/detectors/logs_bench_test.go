package detectors_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/detectors"
)

// logSource is a live-like source: 64 crash-looping pods, each log read
// returning a full 64 KiB tail (the run's 4 MiB budget, spent).
type logSource struct {
	pods []runtime.Object
	tail string
}

func (s *logSource) List(_ context.Context, kind casebook.Kind, _ string) ([]runtime.Object, error) {
	if kind == casebook.KindPod {
		return s.pods, nil
	}
	return nil, nil
}

func (s *logSource) ContainerLog(context.Context, cluster.LogRequest) (string, error) {
	return s.tail, nil
}

// BenchmarkLogMatch is the log budget's cost on the CPU: the log
// detectors' one pass over a whole budget of tails (64 tails of 64 KiB,
// 4 MiB), building the matcher included; the reads themselves are the
// API server's and the kubelets' time.
//
//	go test ./internal/detectors -run '^$' -bench LogMatch -benchtime 10x
func BenchmarkLogMatch(b *testing.B) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		b.Fatal(err)
	}
	src := &logSource{}
	for i := range 64 {
		src.pods = append(src.pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: fmt.Sprintf("web-%d", i)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", RestartCount: 3,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}}})
	}
	var tail strings.Builder
	for i := 0; tail.Len() < 64<<10-200; i++ {
		fmt.Fprintf(&tail, "2026-12-08T02:%02d:%02d.%03dZ INFO handled request id=%d path=/api/v1/orders status=200 duration=%dms\n", i/60%60, i%60, i%1000, i, i%97)
	}
	tail.WriteString("Error: Capabilities insufficient (os error 76)\n")
	src.tail = tail.String()
	ds := detectors.LogMatch(lib.Cases)
	b.ResetTimer()
	for b.Loop() {
		st := cluster.New(context.Background(), src)
		found := 0
		for _, d := range ds {
			fs, err := d.Detect(context.Background(), st)
			if err != nil {
				b.Fatal(err)
			}
			found += len(fs)
		}
		if found != 64 || st.Logs().Bytes != 64*int64(len(src.tail)) {
			b.Fatalf("%d findings, %d bytes", found, st.Logs().Bytes)
		}
	}
	b.ReportMetric(float64(64*len(src.tail))/(1<<20), "MiB/op")
}
