package caseload

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"mvdan.cc/sh/v3/syntax"

	casebook "github.com/casebook-dev/casebook"
)

// A Command is one simple command found in a case's shell block: its words
// as the shell would see them after quote removal (a word that holds an
// expansion keeps its literal parts and is marked dynamic).
type Command struct {
	File string
	Line int
	Args []string
	// Dynamic[i] is true when Args[i] holds a parameter or command
	// expansion, so its exact value is not known.
	Dynamic []bool
}

func (c Command) String() string { return strings.Join(c.Args, " ") }

// ExtractCommands parses every shell block of the case — ```bash, ```sh and
// ```shell blocks whole, ```console blocks from their "$ " prompt lines — with
// a real shell parser and returns each simple command in it, including
// those in pipes, lists, loops, subshells and command substitutions. A block
// that is not valid shell is a problem at its line.
func ExtractCommands(c *casebook.Case) ([]Command, []Problem) {
	var cmds []Command
	var problems []Problem
	funcs := map[string]bool{} // shell functions the case defines
	lines := strings.Split(c.Body, "\n")
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		fence := fenceMarker(trimmed)
		if fence == "" {
			continue
		}
		lang := strings.Fields(strings.TrimPrefix(trimmed, fence) + " ")
		start := i + 1
		j := start
		for j < len(lines) && !(strings.HasPrefix(strings.TrimSpace(lines[j]), fence) && strings.Trim(strings.TrimSpace(lines[j]), fence[:1]) == "") {
			j++
		}
		// A block indented under a list item loses that indentation, as
		// Markdown reads it, so heredoc delimiters stand at the line start.
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		block := make([]string, 0, j-start)
		for _, l := range lines[start:min(j, len(lines))] {
			k := 0
			for k < indent && k < len(l) && l[k] == ' ' {
				k++
			}
			block = append(block, l[k:])
		}
		i = j
		if len(lang) == 0 {
			continue
		}
		var script string
		var lineMap []int // script line (0-based) -> body line index
		switch lang[0] {
		case "bash", "sh", "shell":
			script = strings.Join(block, "\n")
			for k := range block {
				lineMap = append(lineMap, start+k)
			}
		case "console":
			var b strings.Builder
			for k := 0; k < len(block); k++ {
				l := strings.TrimLeft(block[k], " ")
				if !strings.HasPrefix(l, "$ ") {
					continue
				}
				b.WriteString(l[2:] + "\n")
				lineMap = append(lineMap, start+k)
				// A command continued with a trailing backslash, or an open
				// heredoc, goes on without a prompt.
				delim := ""
				if m := heredocStart.FindStringSubmatch(l); m != nil {
					delim = m[1]
				}
				for k+1 < len(block) && (strings.HasSuffix(strings.TrimSpace(l), "\\") || delim != "") {
					k++
					l = block[k]
					b.WriteString(l + "\n")
					lineMap = append(lineMap, start+k)
					if delim != "" && strings.TrimSpace(l) == delim {
						delim = ""
						if m := heredocStart.FindStringSubmatch(l); m != nil {
							delim = m[1]
						}
					}
				}
			}
			script = b.String()
		default:
			continue
		}
		bodyLine := func(scriptLine uint) int {
			idx := int(scriptLine) - 1
			if idx < 0 || idx >= len(lineMap) {
				idx = 0
			}
			if len(lineMap) == 0 {
				return c.BodyLine + start
			}
			return c.BodyLine + lineMap[idx]
		}
		// <pod-name> is the documentation's placeholder, not a redirection.
		script = placeholder.ReplaceAllString(script, "PLACEHOLDER_$1")
		f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(script), c.File)
		if err != nil {
			line := bodyLine(1)
			if pe, ok := err.(syntax.ParseError); ok {
				line = bodyLine(pe.Pos.Line())
			}
			problems = append(problems, Problem{File: c.File, Line: line, Message: fmt.Sprintf("shell block does not parse: %v", err)})
			continue
		}
		syntax.Walk(f, func(n syntax.Node) bool {
			if fd, ok := n.(*syntax.FuncDecl); ok {
				funcs[fd.Name.Value] = true
			}
			call, ok := n.(*syntax.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			cmd := Command{File: c.File, Line: bodyLine(call.Pos().Line())}
			for _, w := range call.Args {
				lit, dyn := wordText(w)
				cmd.Args = append(cmd.Args, lit)
				cmd.Dynamic = append(cmd.Dynamic, dyn)
			}
			cmds = append(cmds, cmd)
			return true
		})
	}
	// A call of a function the case defines is not a tool; the commands in
	// the function's body are checked where it is declared.
	kept := cmds[:0]
	for _, cmd := range cmds {
		if !funcs[cmd.Args[0]] {
			kept = append(kept, cmd)
		}
	}
	return kept, problems
}

var (
	heredocStart = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)['"]?`)
	placeholder  = regexp.MustCompile(`<([A-Za-z][A-Za-z0-9_.:-]*)>`)
)

// wordText returns a word after quote removal; expansions become "$…" and
// mark the word dynamic.
func wordText(w *syntax.Word) (string, bool) {
	var b strings.Builder
	dyn := false
	var parts func([]syntax.WordPart)
	parts = func(ps []syntax.WordPart) {
		for _, p := range ps {
			switch x := p.(type) {
			case *syntax.Lit:
				if strings.Contains(x.Value, "PLACEHOLDER_") {
					dyn = true
				}
				b.WriteString(x.Value)
			case *syntax.SglQuoted:
				b.WriteString(x.Value)
			case *syntax.DblQuoted:
				parts(x.Parts)
			default:
				dyn = true
				b.WriteString("$…")
			}
		}
	}
	parts(w.Parts)
	return b.String(), dyn
}

// CommandSpec is what a tool accepts: its subcommands and flags, taken from
// the tool's own command definitions or --help text at a stated version.
type CommandSpec struct {
	Tool   string `json:"tool" yaml:"tool"`
	Source string `json:"source" yaml:"source"`
	// SingleDashLong: long options take one dash (openssl -noout, find -name).
	SingleDashLong bool         `json:"single_dash_long,omitempty" yaml:"single_dash_long,omitempty"`
	Root           *SpecCommand `json:"root" yaml:"root"`
}

// SpecCommand is one command of a tool's tree.
type SpecCommand struct {
	Flags    []SpecFlag              `json:"flags,omitempty" yaml:"flags,omitempty"`
	Commands map[string]*SpecCommand `json:"commands,omitempty" yaml:"commands,omitempty"`
	Aliases  []string                `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	// AnyArgs: the command's arguments are not checked (a free-form
	// expression, a script's own arguments).
	AnyArgs bool `json:"any_args,omitempty" yaml:"any_args,omitempty"`
	// FirstPositionalEnds: the first plain word that is not a subcommand
	// (wasmedge's module file) ends the command's own arguments; the rest
	// belong to what it runs.
	FirstPositionalEnds bool `json:"first_positional_ends,omitempty" yaml:"first_positional_ends,omitempty"`
	// Delegate names the tool that receives the rest of the arguments
	// (k3s kubectl …, k3s crictl …).
	Delegate string `json:"delegate,omitempty" yaml:"delegate,omitempty"`
}

// SpecFlag is one flag. In YAML specs it is written compactly as
// "-n/--namespace=" (= takes a value, =? an optional value given with =).
type SpecFlag struct {
	Name      string `json:"name"`
	Short     string `json:"short,omitempty"`
	TakesArg  bool   `json:"takes_arg,omitempty"`
	Optional  bool   `json:"optional,omitempty"`
	Inherited bool   `json:"inherited,omitempty"`
}

// UnmarshalYAML reads the compact form "-n/--namespace=", "--since=",
// "-f", "--boot=?", with "^" before it for a flag inherited by subcommands.
func (f *SpecFlag) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: flag: want a string like \"-n/--namespace=\"", n.Line)
	}
	s := n.Value
	if strings.HasPrefix(s, "^") {
		f.Inherited, s = true, s[1:]
	}
	switch {
	case strings.HasSuffix(s, "=?"):
		f.TakesArg, f.Optional, s = true, true, strings.TrimSuffix(s, "=?")
	case strings.HasSuffix(s, "="):
		f.TakesArg, s = true, strings.TrimSuffix(s, "=")
	}
	for _, part := range strings.Split(s, "/") {
		switch {
		case strings.HasPrefix(part, "--"):
			f.Name = part[2:]
		case strings.HasPrefix(part, "-") && len(part) == 2:
			f.Short = part[1:]
		case strings.HasPrefix(part, "-"):
			f.Name = part[1:] // a single-dash long option
		default:
			return fmt.Errorf("line %d: flag %q: each part starts with - or --", n.Line, n.Value)
		}
	}
	return nil
}

// LoadCommandSpecs reads every *.json and *.yaml spec in dir of fsys.
func LoadCommandSpecs(fsys fs.FS, dir string) (map[string]*CommandSpec, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	specs := map[string]*CommandSpec{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := path.Join(dir, e.Name())
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var s CommandSpec
		switch path.Ext(name) {
		case ".json":
			err = json.Unmarshal(data, &s)
		case ".yaml":
			err = yaml.Unmarshal(data, &s)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if s.Tool == "" || s.Source == "" || s.Root == nil {
			return nil, fmt.Errorf("%s: a spec needs tool, source and root", name)
		}
		specs[s.Tool] = &s
	}
	return specs, nil
}

// CommandChecker checks commands against the tools' specs.
type CommandChecker struct {
	Specs map[string]*CommandSpec
	// Free are commands whose arguments are not checked (shell built-ins
	// and text utilities: echo, grep, awk …).
	Free map[string]bool
	// Wrappers run another command after their own flags (sudo, timeout…):
	// the value is how many plain arguments precede the wrapped command.
	Wrappers map[string]int
}

// Check returns a problem for each command whose name, subcommand or flag
// the specs do not know.
func (cc *CommandChecker) Check(cmd Command) []string {
	args, dyn := cmd.Args, cmd.Dynamic
	// Leading assignments are parsed apart by the shell parser; wrappers are
	// unwrapped so the command they run is checked.
	for len(args) > 0 {
		name := path.Base(args[0])
		n, ok := cc.Wrappers[name]
		if !ok {
			break
		}
		i := 1
		for i < len(args) && (strings.HasPrefix(args[i], "-") || strings.Contains(args[i], "=")) {
			i++
		}
		i += n
		if i >= len(args) {
			return nil
		}
		args, dyn = args[i:], dyn[i:]
	}
	if len(args) == 0 || dyn[0] {
		return nil
	}
	name := args[0]
	if strings.Contains(name, "/") {
		name = path.Base(name)
	}
	if cc.Free[name] {
		return nil
	}
	spec, ok := cc.Specs[name]
	if !ok {
		return []string{fmt.Sprintf("command %q is not in the allow-list (internal/caseload/testdata/commands)", name)}
	}
	return cc.checkArgs(spec, args[1:], dyn[1:])
}

func (cc *CommandChecker) checkArgs(s *CommandSpec, args []string, dyn []bool) []string {
	node := s.Root
	pathNames := []string{s.Tool}
	flags := map[string]SpecFlag{}
	addFlags := func(c *SpecCommand, all bool) {
		for _, f := range c.Flags {
			if all || f.Inherited {
				if f.Name != "" {
					flags["--"+f.Name] = f
				}
				if f.Short != "" {
					flags["-"+f.Short] = f
				}
			}
		}
	}
	local := func() map[string]SpecFlag {
		m := map[string]SpecFlag{}
		for k, v := range flags {
			m[k] = v
		}
		for _, f := range node.Flags {
			if f.Name != "" {
				m["--"+f.Name] = f
			}
			if f.Short != "" {
				m["-"+f.Short] = f
			}
		}
		return m
	}
	var problems []string
	cur := local()
	// Every cobra and urfave/cli command answers --help.
	help := func() { cur["--help"], cur["-h"] = SpecFlag{Name: "help"}, SpecFlag{Name: "help", Short: "h"} }
	help()
	positional := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if node.AnyArgs {
			return problems
		}
		if node.Delegate != "" {
			d, ok := cc.Specs[node.Delegate]
			if !ok {
				return append(problems, fmt.Sprintf("%s passes its arguments to %s, which has no spec", strings.Join(pathNames, " "), node.Delegate))
			}
			return append(problems, cc.checkArgs(d, args[i:], dyn[i:])...)
		}
		switch {
		case a == "--":
			positional = true
		case positional || dyn[i] || a == "-" || !strings.HasPrefix(a, "-") || isNumber(a):
			if node.FirstPositionalEnds && (dyn[i] || node.find(a) == nil) {
				return problems
			}
			if !positional && !dyn[i] && len(node.Commands) > 0 {
				sub := node.find(a)
				if sub == nil {
					problems = append(problems, fmt.Sprintf("%s: unknown subcommand %q", strings.Join(pathNames, " "), a))
					return problems
				}
				addFlags(node, false)
				node = sub
				pathNames = append(pathNames, a)
				cur = local()
				help()
				continue
			}
		default:
			name, value, hasValue := strings.Cut(a, "=")
			if s.SingleDashLong && !strings.HasPrefix(name, "--") {
				name = "-" + name
			}
			if !strings.HasPrefix(name, "--") && len(name) > 2 {
				// Combined short flags (-it, -xvf); a flag that takes a value
				// takes the rest of the word.
				for k := 1; k < len(name); k++ {
					f, ok := cur["-"+name[k:k+1]]
					if !ok {
						problems = append(problems, fmt.Sprintf("%s: unknown flag -%s in %q", strings.Join(pathNames, " "), name[k:k+1], a))
						break
					}
					if f.TakesArg {
						if k == len(name)-1 && !hasValue && !f.Optional {
							i++
						}
						break
					}
				}
				continue
			}
			f, ok := cur[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: unknown flag %s", strings.Join(pathNames, " "), name))
				continue
			}
			if f.TakesArg && !hasValue && !f.Optional {
				i++ // the value is the next word
			}
			_ = value
		}
	}
	return problems
}

func (c *SpecCommand) find(name string) *SpecCommand {
	if sub, ok := c.Commands[name]; ok {
		return sub
	}
	for _, sub := range c.Commands {
		for _, a := range sub.Aliases {
			if a == name {
				return sub
			}
		}
	}
	return nil
}

func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// SortedTools lists the tools the specs cover.
func SortedTools(specs map[string]*CommandSpec) []string {
	var out []string
	for k := range specs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
