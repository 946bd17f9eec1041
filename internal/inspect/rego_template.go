package inspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"

	casebook "github.com/casebook-dev/casebook"
)

// checkTemplateFile checks every ConstraintTemplate in a YAML file; other
// documents (constraints, test objects) are skipped.
func (c *regoChecker) checkTemplateFile(file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		c.rep.Warnings = append(c.rep.Warnings, casebook.Warning{Source: file, Message: err.Error()})
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			c.rep.Warnings = append(c.rep.Warnings, casebook.Warning{Source: file, Message: err.Error() + " (rest of file skipped)"})
			return
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		root := doc.Content[0]
		if scalar(mapGet(root, "kind")) != "ConstraintTemplate" || !strings.HasPrefix(scalar(mapGet(root, "apiVersion")), "templates.gatekeeper.sh/") {
			continue
		}
		c.checkTemplate(file, root)
	}
}

// mapGet follows keys through nested YAML mappings; nil when one is missing.
func mapGet(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func yamlSourceMap(file string, n *yaml.Node) sourceMap {
	return sourceMap{file: file, base: n.Line, literal: n.Style == yaml.LiteralStyle}
}

// checkTemplate checks one ConstraintTemplate the way Gatekeeper ingests
// it (open-policy-agent/frameworks: client.go ValidateConstraintTemplateBasic,
// drivers/rego/compilers.go, regorewriter): the name must be the lowercase
// kind; there must be one target, admission.k8s.gatekeeper.sh; the Rego must
// parse in the template's Rego version and define violation; imports only
// from data.lib, data references only to data.lib and data.inventory; lib
// packages under data.lib; and it must compile with http.send disabled.
// The entry module's package is rewritten by Gatekeeper, so it need not
// match the kind.
func (c *regoChecker) checkTemplate(file string, root *yaml.Node) {
	name := scalar(mapGet(root, "metadata", "name"))
	kind := scalar(mapGet(root, "spec", "crd", "spec", "names", "kind"))
	info := TemplateInfo{File: file, Line: root.Line, Name: name, Kind: kind}
	objName := name
	if objName == "" {
		objName = fmt.Sprintf("%s:%d", file, root.Line)
	}
	obj := casebook.ObjectRef{Kind: "ConstraintTemplate", Name: objName}
	where := at(file, root.Line)
	defer func() { c.rep.Templates = append(c.rep.Templates, info) }()

	switch {
	case kind == "":
		c.add(casebook.SeverityMajor, "O-002", "template-no-kind", obj,
			"does not set spec.crd.spec.names.kind, so Gatekeeper cannot create its constraint CRD",
			[]string{fmt.Sprintf("%s: invalid ConstraintTemplate: ConstraintTemplate %q does not specify CRD Kind", where, name)},
			"set spec.crd.spec.names.kind to the constraint kind, e.g. K8sRequiredLabels")
	case !strings.EqualFold(name, kind):
		c.add(casebook.SeverityMajor, "O-002", "template-name-kind", obj,
			"has a name that is not the lowercase of its kind: Gatekeeper rejects the template and no constraint CRD is created",
			[]string{fmt.Sprintf("%s: invalid ConstraintTemplate: the ConstraintTemplate's name %q is not equal to the lowercase of CRD's Kind: %q", where, name, strings.ToLower(kind))},
			fmt.Sprintf("name the template %q", strings.ToLower(kind)))
	}

	targets := mapGet(root, "spec", "targets")
	n := 0
	if targets != nil && targets.Kind == yaml.SequenceNode {
		n = len(targets.Content)
	}
	if n != 1 {
		c.add(casebook.SeverityMajor, "O-002", "template-targets", obj,
			fmt.Sprintf("has %d targets; Gatekeeper expects exactly one, %s", n, GatekeeperTarget),
			[]string{fmt.Sprintf("%s: spec.targets has %d item(s)", where, n)}, "keep a single target: "+GatekeeperTarget)
		if n == 0 {
			return
		}
	}
	t := targets.Content[0]
	info.Target = scalar(mapGet(t, "target"))
	if info.Target != GatekeeperTarget {
		c.add(casebook.SeverityMajor, "O-002", "template-target", obj,
			fmt.Sprintf("targets %q, which Gatekeeper does not serve", info.Target),
			[]string{fmt.Sprintf("%s: invalid ConstraintTemplate: target %q not recognized, known targets [%s]", at(file, t.Line), info.Target, GatekeeperTarget)},
			"set target: "+GatekeeperTarget)
	}

	regoNode, libsNode, engines := templateRego(t, &info)
	if regoNode == nil {
		if len(engines) > 0 {
			c.note("", obj, fmt.Sprintf("has no Rego (code engines: %s); casebook checks only Rego", strings.Join(engines, ", ")))
			return
		}
		c.add(casebook.SeverityMajor, "O-002", "template-no-rego", obj,
			"has neither targets[].rego nor a code entry with engine: Rego",
			[]string{fmt.Sprintf("%s: Could not extract Rego from the constraint template", at(file, t.Line))},
			"add the Rego under targets[].rego (v0) or targets[].code[].source.rego with engine: Rego")
		return
	}
	if info.Source == "code" && info.Version == "v1" {
		c.note("O-002", obj, `declares code[].source.version: "v1", which Gatekeeper honours from 3.19 (per its docs); older releases parse the Rego as v0`)
	}

	maps := map[string]sourceMap{}
	entryName := file
	maps[entryName] = yamlSourceMap(file, regoNode)
	entry := c.parseTemplateRego(entryName, regoNode.Value, maps[entryName], obj, &info, "")
	if entry == nil {
		return
	}
	info.Package = packageName(entry)
	modules := map[string]*ast.Module{entryName: entry}

	if !definesRule(entry, "violation") {
		c.add(casebook.SeverityMajor, "O-002", "missing-violation", obj,
			"has no violation rule, which Gatekeeper requires: the template is rejected",
			[]string{fmt.Sprintf("%s: invalid ConstraintTemplate: invalid rego: invalid module: missing required rules: [violation]", maps[entryName].pos(1)),
				"rules defined: " + ruleNames(entry)},
			`name the entry rule violation, producing {"msg": msg, "details": {...}}`)
	}
	if lk := strings.ToLower(kind); kind != "" && info.Package != lk {
		c.note("O-002", obj, fmt.Sprintf("package %s is not the lowercase kind %s: Gatekeeper rewrites the package, so this is fine, but offline checks must query data.%s.violation", info.Package, lk, info.Package))
	}

	if libsNode != nil && libsNode.Kind == yaml.SequenceNode {
		for i, ln := range libsNode.Content {
			libName := fmt.Sprintf("%s (libs[%d])", file, i)
			maps[libName] = sourceMap{file: file, base: ln.Line, literal: ln.Style == yaml.LiteralStyle}
			if ln.Line == 0 { // an object from a cluster: name the lib
				maps[libName] = sourceMap{file: libName}
			}
			lib := c.parseTemplateRego(libName, ln.Value, maps[libName], obj, &info, fmt.Sprintf("libs[%d] ", i))
			if lib == nil {
				continue
			}
			info.Libs++
			pkg := lib.Package.Path
			if !pkg.HasPrefix(libPrefix) || len(pkg) <= len(libPrefix) {
				c.add(casebook.SeverityMajor, "O-002", "lib-package", obj,
					fmt.Sprintf("has a lib in package %s, outside data.lib: Gatekeeper rejects the template", pkg),
					[]string{fmt.Sprintf("%s: path %s not found in lib prefixes", maps[libName].pos(lib.Package.Location.Row), pkg)},
					"put library code in a package under lib (package lib.mylib) and import it as data.lib.mylib")
			}
			modules[libName] = lib
		}
	}

	c.checkGatekeeperRefs(modules, maps, obj)
	for name, m := range modules {
		c.checkInventoryScans(m, maps[name], obj)
	}
	for _, m := range modules {
		if refersToInventory(m) {
			c.note("O-002", obj, "reads data.inventory, which is empty unless Gatekeeper syncs the kinds it reads: Config spec.sync.syncOnly (gatekeeper-system/config) or a SyncSet")
			break
		}
	}

	comp := ast.NewCompiler().WithCapabilities(gatekeeperCapabilities()).WithEnablePrintStatements(true)
	comp.Compile(modules)
	if comp.Failed() {
		var ev []string
		httpSend := false
		for _, e := range comp.Errors {
			sm, ok := sourceMap{}, false
			if e.Location != nil {
				sm, ok = maps[e.Location.File]
			}
			if !ok {
				sm = sourceMap{file: file}
			}
			ev = append(ev, sm.errorLine(e))
			httpSend = httpSend || strings.Contains(e.Message, "http.send")
		}
		next := "fix the errors shown; opa check (with --v0-compatible for a v0 template) and gator test report the same"
		msg := compileMessage(comp.Errors) + " (Gatekeeper reports it as an ingest error and creates no constraint CRD)"
		if httpSend {
			next = "Gatekeeper disables http.send by default (disabledBuiltins); fetch external data through External Data (external_data with a Provider) instead of enabling it"
		}
		c.add(casebook.SeverityMajor, "O-002", "rego-compile-error", obj, msg, ev, next)
	}
}

var libPrefix = ast.MustParseRef("data.lib")

// at names a position in a template: file:line, or just the name when the
// template has no lines (an object read from a cluster).
func at(file string, line int) string {
	if line == 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line)
}

// CheckTemplateObject runs the checks CheckRego runs on a ConstraintTemplate
// file over one ConstraintTemplate read from a cluster (the content of an
// unstructured object). label names the template in the evidence; Rego
// positions are given as label:row, the row inside the Rego text (libs as
// "label (libs[i]):row"). It returns the findings (all O-002) and notes.
func CheckTemplateObject(label string, obj map[string]any) ([]casebook.Finding, []Note, error) {
	var root yaml.Node
	if err := root.Encode(obj); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", label, err)
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = *root.Content[0]
	}
	clearLines(&root)
	rep := &RegoReport{}
	c := &regoChecker{ctx: context.Background(), rep: rep}
	c.checkTemplate(label, &root)
	sortFindings(rep.Findings)
	return rep.Findings, rep.Notes, nil
}

// clearLines drops the line numbers of an encoded object: they are lines of
// a rendering, not of anything the user has.
func clearLines(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		clearLines(c)
	}
}

// templateRego finds the Rego of a target as frameworks does: the first
// code entry with engine Rego, else the target's rego field. It records the
// source and version in info and returns the code engines it saw.
func templateRego(t *yaml.Node, info *TemplateInfo) (rego, libs *yaml.Node, engines []string) {
	if code := mapGet(t, "code"); code != nil && code.Kind == yaml.SequenceNode {
		for _, e := range code.Content {
			engine := scalar(mapGet(e, "engine"))
			engines = append(engines, engine)
			if engine != "Rego" || rego != nil {
				continue
			}
			src := mapGet(e, "source")
			if r := mapGet(src, "rego"); r != nil {
				rego, libs = r, mapGet(src, "libs")
				info.Source, info.Version = "code", "v0"
				if scalar(mapGet(src, "version")) == "v1" {
					info.Version = "v1"
				}
			}
		}
	}
	if rego == nil {
		if r := mapGet(t, "rego"); r != nil {
			rego, libs = r, mapGet(t, "libs")
			info.Source, info.Version = "rego", "v0"
		}
	}
	return rego, libs, engines
}

// parseTemplateRego parses one Rego text of a template in the template's
// version and reports a version mismatch or a parse error. It returns the
// module parsed in whichever version works, so the other checks still run.
func (c *regoChecker) parseTemplateRego(name, src string, sm sourceMap, obj casebook.ObjectRef, info *TemplateInfo, what string) *ast.Module {
	m, errs := parseRego(name, src, info.Version)
	if errs == nil {
		return m
	}
	other, otherErrs := parseRego(name, src, otherVersion(info.Version))
	switch {
	case other != nil && info.Version == "v0":
		field := "rego field"
		if info.Source == "code" {
			field = "code without source.version: \"v1\""
		}
		c.add(casebook.SeverityMajor, "O-002", "rego-v1-in-v0-template", obj,
			fmt.Sprintf("%suses Rego v1 syntax in a %s, which Gatekeeper parses as Rego v0: Gatekeeper 3.17/3.18, and 3.19+ without source.version: \"v1\", reject it (frameworks builds that try v1 first accept it; from which release is unconfirmed)", what, field),
			sm.errorLines(errs),
			`on Gatekeeper 3.19+ move it to code: [{engine: Rego, source: {version: "v1", rego: ...}}]; otherwise write it in v0 syntax`)
		return other
	case other != nil:
		c.add(casebook.SeverityMajor, "O-002", "rego-v0-in-v1-template", obj,
			what+"declares source.version: \"v1\" but is written in Rego v0: Gatekeeper parses it as v1 and rejects it",
			sm.errorLines(errs), `opa fmt --v0-v1 rewrites it in v1 syntax; or drop version: "v1" and keep v0`)
		return other
	}
	ev := sm.errorLines(errs)
	if !sameErrors(errs, otherErrs) {
		ev = append(ev, "as Rego "+otherVersion(info.Version)+":")
		ev = append(ev, sm.errorLines(otherErrs)...)
	}
	c.add(casebook.SeverityMajor, "O-002", "rego-parse-error", obj,
		fmt.Sprintf("%sdoes not parse as Rego %s (the template's version) or %s", what, info.Version, otherVersion(info.Version)),
		ev, "fix the syntax at the position shown; opa check reports the same")
	return nil
}

func definesRule(m *ast.Module, name string) bool {
	for _, r := range m.Rules {
		if string(r.Head.Name) == name {
			return true
		}
	}
	return false
}

func ruleNames(m *ast.Module) string {
	seen := map[string]bool{}
	for _, r := range m.Rules {
		n := string(r.Head.Name)
		if n == "" {
			n = r.Head.Ref().String()
		}
		seen[n] = true
	}
	if len(seen) == 0 {
		return "none"
	}
	return strings.Join(sortedKeys(seen), ", ")
}

func refersToInventory(m *ast.Module) bool {
	found := false
	for _, r := range m.Rules {
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if len(ref) >= 2 && ref[0].Equal(ast.DefaultRootDocument) && ref[1].Equal(ast.StringTerm("inventory")) {
				found = true
			}
			return found
		})
	}
	return found
}

// checkGatekeeperRefs applies frameworks' regorewriter rules (imports only
// from data.lib, data references only to data.lib and data.inventory) and
// flags input paths that Gatekeeper never sets: its input holds only
// review and parameters, so input.request... is always undefined and the
// rule silently never fires.
func (c *regoChecker) checkGatekeeperRefs(modules map[string]*ast.Module, maps map[string]sourceMap, obj casebook.ObjectRef) {
	var badImports, badData, badInput []string
	for _, name := range sortedModuleNames(modules) {
		m, sm := modules[name], maps[name]
		for _, imp := range m.Imports {
			ref, ok := imp.Path.Value.(ast.Ref)
			if ok && ref.HasPrefix(libPrefix) {
				continue
			}
			text := "import " + imp.Path.String()
			if imp.Path.Location != nil && len(imp.Path.Location.Text) > 0 {
				text = "import " + string(imp.Path.Location.Text) // as written: future.keywords.in
			}
			badImports = append(badImports, fmt.Sprintf("%s: %s: bad import", sm.pos(imp.Location.Row), text))
		}
		seen := map[string]bool{}
		for _, r := range m.Rules {
			ast.WalkRefs(r, func(ref ast.Ref) bool {
				if len(ref) < 2 || ref[0].Location == nil {
					return false
				}
				head := ref[0]
				key, isString := ref[1].Value.(ast.String)
				at := sm.pos(head.Location.Row)
				switch {
				case head.Equal(ast.DefaultRootDocument):
					if !isString || (key != "lib" && key != "inventory") {
						line := fmt.Sprintf("%s: disallowed ref %s", at, ref[:2])
						if !seen[line] {
							seen[line] = true
							badData = append(badData, line)
						}
					}
				case head.Equal(ast.InputRootDocument):
					if isString && key != "review" && key != "parameters" {
						line := fmt.Sprintf("%s: %s", at, ref)
						if !seen[line] {
							seen[line] = true
							badInput = append(badInput, line)
						}
					}
				}
				return false
			})
		}
	}
	if len(badImports) > 0 {
		c.add(casebook.SeverityMajor, "O-002", "bad-import", obj,
			"imports something other than data.lib: Gatekeeper rejects the template with \"invalid import: bad import\" (seen for future.keywords in gatekeeper#1827 and for rego.v1 in #3907)",
			badImports, `drop the import: a v0 template cannot use future keywords; on Gatekeeper 3.19+ use source.version: "v1" instead of import rego.v1`)
	}
	if len(badData) > 0 {
		c.add(casebook.SeverityMajor, "O-002", "disallowed-ref", obj,
			"refers to data outside data.lib and data.inventory: Gatekeeper rejects the template (\"disallowed ref\")",
			badData, "keep helpers in the template's libs (packages under lib) and referential data in data.inventory")
	}
	if len(badInput) > 0 {
		c.add(casebook.SeverityMajor, "O-002", "wrong-input-path", obj,
			"reads input paths Gatekeeper never sets (its input holds only review and parameters): those expressions are always undefined, so the rule silently never fires",
			badInput, "read the object under review from input.review.object (input.review.oldObject on UPDATE) and the constraint's parameters from input.parameters")
	}
}

func sortedModuleNames(modules map[string]*ast.Module) []string {
	set := map[string]bool{}
	for k := range modules {
		set[k] = true
	}
	return sortedKeys(set)
}
