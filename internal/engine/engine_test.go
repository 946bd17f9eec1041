package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// detector is a Detector made of functions, for tests.
type detector struct {
	id     string
	detect func(ctx context.Context, st *cluster.State) ([]casebook.Finding, error)
	kinds  []casebook.Kind
}

var _ Detector = detector{}

func (d detector) CaseID() string         { return d.id }
func (d detector) Kinds() []casebook.Kind { return d.kinds }
func (d detector) Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
	return d.detect(ctx, st)
}

// source is a Source made of a function, for tests.
type source func(ctx context.Context, kind casebook.Kind, ns string) ([]runtime.Object, error)

func (s source) List(ctx context.Context, kind casebook.Kind, ns string) ([]runtime.Object, error) {
	return s(ctx, kind, ns)
}

var emptySource = source(func(context.Context, casebook.Kind, string) ([]runtime.Object, error) { return nil, nil })

func pod(ns, name string) casebook.ObjectRef {
	return casebook.ObjectRef{Kind: "Pod", Namespace: ns, Name: name}
}

func finding(id, cause string, objs ...casebook.ObjectRef) casebook.Finding {
	return casebook.Finding{CaseID: id, Cause: cause, Objects: objs, Message: cause, Evidence: []casebook.Evidence{{Object: objs[0], Text: "evidence of " + cause}}}
}

func found(fs ...casebook.Finding) func(context.Context, *cluster.State) ([]casebook.Finding, error) {
	return func(context.Context, *cluster.State) ([]casebook.Finding, error) { return fs, nil }
}

// TestFailuresBecomeWarnings: a detector that fails, panics, times out or
// cannot read a kind becomes a warning, and the others still report.
func TestFailuresBecomeWarnings(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	ds := []Detector{
		detector{id: "K-001", detect: found(finding("K-001", "a", pod("x", "1")))},
		detector{id: "K-002", detect: func(context.Context, *cluster.State) ([]casebook.Finding, error) { return nil, errors.New("boom") }},
		detector{id: "K-003", detect: func(context.Context, *cluster.State) ([]casebook.Finding, error) { panic("index out of range") }},
		detector{id: "K-004", detect: func(ctx context.Context, _ *cluster.State) ([]casebook.Finding, error) {
			<-block // ignores its context: the engine must not wait for it
			return nil, nil
		}},
		detector{id: "K-005", detect: func(context.Context, *cluster.State) ([]casebook.Finding, error) {
			skipped := fmt.Errorf("list secrets in all namespaces: %w", casebook.ErrForbidden)
			return []casebook.Finding{finding("K-005", "b", pod("y", "2"))}, errors.Join(skipped)
		}},
	}
	start := time.Now()
	res, err := Run(context.Background(), emptySource, ds, Options{Timeout: 200 * time.Millisecond, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("a stuck detector held the run for %s", time.Since(start))
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.CaseID)
	}
	if strings.Join(got, ",") != "K-001,K-005" {
		t.Errorf("findings from %v, want K-001,K-005", got)
	}
	warnings := map[string]string{}
	for _, w := range res.Warnings {
		warnings[w.Source] += w.Message
	}
	for id, want := range map[string]string{
		"K-002": "boom",
		"K-003": "detector panicked: index out of range",
		"K-004": "did not finish within 200ms",
		"K-005": "list secrets in all namespaces: forbidden (checks that need it were skipped)",
	} {
		if !strings.Contains(warnings[id], want) {
			t.Errorf("warning for %s = %q, want it to contain %q", id, warnings[id], want)
		}
	}
	if _, ok := warnings["K-001"]; ok {
		t.Error("a healthy detector got a warning")
	}
}

// TestGrouping: findings with the same case and cause become one, with all
// their objects and evidence; other causes stay apart.
func TestGrouping(t *testing.T) {
	ds := []Detector{detector{id: "K-002", detect: found(
		finding("K-002", "insufficient-memory", pod("shop", "api-2")),
		finding("K-002", "untolerated-taint", pod("shop", "db-0")),
		finding("K-002", "insufficient-memory", pod("shop", "api-1")),
		finding("K-002", "insufficient-memory", pod("shop", "api-1")),
	)}}
	res, err := Run(context.Background(), emptySource, ds, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 {
		t.Fatalf("got %d findings, want 2: %+v", len(res.Findings), res.Findings)
	}
	g := res.Findings[0]
	if g.Cause != "insufficient-memory" || len(g.Objects) != 2 || g.Objects[0].Name != "api-1" || len(g.Evidence) != 2 {
		t.Errorf("grouped finding = %+v", g)
	}
}

// TestCaseFillsSeverityAndNextStep: the severity comes from the case; the
// next step is a command for the finding's own object (never the case's
// example command), tied to the case's step and its title.
func TestCaseFillsSeverityAndNextStep(t *testing.T) {
	c := &casebook.Case{ID: "N-002", Severity: casebook.SeverityCritical,
		Sections: []casebook.Section{{Title: "排查过程", Text: "先看这里。\n\n1. **确认 Service 的 selector。**\n\n   ```bash\n   kubectl get svc\n   ```\n2. 第二步"}}}
	lookup := func(id string) (*casebook.Case, bool) { return c, id == "N-002" }
	res, err := Run(context.Background(), emptySource, []Detector{detector{id: "N-002", detect: found(finding("N-002", "x", pod("a", "b")))}},
		Options{Case: lookup})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Findings[0]
	want := casebook.Step{Command: "kubectl describe pod -n a b", Ref: "N-002#排查过程", StepNo: 1, Title: "确认 Service 的 selector。",
		Objects: []casebook.ObjectRef{pod("a", "b")}}
	if f.Severity != casebook.SeverityCritical || len(f.Next) != 1 || fmt.Sprint(f.Next[0]) != fmt.Sprint(want) {
		t.Errorf("severity %q, next %+v, want %+v", f.Severity, f.Next, want)
	}
}

// TestEachKindIsListedOnce: detectors share one list per kind and namespace.
func TestEachKindIsListedOnce(t *testing.T) {
	var calls atomic.Int32
	src := source(func(_ context.Context, kind casebook.Kind, ns string) ([]runtime.Object, error) {
		calls.Add(1)
		time.Sleep(10 * time.Millisecond)
		return nil, nil
	})
	var ds []Detector
	for i := range 5 {
		ds = append(ds, detector{id: fmt.Sprintf("X-%03d", i), detect: func(ctx context.Context, st *cluster.State) ([]casebook.Finding, error) {
			_, err := st.Objects(casebook.KindEvent, "")
			return nil, err
		}, kinds: []casebook.Kind{casebook.KindEvent}})
	}
	if _, err := Run(context.Background(), src, ds, Options{Concurrency: 5}); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("events were listed %d times, want 1", n)
	}
}

func TestExclusions(t *testing.T) {
	ex, err := ParseExclusions("test.yaml", []byte(`
ignore:
  - case: N-002
    namespace: kube-system
    name: "svclb-*"
    reason: ServiceLB pods wait for the port on purpose
  - case: "K-*"
    namespace: dev
`))
	if err != nil {
		t.Fatal(err)
	}
	fs := []casebook.Finding{
		finding("N-002", "a", pod("kube-system", "svclb-mqtt-1"), casebook.ObjectRef{Kind: "Service", Namespace: "default", Name: "mqtt"}),
		finding("K-002", "b", pod("dev", "x")),
		finding("K-002", "c", pod("prod", "x")),
	}
	// The N-002 finding quotes the excluded svclb pod as well as the Service.
	fs[0].Evidence = append(fs[0].Evidence, casebook.Evidence{Object: fs[0].Objects[1], Field: "spec.selector", Text: "app=mqtt"})
	out, dropped := ex.Apply(fs)
	if dropped != 2 || len(out) != 2 || len(out[0].Objects) != 1 || out[0].Objects[0].Name != "mqtt" || out[1].Objects[0].Namespace != "prod" {
		t.Errorf("dropped %d, kept %+v", dropped, out)
	}
	// The excluded pod's evidence goes with it; the Service's stays.
	if ev := out[0].Evidence; len(ev) != 1 || ev[0].Object.Name != "mqtt" {
		t.Errorf("evidence left after excluding svclb-mqtt-1: %v", ev)
	}
	for name, bad := range map[string]string{
		"unknown field": "ignore:\n  - case: N-002\n    nmespace: x\n",
		"empty rule":    "ignore:\n  - reason: nothing\n",
		"bad pattern":   "ignore:\n  - name: \"[\"\n",
	} {
		if _, err := ParseExclusions("bad.yaml", []byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
