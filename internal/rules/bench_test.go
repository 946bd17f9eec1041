package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/casebook-dev/casebook/internal/benchdata"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/rules"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// benchRules are the rules the benchmark runs: the built-in parity rules
// and the team library's, so every input section and relation is read.
func benchRules(b *testing.B) []*rules.Rule {
	ctx := context.Background()
	rs, err := rules.Builtin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"k3s-kubeconfig-world-readable", "k3s-image-outside-site-registry"} {
		src, err := os.ReadFile(filepath.Join("../../examples/team-cases", name+rules.Ext))
		if err != nil {
			b.Fatal(err)
		}
		r, problems := rules.Compile(ctx, strings.ToUpper(name[:3]), name+rules.Ext, string(src))
		if len(problems) > 0 {
			b.Fatal(problems)
		}
		rs = append(rs, r)
	}
	return rs
}

// BenchmarkRules measures the rules on the 500-node bench cluster
// (benchdata.Default: 5,000 pods, 1,000 Services, 50,000 events): building
// the run's one input document from a loaded state (input), then each rule
// evaluated over it, prepared once (eval/<file>). The bound is
// 200 ms for one rule's evaluation.
//
//	go test ./internal/rules -run '^$' -bench Rules -benchtime 5x
func BenchmarkRules(b *testing.B) {
	dir := b.TempDir()
	if err := benchdata.Generate(benchdata.Default).WriteDump(dir); err != nil {
		b.Fatal(err)
	}
	snap, err := snapshot.Load(dir)
	if err != nil {
		b.Fatal(err)
	}
	rs := benchRules(b)
	set := rules.NewSet(rs)
	ctx := context.Background()
	var in *rules.Input
	b.Run("input", func(b *testing.B) {
		start, n := cpuTime(), 0
		for b.Loop() {
			st := cluster.New(ctx, snap)
			in = set.Input(st)
			n++
		}
		b.ReportMetric(float64((cpuTime()-start).Milliseconds())/float64(n), "cpu-ms/op")
		b.ReportMetric(float64(in.Objects), "objects")
	})
	if in == nil || len(in.Errors) > 0 {
		b.Fatalf("input: %v", in)
	}
	for _, r := range rs {
		b.Run("eval/"+filepath.Base(r.File), func(b *testing.B) {
			n, ops, start := 0, 0, cpuTime()
			for b.Loop() {
				ops++
				fs, err := r.Eval(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				n = len(fs)
			}
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(ops), "cpu-ms/op")
			b.ReportMetric(float64(n), "findings")
		})
	}
}

// cpuTime is the CPU time the process has used: on a machine shared with
// other work it says what an op costs where wall time says how busy the
// machine was.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
