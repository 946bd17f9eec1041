package inspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/types"
	"github.com/open-policy-agent/opa/v1/version"

	casebook "github.com/casebook-dev/casebook"
)

// RegoOptions say what the policies are written for.
type RegoOptions struct {
	// Version is the Rego version standalone .rego files are meant for:
	// "v1" (OPA 1.x's default), "v0" (OPA 0.x, `opa --v0-compatible`), or ""
	// to accept either and only say which one a file needs. Templates carry
	// their own version.
	Version string
}

// RegoReport is what CheckRego found in .rego files and Gatekeeper
// ConstraintTemplates.
type RegoReport struct {
	// OPAVersion is the version of the OPA library that parsed and compiled
	// the policies; error texts are worded as that version words them.
	OPAVersion string             `json:"opa_version"`
	Files      []RegoFile         `json:"files"`
	Templates  []TemplateInfo     `json:"templates"`
	Findings   []casebook.Finding `json:"findings"`
	Notes      []Note             `json:"notes"`
	// Warnings are files that could not be read as policies at all (YAML
	// that does not parse); the other files are still checked.
	Warnings []casebook.Warning `json:"warnings"`
}

// RegoFile is one standalone .rego file.
type RegoFile struct {
	File    string `json:"file"`
	Package string `json:"package,omitempty"`
	// Version is the Rego version the file parses as ("v1" or "v0"), or ""
	// when it parses as neither.
	Version string `json:"version"`
	Rules   int    `json:"rules"`
}

// TemplateInfo is one ConstraintTemplate and how Gatekeeper reads its Rego.
type TemplateInfo struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Target string `json:"target,omitempty"`
	// Source is where the Rego is: "rego" (targets[].rego), "code"
	// (targets[].code[engine: Rego].source), or "" when there is none.
	Source string `json:"source,omitempty"`
	// Version is the Rego version Gatekeeper parses the source as.
	Version string `json:"version,omitempty"`
	Package string `json:"package,omitempty"`
	Libs    int    `json:"libs"`
}

// GatekeeperTarget is the one target Gatekeeper's validating webhook serves.
const GatekeeperTarget = "admission.k8s.gatekeeper.sh"

// CheckRego checks the .rego files and ConstraintTemplate YAML files at
// paths (files or directories, walked recursively).
func CheckRego(paths []string, opts RegoOptions) (*RegoReport, error) {
	return CheckRegoContext(context.Background(), paths, opts)
}

// CheckRegoContext is CheckRego that stops between files when ctx ends.
// Special files (FIFOs, devices, sockets) in a directory are skipped with a
// warning, never opened; given by name they are an input error.
func CheckRegoContext(ctx context.Context, paths []string, opts RegoOptions) (*RegoReport, error) {
	switch opts.Version {
	case "", "v0", "v1":
	default:
		return nil, fmt.Errorf("unknown Rego version %q (want v0 or v1)", opts.Version)
	}
	regoFiles, yamlFiles, skipped, err := collectPolicyFiles(ctx, paths)
	if err != nil {
		return nil, err
	}
	rep := &RegoReport{OPAVersion: version.Version, Files: []RegoFile{}, Templates: []TemplateInfo{}, Findings: []casebook.Finding{},
		Notes: []Note{}, Warnings: append([]casebook.Warning{}, skipped...)}
	c := &regoChecker{ctx: ctx, rep: rep, opts: opts}
	c.checkFiles(regoFiles)
	for _, f := range yamlFiles {
		if ctx.Err() != nil {
			break
		}
		c.checkTemplateFile(f)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(rep.Files) == 0 && len(rep.Templates) == 0 {
		msg := "has no .rego files and no ConstraintTemplates"
		if len(rep.Warnings) > 0 {
			msg += fmt.Sprintf(" (%d YAML file(s) did not parse: %s)", len(rep.Warnings), rep.Warnings[0].String())
		}
		return nil, &InputError{File: strings.Join(paths, ", "), Err: errors.New(msg)}
	}
	sortFindings(rep.Findings)
	return rep, nil
}

func collectPolicyFiles(ctx context.Context, paths []string) (regoFiles, yamlFiles []string, skipped []casebook.Warning, err error) {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, nil, inputErrorf(p, "no such file or directory")
			}
			return nil, nil, nil, err
		}
		if !st.IsDir() {
			if !st.Mode().IsRegular() {
				return nil, nil, nil, inputErrorf(p, "is %s, not a regular file", fileKind(st.Mode()))
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".rego":
				regoFiles = append(regoFiles, p)
			case ".yaml", ".yml":
				yamlFiles = append(yamlFiles, p)
			default:
				return nil, nil, nil, inputErrorf(p, "is neither a .rego file nor YAML (.yaml, .yml) with ConstraintTemplates")
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			var list *[]string
			switch strings.ToLower(filepath.Ext(path)) {
			case ".rego":
				list = &regoFiles
			case ".yaml", ".yml":
				list = &yamlFiles
			default:
				return nil
			}
			// Look before opening: a FIFO would block the read for ever.
			mode := d.Type()
			if mode&fs.ModeSymlink != 0 {
				if st, err := os.Stat(path); err == nil {
					mode = st.Mode()
				}
			}
			if !mode.IsRegular() {
				skipped = append(skipped, casebook.Warning{Source: path, Message: fmt.Sprintf("%s, not a regular file (skipped)", fileKind(mode))})
				return nil
			}
			*list = append(*list, path)
			return nil
		})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("walk %s: %w", p, err)
		}
	}
	return regoFiles, yamlFiles, skipped, nil
}

type regoChecker struct {
	ctx  context.Context
	rep  *RegoReport
	opts RegoOptions
}

// sourceMap turns a row of a Rego text into the position to report: the
// row itself in a .rego file, the file line in a YAML literal block, or
// the block's line and the row inside it.
type sourceMap struct {
	file string
	// base is the YAML line of the literal block's indicator ("rego: |");
	// 0 for a .rego file.
	base int
	// literal is false for YAML scalars whose lines cannot be mapped
	// (quoted or folded); then positions name the scalar's line.
	literal bool
}

func (m sourceMap) pos(row int) string {
	switch {
	case m.base == 0:
		return fmt.Sprintf("%s:%d", m.file, row)
	case m.literal:
		return fmt.Sprintf("%s:%d", m.file, m.base+row)
	}
	return fmt.Sprintf("%s:%d (Rego line %d)", m.file, m.base, row)
}

// errorLine renders an OPA error as `opa check` prints its first line,
// with the position mapped to the file.
func (m sourceMap) errorLine(e *ast.Error) string {
	if e.Location == nil {
		return fmt.Sprintf("%s: %s: %s", m.file, e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", m.pos(e.Location.Row), e.Code, e.Message)
}

func (m sourceMap) errorLines(errs ast.Errors) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, m.errorLine(e))
	}
	return out
}

func regoVersion(v string) ast.RegoVersion {
	if v == "v0" {
		return ast.RegoV0
	}
	return ast.RegoV1
}

func otherVersion(v string) string {
	if v == "v0" {
		return "v1"
	}
	return "v0"
}

// parseRego parses src as version v ("v0" or "v1"). An empty module is an
// error, as Gatekeeper makes it.
func parseRego(name, src, v string) (*ast.Module, ast.Errors) {
	m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: regoVersion(v), ProcessAnnotation: true})
	if err != nil {
		var errs ast.Errors
		if errors.As(err, &errs) {
			return nil, errs
		}
		return nil, ast.Errors{ast.NewError(ast.ParseErr, nil, "%s", err.Error())}
	}
	if m == nil {
		return nil, ast.Errors{ast.NewError(ast.ParseErr, &ast.Location{File: name, Row: 1}, "empty module")}
	}
	return m, nil
}

func (c *regoChecker) add(sev casebook.Severity, caseID, cause string, obj casebook.ObjectRef, msg string, evidence []string, next string) {
	c.rep.Findings = append(c.rep.Findings, casebook.Finding{CaseID: caseID, Severity: sev, Cause: cause,
		Objects: []casebook.ObjectRef{obj}, Message: msg, Evidence: quotes(obj, evidence), NextStep: next})
}

func (c *regoChecker) note(caseID string, obj casebook.ObjectRef, msg string) {
	c.rep.Notes = append(c.rep.Notes, Note{CaseID: caseID, Object: obj.String(), Message: msg})
}

// checkFiles parses every standalone .rego file, then compiles the ones
// that parse together, as `opa check DIR` does.
func (c *regoChecker) checkFiles(files []string) {
	modules := map[string]*ast.Module{}
	for _, f := range files {
		if c.ctx.Err() != nil {
			return
		}
		src, err := os.ReadFile(f)
		if err != nil {
			c.rep.Warnings = append(c.rep.Warnings, casebook.Warning{Source: f, Message: err.Error()})
			continue
		}
		obj := casebook.ObjectRef{Kind: "RegoFile", Name: f}
		sm := sourceMap{file: f}
		info := RegoFile{File: f}
		want := c.opts.Version
		if want == "" {
			want = "v1"
		}
		m, errs := parseRego(f, string(src), want)
		if errs != nil {
			other, otherErrs := parseRego(f, string(src), otherVersion(want))
			switch {
			case other != nil && c.opts.Version == "":
				// Auto: a v0-only file is fine for OPA 0.x and Gatekeeper's
				// rego field, but not for OPA 1.x as it ships.
				m, info.Version = other, "v0"
				c.add(casebook.SeverityMinor, "O-002", "rego-v0-only", obj,
					"is Rego v0 only: OPA 1.x rejects it unless run with --v0-compatible (OPA 0.x and Gatekeeper's rego field accept it)",
					sm.errorLines(errs), "opa fmt --v0-v1 rewrites it in v1 syntax that v0 parsers also accept (with import rego.v1)")
			case other != nil:
				m, info.Version = other, otherVersion(want)
				c.add(casebook.SeverityMajor, "O-002", "rego-version-mismatch", obj,
					fmt.Sprintf("is written in Rego %s but is meant for %s: it does not parse there", otherVersion(want), want),
					sm.errorLines(errs), versionFix(want))
			default:
				ev := sm.errorLines(errs)
				if !sameErrors(errs, otherErrs) {
					ev = append(ev, "as Rego "+otherVersion(want)+":")
					ev = append(ev, sm.errorLines(otherErrs)...)
				}
				c.add(casebook.SeverityMajor, "O-002", "rego-parse-error", obj,
					"does not parse as Rego "+want+" or "+otherVersion(want), ev, "fix the syntax at the position shown; opa check reports the same")
			}
		} else {
			info.Version = want
		}
		if m != nil {
			info.Package = packageName(m)
			info.Rules = len(m.Rules)
			modules[f] = m
			c.checkInventoryScans(m, sm, obj)
			if refersTo(m, "http", "send") {
				c.note("O-002", obj, "calls http.send: fine in plain OPA, but Gatekeeper disables it by default (disabledBuiltins), where this does not compile; use External Data there")
			}
			if refersToVar(m, "external_data") {
				c.note("O-002", obj, "calls external_data, Gatekeeper's External Data built-in: it compiles here as in Gatekeeper, but plain OPA (opa eval, opa test) does not know it")
			}
		}
		c.rep.Files = append(c.rep.Files, info)
	}
	if len(modules) == 0 {
		return
	}
	// Standalone files are often a template's Rego kept apart for tests,
	// so Gatekeeper's external_data is known here too (and noted above).
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = append(caps.Builtins, externalDataBuiltin)
	comp := ast.NewCompiler().WithCapabilities(caps).WithEnablePrintStatements(true)
	comp.Compile(modules)
	if !comp.Failed() {
		return
	}
	byFile := map[string]ast.Errors{}
	var order []string
	for _, e := range comp.Errors {
		f := ""
		if e.Location != nil {
			f = e.Location.File
		}
		if _, ok := byFile[f]; !ok {
			order = append(order, f)
		}
		byFile[f] = append(byFile[f], e)
	}
	for _, f := range order {
		name := f
		if name == "" {
			name = "(policies)"
		}
		c.add(casebook.SeverityMajor, "O-002", "rego-compile-error", casebook.ObjectRef{Kind: "RegoFile", Name: name},
			compileMessage(byFile[f]), sourceMap{file: f}.errorLines(byFile[f]), "fix the errors shown; opa check reports the same")
	}
}

func versionFix(want string) string {
	if want == "v1" {
		return "opa fmt --v0-v1 rewrites v0 syntax as v1 (if, contains)"
	}
	return "write it in v0 syntax, or run it where v1 is accepted (OPA 1.x, Gatekeeper 3.19+ with source.version: \"v1\")"
}

func sameErrors(a, b ast.Errors) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Code != b[i].Code || a[i].Message != b[i].Message {
			return false
		}
	}
	return true
}

func compileMessage(errs ast.Errors) string {
	codes := map[string]bool{}
	var list []string
	for _, e := range errs {
		if !codes[e.Code] {
			codes[e.Code] = true
			list = append(list, e.Code)
		}
	}
	return "does not compile: " + strings.Join(list, ", ")
}

func packageName(m *ast.Module) string {
	if m.Package == nil {
		return ""
	}
	return strings.TrimPrefix(m.Package.Path.String(), "data.")
}

// refersTo reports whether the module's rules refer to the ref head.tail
// (a built-in such as http.send).
func refersTo(m *ast.Module, head, tail string) bool {
	found := false
	for _, r := range m.Rules {
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if len(ref) == 2 && ref[0].Equal(ast.VarTerm(head)) && ref[1].Equal(ast.StringTerm(tail)) {
				found = true
			}
			return found
		})
	}
	return found
}

// refersToVar reports whether the module's rules call or refer to name.
func refersToVar(m *ast.Module, name string) bool {
	found := false
	for _, r := range m.Rules {
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if len(ref) == 1 && ref[0].Equal(ast.VarTerm(name)) {
				found = true
			}
			return found
		})
	}
	return found
}

// checkInventoryScans flags iteration over every namespace or every object
// in Gatekeeper's data.inventory, the non-indexed pattern of O-004. It
// stays conservative: only `_` in the namespace or name position, where the
// cost grows with the number of synced objects, is reported.
func (c *regoChecker) checkInventoryScans(m *ast.Module, sm sourceMap, obj casebook.ObjectRef) {
	var ev []string
	seen := map[string]bool{}
	for _, r := range m.Rules {
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if !isInventoryScan(ref) {
				return false
			}
			line := ref.String()
			if ref[0].Location != nil {
				line = sm.pos(ref[0].Location.Row) + ": " + line
			}
			if !seen[line] {
				seen[line] = true
				ev = append(ev, line)
			}
			return false
		})
	}
	if len(ev) == 0 {
		return
	}
	c.add(casebook.SeverityMinor, "O-004", "inventory-scan", obj,
		"iterates over data.inventory with _ instead of looking objects up by key: the cost of every evaluation grows with the number of synced objects",
		ev, `look the object up by its keys, e.g. data.inventory.namespace[ns]["v1"]["ServiceAccount"][name]; compare with opa bench on a realistic inventory`)
}

func isInventoryScan(ref ast.Ref) bool {
	if len(ref) < 4 || !ref[0].Equal(ast.DefaultRootDocument) || !ref[1].Equal(ast.StringTerm("inventory")) {
		return false
	}
	wild := func(i int) bool {
		if i >= len(ref) {
			return false
		}
		v, ok := ref[i].Value.(ast.Var)
		return ok && v.IsWildcard()
	}
	switch {
	case ref[2].Equal(ast.StringTerm("namespace")):
		// data.inventory.namespace[ns][groupversion][kind][name]
		return wild(3) || wild(6)
	case ref[2].Equal(ast.StringTerm("cluster")):
		// data.inventory.cluster[groupversion][kind][name]
		return wild(5)
	}
	return false
}

// externalDataBuiltin is Gatekeeper's External Data built-in, declared as
// frameworks' rego driver declares it.
var externalDataBuiltin = &ast.Builtin{Name: "external_data", Decl: types.NewFunction(types.Args(types.A), types.A)}

// gatekeeperCapabilities are OPA's built-ins as Gatekeeper's Helm chart
// configures them: http.send disabled (disabledBuiltins), external_data
// added (frameworks' rego driver).
func gatekeeperCapabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	builtins := make([]*ast.Builtin, 0, len(caps.Builtins)+1)
	for _, b := range caps.Builtins {
		if b.Name != "http.send" {
			builtins = append(builtins, b)
		}
	}
	builtins = append(builtins, externalDataBuiltin)
	caps.Builtins = builtins
	return caps
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
