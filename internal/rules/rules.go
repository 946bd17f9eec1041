// Package rules runs a team's detection rules: a case's detection written
// in Rego, in a file beside the case (foo.md and foo.rego), with no Go and
// no rebuild. A rule reads one input document (docs/rules.md) — the
// cluster's objects by kind and the relations the engine already knows —
// built once per run from the cluster.State, and returns findings that the
// engine treats as it treats a Go detector's: deadline, warnings, grouping,
// exclusions, next steps and root-cause links.
//
// Rules cannot reach the network or the clock: http.send, net.*,
// opa.runtime and every non-deterministic built-in are left out of the
// capabilities they are compiled with, so a rule that calls one does not
// compile. Secret data is never in the input (Secrets are metadata only).
package rules

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/engine"
)

// Ext is the extension of a rule file; foo.rego is the rule of foo.md.
const Ext = ".rego"

// Rule is one case's compiled detection rule, prepared once.
type Rule struct {
	// CaseID is the case the rule detects, from the case file beside it.
	CaseID string
	// File names the rule file as problems name it ("team/foo.rego").
	File string
	// Package is the rule's package path ("data.team.ingress").
	Package string

	kinds     []casebook.Kind
	relations []string
	query     rego.PreparedEvalQuery
	next      map[string][]engine.StepTemplate
	symptoms  map[string]bool
	bystander map[string]bool
}

// Capabilities are the built-ins a rule may call: OPA's own, less those that
// reach the network, read the runtime or the clock, or give a different
// answer on each call. Rules are checks over a snapshot; the same input must
// give the same findings.
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	keep := caps.Builtins[:0:0]
	for _, b := range caps.Builtins {
		if denied(b) {
			continue
		}
		keep = append(keep, b)
	}
	caps.Builtins = keep
	caps.AllowNet = []string{}
	return caps
}

func denied(b *ast.Builtin) bool {
	switch {
	case b.Nondeterministic,
		b.Name == "http.send", b.Name == "opa.runtime", b.Name == "time.now_ns",
		strings.HasPrefix(b.Name, "net."), strings.HasPrefix(b.Name, "rand."), strings.HasPrefix(b.Name, "uuid."):
		return true
	}
	return false
}

// Load compiles the rule of every case in lib that has one (the case's
// file name with .rego for .md), in fsys at its root. prefix is put before
// file names in problems. A rule that does not compile is a problem at its
// file and line and is left out; the others still load.
func Load(ctx context.Context, fsys fs.FS, prefix string, cases []*casebook.Case) ([]*Rule, []caseload.Problem) {
	var rules []*Rule
	var problems []caseload.Problem
	for _, c := range cases {
		if c.File == "" {
			continue
		}
		name := strings.TrimSuffix(c.File, path.Ext(c.File)) + Ext
		src, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			problems = append(problems, caseload.Problem{File: prefix + name, Message: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		r, ps := Compile(ctx, c.ID, prefix+name, string(src))
		problems = append(problems, ps...)
		if r != nil {
			rules = append(rules, r)
		}
	}
	return rules, problems
}

// Compile parses, compiles and prepares the rule of case caseID from src,
// named file in problems. The rule's package must define findings, a set
// of objects in the output shape of docs/rules.md; it may define next
// (next steps by cause), symptoms (the causes that are consequences of
// another fault) and explains_nothing (the causes that are never a root
// cause of another finding).
func Compile(ctx context.Context, caseID, file, src string) (*Rule, []caseload.Problem) {
	mod, err := ast.ParseModuleWithOpts(file, src, ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true})
	if err != nil {
		return nil, problemsOf(file, err)
	}
	if mod == nil {
		return nil, []caseload.Problem{{File: file, Line: 1, Message: "empty rule file"}}
	}
	caps := Capabilities()
	comp := ast.NewCompiler().WithCapabilities(caps).WithEnablePrintStatements(false)
	comp.Compile(map[string]*ast.Module{file: mod})
	if comp.Failed() {
		return nil, problemsOf(file, comp.Errors)
	}
	pkg := mod.Package.Path.String()
	if !defines(mod, "findings") {
		return nil, []caseload.Problem{{File: file, Line: mod.Package.Location.Row,
			Message: fmt.Sprintf("rule defines no findings: write `findings contains f if { ... }` in %s", strings.TrimPrefix(pkg, "data."))}}
	}
	r := &Rule{CaseID: caseID, File: file, Package: pkg}
	r.kinds, r.relations = reads(mod)
	opts := []func(*rego.Rego){rego.Compiler(comp), rego.Capabilities(caps), rego.StrictBuiltinErrors(true)}
	q, err := rego.New(append(opts, rego.Query(pkg+".findings"))...).PrepareForEval(ctx)
	if err != nil {
		return nil, problemsOf(file, err)
	}
	r.query = q
	if err := r.loadStatic(ctx, mod, comp, caps); err != nil {
		line := mod.Package.Location.Row
		return nil, []caseload.Problem{{File: file, Line: line, Message: err.Error()}}
	}
	return r, nil
}

// loadStatic reads next and symptoms, which may not depend on the input:
// they are read once, at load.
func (r *Rule) loadStatic(ctx context.Context, mod *ast.Module, comp *ast.Compiler, caps *ast.Capabilities) error {
	eval := func(name string) (any, error) {
		if !defines(mod, name) {
			return nil, nil
		}
		rs, err := rego.New(rego.Compiler(comp), rego.Capabilities(caps), rego.Query(r.Package+"."+name)).Eval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(rs) == 0 || len(rs[0].Expressions) == 0 {
			return nil, nil
		}
		return rs[0].Expressions[0].Value, nil
	}
	v, err := eval("next")
	if err != nil {
		return err
	}
	if r.next, err = stepsOf(v); err != nil {
		return err
	}
	if r.symptoms, err = causeSet(eval, "symptoms"); err != nil {
		return err
	}
	r.bystander, err = causeSet(eval, "explains_nothing")
	return err
}

// causeSet reads a set of cause keys the rule declares.
func causeSet(eval func(string) (any, error), name string) (map[string]bool, error) {
	v, err := eval(name)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	if v == nil {
		return out, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a set of cause keys, not %T", name, v)
	}
	for _, c := range list {
		s, ok := c.(string)
		if !ok {
			return nil, fmt.Errorf("%s must be a set of cause keys, not %T", name, c)
		}
		out[s] = true
	}
	return out, nil
}

func stepsOf(v any) (map[string][]engine.StepTemplate, error) {
	out := map[string][]engine.StepTemplate{}
	if v == nil {
		return out, nil
	}
	byCause, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("next must be an object of cause → steps, not %T", v)
	}
	for cause, list := range byCause {
		steps, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("next[%q] must be an array of steps", cause)
		}
		for i, s := range steps {
			m, ok := s.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("next[%q][%d] must be an object {step, kind, command}", cause, i)
			}
			cmd, _ := m["command"].(string)
			kind, _ := m["kind"].(string)
			if cmd == "" || kind == "" {
				return nil, fmt.Errorf("next[%q][%d] needs a command and the kind of the object it names", cause, i)
			}
			t := engine.StepTemplate{Kind: casebook.Kind(kind), Cmd: cmd}
			if n, ok := m["step"].(jsonNumber); ok {
				step, _ := n.Int64()
				t.Step = int(step)
			}
			t.OnNode, _ = m["on_node"].(bool)
			out[cause] = append(out[cause], t)
		}
	}
	return out, nil
}

// jsonNumber is how rego returns numbers.
type jsonNumber = interface{ Int64() (int64, error) }

func defines(mod *ast.Module, name string) bool {
	for _, r := range mod.Rules {
		if r.Head.Name.String() == name || (len(r.Head.Reference) > 0 && r.Head.Reference[0].Value.Compare(ast.Var(name)) == 0) {
			return true
		}
	}
	return false
}

// reads finds the kinds and relations a rule reads: input.objects.<Kind>
// and input.relations.<name>. A rule that indexes input.objects with a
// variable reads every kind the input knows.
func reads(mod *ast.Module) ([]casebook.Kind, []string) {
	kinds := map[casebook.Kind]bool{}
	rels := map[string]bool{}
	all := false
	ast.WalkRefs(mod, func(ref ast.Ref) bool {
		if len(ref) < 2 || !ref[0].Equal(ast.InputRootDocument) {
			return false
		}
		section, ok := ref[1].Value.(ast.String)
		if !ok {
			all = true
			return false
		}
		var name string
		if len(ref) > 2 {
			if s, ok := ref[2].Value.(ast.String); ok {
				name = string(s)
			}
		}
		switch string(section) {
		case "objects":
			if name == "" {
				all = true
			} else {
				kinds[casebook.Kind(name)] = true
			}
		case "relations":
			if name == "" {
				for r := range relationKinds {
					rels[r] = true
				}
			} else {
				rels[name] = true
			}
		}
		return false
	})
	if all {
		for _, k := range InputKinds {
			kinds[k] = true
		}
	}
	var ks []casebook.Kind
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	var rs []string
	for r := range rels {
		rs = append(rs, r)
	}
	sort.Strings(rs)
	return ks, rs
}

// problemsOf turns OPA's errors into problems at file:line.
func problemsOf(file string, err error) []caseload.Problem {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return []caseload.Problem{{File: file, Message: err.Error()}}
	}
	out := make([]caseload.Problem, 0, len(errs))
	for _, e := range errs {
		p := caseload.Problem{File: file, Message: e.Code + ": " + e.Message}
		if e.Location != nil {
			p.Line = e.Location.Row
			if e.Location.File != "" {
				p.File = e.Location.File
			}
		}
		out = append(out, p)
	}
	return out
}
