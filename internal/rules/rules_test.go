package rules_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/rules"
)

// source is a casebook.Source over fixed objects by kind that counts lists.
type source struct {
	objs  map[casebook.Kind][]runtime.Object
	lists map[casebook.Kind]int
}

func (s *source) List(_ context.Context, kind casebook.Kind, _ string) ([]runtime.Object, error) {
	if s.lists == nil {
		s.lists = map[casebook.Kind]int{}
	}
	s.lists[kind]++
	return s.objs[kind], nil
}

func compile(t *testing.T, src string) *rules.Rule {
	t.Helper()
	r, problems := rules.Compile(context.Background(), "K-900", "team/rule.rego", src)
	if len(problems) > 0 {
		t.Fatalf("rule does not compile: %v", problems)
	}
	return r
}

const header = "package team.t\n\n"

// TestCompileRefusesNetworkClockAndRandomness: a rule that calls a built-in
// that reaches the network, reads the runtime or the clock, or answers
// differently each time does not compile, and the error names its line.
func TestCompileRefusesNetworkClockAndRandomness(t *testing.T) {
	for _, call := range []string{
		`http.send({"method": "get", "url": "https://example.com"})`,
		`net.lookup_ip_addr("example.com")`,
		`time.now_ns()`,
		`opa.runtime()`,
		`rand.intn("x", 10)`,
		`uuid.rfc4122("x")`,
	} {
		name, _, _ := strings.Cut(call, "(")
		t.Run(name, func(t *testing.T) {
			src := header + "findings contains f if {\n\tx := " + call + "\n\tf := {\"cause\": \"c\", \"message\": sprintf(\"%v\", [x])}\n}\n"
			r, problems := rules.Compile(context.Background(), "K-900", "team/rule.rego", src)
			if r != nil || len(problems) == 0 {
				t.Fatalf("a rule calling %s compiled", name)
			}
			if p := problems[0]; p.File != "team/rule.rego" || p.Line != 4 || !strings.Contains(p.Message, name) {
				t.Errorf("problem %q at %s:%d, want the call's line 4 naming %s", p.Message, p.File, p.Line, name)
			}
		})
	}
	compile(t, header+"findings contains f if {\n\tf := {\"cause\": sprintf(\"%d\", [1]), \"message\": \"m\"}\n}\n")
}

// TestCompileErrorsAtFileLine: syntax and type errors come back at the
// rule's file and line; a rule without findings is refused.
func TestCompileErrorsAtFileLine(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
		line            int
	}{
		{"parse", header + "findings contains f if {\n\tf := {\n}\n", "rego_parse_error", 6},
		{"unsafe var", header + "findings contains f if {\n\tnot y\n\tf := 1\n}\n", "rego_", 4},
		{"no findings", header + "x := 1\n", "rule defines no findings", 1},
		{"bad next", header + "findings contains 1 if false\nnext := {\"c\": [{\"step\": 1}]}\n", "needs a command", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := rules.Compile(context.Background(), "K-900", "team/rule.rego", tc.src)
			if len(problems) == 0 {
				t.Fatal("no problem reported")
			}
			p := problems[0]
			if p.Line != tc.line || !strings.Contains(p.Message, tc.want) {
				t.Errorf("got %s, want line %d containing %q", p.Error(), tc.line, tc.want)
			}
		})
	}
}

// TestSecretDataNeverInInput: a Secret's data and stringData never reach
// a rule, even when the source hands over a full Secret.
func TestSecretDataNeverInInput(t *testing.T) {
	src := &source{objs: map[casebook.Kind][]runtime.Object{casebook.KindSecret: {&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop", Labels: map[string]string{"app": "db"}},
		Data:       map[string][]byte{"password": []byte("hunter2")}, StringData: map[string]string{"token": "s3cr3t"},
	}}}}
	r := compile(t, header+`findings contains f if {
	some key, s in input.objects.Secret
	f := {"cause": "seen", "message": json.marshal(s), "objects": [{"kind": "Secret", "namespace": "shop", "name": "db"}]}
}
`)
	res, err := engine.Run(context.Background(), src, rules.NewSet([]*rules.Rule{r}).Detectors(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("want the Secret's metadata seen once, got %v (warnings %v)", res.Findings, res.Warnings)
	}
	msg := res.Findings[0].Message
	for _, leak := range []string{"hunter2", "aHVudGVyMg", "s3cr3t", `"data"`, "stringData"} {
		if strings.Contains(msg, leak) {
			t.Errorf("the input holds Secret data (%s): %s", leak, msg)
		}
	}
	if !strings.Contains(msg, `"app":"db"`) {
		t.Errorf("the Secret's metadata is missing: %s", msg)
	}
}

// TestInputBuiltOncePerRun: rules of one set share one input document per
// run, each kind listed once, however many rules read it.
func TestInputBuiltOncePerRun(t *testing.T) {
	src := &source{objs: map[casebook.Kind][]runtime.Object{casebook.KindNode: {
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-1"}},
	}}}
	var rs []*rules.Rule
	for _, cause := range []string{"a", "b", "c"} {
		rs = append(rs, compile(t, header+`findings contains f if {
	some name, _ in input.objects.Node
	f := {"cause": "`+cause+`", "message": "m", "objects": [{"kind": "Node", "name": name}]}
}
`))
	}
	set := rules.NewSet(rs)
	st := cluster.New(context.Background(), src)
	if set.Input(st) != set.Input(st) {
		t.Error("the input document was built twice for one state")
	}
	res, err := engine.Run(context.Background(), src, set.Detectors(), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 3 {
		t.Errorf("want one finding per rule, got %d", len(res.Findings))
	}
	if src.lists[casebook.KindNode] != 2 {
		t.Errorf("nodes listed %d times over two states, want once per state", src.lists[casebook.KindNode])
	}
}

// TestFailingRuleIsAWarning: a rule past its deadline, or one whose
// findings have the wrong shape, becomes a warning; the others still run.
func TestFailingRuleIsAWarning(t *testing.T) {
	src := &source{objs: map[casebook.Kind][]runtime.Object{casebook.KindNode: {
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "edge-1"}},
	}}}
	good := compile(t, header+`findings contains f if {
	some name, _ in input.objects.Node
	f := {"cause": "ok", "message": "m", "objects": [{"kind": "Node", "name": name}]}
}
`)
	slow, problems := rules.Compile(context.Background(), "K-901", "team/slow.rego", header+`findings contains f if {
	count([x | some x in numbers.range(1, 100000000)]) > 0
	some name, _ in input.objects.Node
	f := {"cause": "slow", "message": "m", "objects": [{"kind": "Node", "name": name}]}
}
`)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	shapeless, problems := rules.Compile(context.Background(), "K-902", "team/shape.rego", header+`findings contains {"message": "no cause"} if true
`)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	start := time.Now()
	res, err := engine.Run(context.Background(), src, rules.NewSet([]*rules.Rule{good, slow, shapeless}).Detectors(), engine.Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Cause != "ok" {
		t.Errorf("want the good rule's finding only, got %v", rules.Lines(res.Findings))
	}
	var ws []string
	for _, w := range res.Warnings {
		ws = append(ws, w.Source+": "+w.Message)
	}
	got := strings.Join(ws, "\n")
	if !strings.Contains(got, "K-901: detector did not finish within 200ms") {
		t.Errorf("no deadline warning for the slow rule:\n%s", got)
	}
	if !strings.Contains(got, "K-902: team/shape.rego: finding 0: needs a cause and a message") {
		t.Errorf("no warning for the shapeless finding:\n%s", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the run waited %s for the slow rule", d)
	}
}
