package benchdata

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// peakHeap samples the live heap while f runs and returns its peak.
func peakHeap(f func()) uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// cliSet is the detector set `casebook diagnose` runs: every dedicated
// detector and the signal matches of the library's other cases.
func cliSet(tb testing.TB) ([]engine.Detector, engine.Options) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		tb.Fatal(err)
	}
	return detectors.Set(lib.Cases), engine.Options{Case: lib.Get}
}

// BenchmarkDiagnoseSnapshot loads a snapshot of 500 nodes, 5,000 pods,
// 1,000 services and 50,000 events in the cluster-info dump layout and
// diagnoses it with the CLI's detector set: the whole of `casebook diagnose
// --snapshot` but the rendering.
//
//	go test ./internal/benchdata -run '^$' -bench DiagnoseSnapshot -benchtime 5x
func BenchmarkDiagnoseSnapshot(b *testing.B) {
	dir := b.TempDir()
	if err := Generate(Default).WriteDump(dir); err != nil {
		b.Fatal(err)
	}
	ds, opts := cliSet(b)
	runtime.GC()
	b.ResetTimer()
	var peak uint64
	start, n := cpuTime(), 0
	for b.Loop() {
		n++
		p := peakHeap(func() {
			snap, err := snapshot.Load(dir)
			if err != nil {
				b.Fatal(err)
			}
			r, err := engine.Diagnose(context.Background(), snap, ds, engine.Diagnosis{}, opts)
			if err != nil {
				b.Fatal(err)
			}
			if len(r.Findings) == 0 || len(r.Warnings) > 0 {
				b.Fatalf("%d findings, warnings %v", len(r.Findings), r.Warnings)
			}
		})
		peak = max(peak, p)
		runtime.GC()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(n), "cpu-ms/op")
}

// BenchmarkDetect is detection alone: the snapshot is loaded, and each op
// builds the run's cluster state from it, runs the CLI's detector set and
// links the findings.
//
//	go test ./internal/benchdata -run '^$' -bench 'Detect$' -benchtime 10x
func BenchmarkDetect(b *testing.B) {
	dir := b.TempDir()
	if err := Generate(Default).WriteDump(dir); err != nil {
		b.Fatal(err)
	}
	snap, err := snapshot.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	ds, opts := cliSet(b)
	runtime.GC()
	b.ResetTimer()
	start := cpuTime()
	n := 0
	for b.Loop() {
		r, err := engine.Diagnose(context.Background(), snap, ds, engine.Diagnosis{}, opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Findings) == 0 {
			b.Fatal("no findings")
		}
		n++
	}
	b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(n), "cpu-ms/op")
}

// cpuTime is the CPU time the process has used, user and system: on a
// machine shared with other work it says what an op costs where wall time
// says how busy the machine was.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestGenerateFindsEveryPlantedProblem(t *testing.T) {
	c := Generate(Sizes{Nodes: 10, Namespaces: 3, Pods: 200, Services: 100, Events: 1000})
	if len(c.Events) != 1000 || len(c.Pods) != 200 || len(c.Services) != 100 {
		t.Fatalf("sizes: %d events, %d pods, %d services", len(c.Events), len(c.Pods), len(c.Services))
	}
	dir := t.TempDir()
	if err := c.WriteDump(dir); err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, opts := cliSet(t)
	res, err := engine.Run(context.Background(), snap, ds, opts)
	if err != nil {
		t.Fatal(err)
	}
	causes := map[string]int{}
	for _, f := range res.Findings {
		causes[f.CaseID+" "+f.Cause] += len(f.Objects)
	}
	for _, want := range []string{"K-002 insufficient-memory", "N-002 selector-matches-no-pod", "N-003 backend-port-missing", "S-001 storage-class-missing"} {
		if causes[want] == 0 {
			t.Errorf("no %s finding; got %v", want, causes)
		}
	}
}
