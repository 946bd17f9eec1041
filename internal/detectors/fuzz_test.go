package detectors_test

import (
	"context"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// numbers are the numeric fields of a pod that detectors compute with.
type numbers struct {
	delay, period, threshold, timeout int32
	grace                             int64
	memory, cpuMilli                  int64
}

// podsWith is a Source whose Pods have every probe, the grace period and
// the limits set to n.
type podsWith struct {
	casebook.Source
	n numbers
}

func (s podsWith) List(ctx context.Context, kind casebook.Kind, ns string) ([]runtime.Object, error) {
	objs, err := s.Source.List(ctx, kind, ns)
	if err != nil || kind != casebook.KindPod {
		return objs, err
	}
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		p := o.(*corev1.Pod).DeepCopy()
		p.Spec.TerminationGracePeriodSeconds = &s.n.grace
		for j := range p.Spec.Containers {
			c := &p.Spec.Containers[j]
			for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				if pr != nil {
					pr.InitialDelaySeconds, pr.PeriodSeconds, pr.FailureThreshold, pr.TimeoutSeconds = s.n.delay, s.n.period, s.n.threshold, s.n.timeout
				}
			}
			c.Resources.Limits = corev1.ResourceList{
				corev1.ResourceMemory: *resource.NewQuantity(s.n.memory, resource.BinarySI),
				corev1.ResourceCPU:    *resource.NewMilliQuantity(s.n.cpuMilli, resource.DecimalSI),
			}
		}
		out[i] = p
	}
	return out, nil
}

// trueBudget is initialDelaySeconds + failureThreshold × periodSeconds with
// the API defaults, in arbitrary precision, capped at the longest Duration.
func trueBudget(n numbers) time.Duration {
	period, threshold := int64(n.period), int64(n.threshold)
	if period <= 0 {
		period = 10
	}
	if threshold <= 0 {
		threshold = 3
	}
	s := new(big.Int).Mul(big.NewInt(threshold), big.NewInt(period))
	s.Add(s, big.NewInt(max(int64(n.delay), 0)))
	if s.Cmp(big.NewInt(math.MaxInt64/int64(time.Second))) > 0 {
		s = big.NewInt(math.MaxInt64 / int64(time.Second))
	}
	return time.Duration(s.Int64()) * time.Second
}

var quotedBudget = regexp.MustCompile(`periodSeconds = ([0-9hms.]+)\)`)

// checkNumbers runs every detector over the W-001 and W-002 fixtures with
// the pods' numbers set to n: none may fail, and a W-001 finding quotes
// the true probe budget, at most the 30 s the case takes as too tight.
func checkNumbers(t *testing.T, srcs []casebook.Source, n numbers) {
	want := trueBudget(n)
	for _, src := range srcs {
		res, err := engine.Run(context.Background(), podsWith{src, n}, detectors.All(), engine.Options{Timeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range res.Warnings {
			t.Errorf("%+v: %s", n, w)
		}
		for _, f := range res.Findings {
			if f.CaseID != "W-001" {
				continue
			}
			for _, ev := range f.Evidence {
				m := quotedBudget.FindStringSubmatch(ev.String())
				if m == nil {
					continue
				}
				got, err := time.ParseDuration(m[1])
				if err != nil || got != want {
					t.Errorf("%+v: W-001 quotes a budget of %s, want %s: %s", n, m[1], want, ev)
				}
			}
			if f.Cause == "no-startup-probe" && want > 30*time.Second && !strings.Contains(evidenceText(f.Evidence, " "), "exitCode") {
				t.Logf("%+v: W-001 %s with a budget of %s: %s", n, f.Cause, want, f.Message)
			}
		}
	}
}

func fuzzSources(t testing.TB) []casebook.Source {
	var srcs []casebook.Source
	for _, dir := range []string{"testdata/W-001/broken", "testdata/W-002/broken"} {
		snap, err := snapshot.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, snap)
	}
	return srcs
}

// TestProbeBudgetOverflow: periodSeconds 65536 × failureThreshold 65536
// overflowed int32 to a budget of 0 s and a false critical W-001.
func TestProbeBudgetOverflow(t *testing.T) {
	for _, src := range fuzzSources(t)[:1] {
		n := numbers{period: 65536, threshold: 65536, timeout: 1, grace: 30, memory: 256 << 20, cpuMilli: 500}
		res, err := engine.Run(context.Background(), podsWith{src, n}, detectors.All(), engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			if f.CaseID == "W-001" && f.Cause == "no-startup-probe" {
				t.Errorf("a probe budget of 65536 × 65536 s reads as too tight: %s\n%s", f.Message, evidenceText(f.Evidence, "\n"))
			}
		}
	}
}

// FuzzDetectorNumbers fuzzes the numbers detectors compute with, seeded
// with those of the fixture pods and the extremes.
func FuzzDetectorNumbers(f *testing.F) {
	srcs := fuzzSources(f)
	for _, src := range srcs {
		pods, _ := src.List(context.Background(), casebook.KindPod, casebook.AllNamespaces)
		for _, o := range pods {
			p := o.(*corev1.Pod)
			grace := int64(30)
			if p.Spec.TerminationGracePeriodSeconds != nil {
				grace = *p.Spec.TerminationGracePeriodSeconds
			}
			for _, c := range p.Spec.Containers {
				mem, cpu := int64(0), int64(0)
				if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
					mem = q.Value()
				}
				if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
					cpu = q.MilliValue()
				}
				for _, pr := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
					if pr != nil {
						f.Add(pr.InitialDelaySeconds, pr.PeriodSeconds, pr.FailureThreshold, pr.TimeoutSeconds, grace, mem, cpu)
					}
				}
			}
		}
	}
	f.Add(int32(0), int32(65536), int32(65536), int32(1), int64(30), int64(1<<30), int64(1000))
	f.Add(int32(math.MaxInt32), int32(math.MaxInt32), int32(math.MaxInt32), int32(math.MaxInt32), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Add(int32(math.MinInt32), int32(-1), int32(-1), int32(math.MinInt32), int64(math.MinInt64), int64(-1), int64(-1))
	f.Fuzz(func(t *testing.T, delay, period, threshold, timeout int32, grace, memory, cpuMilli int64) {
		checkNumbers(t, srcs, numbers{delay, period, threshold, timeout, grace, memory, cpuMilli})
	})
}

// evidenceText joins a finding's evidence as lines of text.
func evidenceText(ev []casebook.Evidence, sep string) string {
	lines := make([]string, len(ev))
	for i, e := range ev {
		lines[i] = e.String()
	}
	return strings.Join(lines, sep)
}
