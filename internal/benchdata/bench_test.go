package benchdata

import (
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkDiagnoseSnapshot loads a snapshot of 500 nodes, 5,000 pods,
// 1,000 services and 50,000 events in the cluster-info dump layout and runs
// every detector over it: the whole of `casebook diagnose --snapshot` but
// the rendering.
//
//	go test ./internal/benchdata -run '^$' -bench DiagnoseSnapshot -benchtime 5x
func BenchmarkDiagnoseSnapshot(b *testing.B) {
	dir := b.TempDir()
	if err := Generate(Default).WriteDump(dir); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		p := peakHeap(func() {
			snap, err := snapshot.Load(dir)
			if err != nil {
				b.Fatal(err)
			}
			res, err := engine.Run(context.Background(), snap, detectors.All(), engine.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Findings) == 0 || len(res.Warnings) > 0 {
				b.Fatalf("%d findings, warnings %v", len(res.Findings), res.Warnings)
			}
		})
		peak = max(peak, p)
		runtime.GC()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
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
	res, err := engine.Run(context.Background(), snap, detectors.All(), engine.Options{})
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
