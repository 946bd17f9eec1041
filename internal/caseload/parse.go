package caseload

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	casebook "github.com/casebook-dev/casebook"
)

// Problem is one thing wrong with a case file, located by file and line.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
	Warning bool   `json:"warning,omitempty"`
}

func (p Problem) Error() string {
	kind := ""
	if p.Warning {
		kind = "warning: "
	}
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s%s", p.File, p.Line, kind, p.Message)
	}
	return fmt.Sprintf("%s: %s%s", p.File, kind, p.Message)
}

// fence is a fenced code block in a case body.
type fence struct {
	Line int // file line of the opening fence
	Lang string
}

// parsed is a case file as the parser saw it: the case (nil when the front
// matter is unusable), what is wrong with it, and the facts lint needs.
type parsed struct {
	Name     string
	Case     *casebook.Case
	Problems []Problem
	Fences   []fence
	keyLines map[string]int
}

// frontMatter mirrors the YAML keys of a case file.
type frontMatter struct {
	ID          string            `yaml:"id"`
	Title       string            `yaml:"title"`
	TitleEN     string            `yaml:"title_en"`
	SummaryEN   string            `yaml:"summary_en"`
	Component   string            `yaml:"component"`
	Severity    string            `yaml:"severity"`
	Types       []string          `yaml:"types"`
	Environment map[string]string `yaml:"environment"`
	Signals     []yaml.Node       `yaml:"signals"`
	Related     []string          `yaml:"related"`
	References  []string          `yaml:"references"`
}

var (
	idPattern      = regexp.MustCompile(`^[WKONS]-\d{3}$`)
	yamlLineNumber = regexp.MustCompile(`line (\d+)`)
)

// minContentRunes is how much text, without white space, makes a section real content.
const minContentRunes = 40

// parseFile parses one case file. name is used in problems; placeholders maps
// a section title to the template's text for it, which does not count as content.
func parseFile(name string, data []byte, placeholders map[string]string) *parsed {
	p := &parsed{Name: name, keyLines: map[string]int{}}
	fail := func(line int, format string, args ...any) {
		p.Problems = append(p.Problems, Problem{File: name, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	if !utf8.Valid(data) {
		fail(invalidUTF8Line(data), "file is not valid UTF-8")
		return p
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	if !strings.HasPrefix(text, "---\n") {
		fail(1, "missing front matter: the file must start with a line \"---\"")
		return p
	}
	end := strings.Index(text[4:], "\n---\n")
	if end < 0 {
		if strings.HasSuffix(text[4:], "\n---") {
			end = len(text[4:]) - 4
		} else {
			fail(1, "front matter is not closed by a line \"---\"")
			return p
		}
	}
	yamlText := text[4 : 4+end+1]
	body := ""
	if rest := 4 + end + 5; rest <= len(text) {
		body = text[rest:]
	}
	bodyLine := strings.Count(text[:4+end+1], "\n") + 2

	var root yaml.Node
	if err := yaml.Unmarshal([]byte(yamlText), &root); err != nil {
		fail(yamlErrorLine(err), "malformed front matter: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return p
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		fail(2, "front matter must be a YAML mapping")
		return p
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		p.keyLines[m.Content[i].Value] = m.Content[i].Line + 1
	}
	var fm frontMatter
	if err := m.Decode(&fm); err != nil {
		fail(yamlErrorLine(err), "malformed front matter: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return p
	}

	c := &casebook.Case{
		ID: strings.TrimSpace(fm.ID), Title: strings.TrimSpace(fm.Title), TitleEN: strings.TrimSpace(fm.TitleEN),
		SummaryEN: strings.TrimSpace(fm.SummaryEN), Environment: fm.Environment, Related: fm.Related,
		References: fm.References, File: baseName(name), Body: body, BodyLine: bodyLine,
	}
	bad := false
	keyFail := func(key, format string, args ...any) {
		bad = true
		fail(p.line(key), format, args...)
	}
	switch {
	case c.ID == "":
		keyFail("id", "missing id")
	case !idPattern.MatchString(c.ID):
		keyFail("id", "id %q is not of the form W-001 (prefix W, K, O, N or S, then three digits)", c.ID)
	}
	if c.Title == "" {
		keyFail("title", "missing title")
	}
	if c.TitleEN == "" {
		keyFail("title_en", "missing title_en")
	}
	if fm.Component == "" {
		keyFail("component", "missing component")
	} else if comp, err := casebook.ParseComponent(fm.Component); err != nil || string(comp) != fm.Component {
		keyFail("component", "unknown component %q (want wasmedge, k3s, opa-gatekeeper, network or storage)", fm.Component)
	} else {
		c.Component = comp
		if idPattern.MatchString(c.ID) && c.ID[:1] != comp.Prefix() {
			keyFail("id", "id %s does not fit component %s (its IDs start with %s-)", c.ID, comp, comp.Prefix())
		}
	}
	if fm.Severity == "" {
		keyFail("severity", "missing severity")
	} else if sev, err := casebook.ParseSeverity(fm.Severity); err != nil {
		keyFail("severity", "%v", err)
	} else {
		c.Severity = sev
	}
	if len(fm.Types) == 0 {
		keyFail("types", "missing types: give at least one fault type")
	}
	for _, t := range fm.Types {
		ft, err := casebook.ParseFaultType(t)
		if err != nil {
			keyFail("types", "%v", err)
			continue
		}
		c.Types = append(c.Types, ft)
	}
	// Types read in the vocabulary's order, whatever order the file gives.
	sort.SliceStable(c.Types, func(i, j int) bool { return typeRank(c.Types[i]) < typeRank(c.Types[j]) })
	for _, n := range fm.Signals {
		sig, err := parseSignal(&n)
		if err != nil {
			bad = true
			fail(n.Line+1, "signal: %v", err)
			continue
		}
		c.Signals = append(c.Signals, sig)
	}
	if bad {
		return p
	}
	p.Case = c
	p.parseBody(name, placeholders)
	return p
}

func typeRank(t casebook.FaultType) int {
	for i, x := range casebook.FaultTypes {
		if x == t {
			return i
		}
	}
	return len(casebook.FaultTypes)
}

func (p *parsed) line(key string) int {
	if l, ok := p.keyLines[key]; ok {
		return l
	}
	return 1
}

// parseSignal reads one entry of signals: a plain string or {re: '...'}
// (the old forms, kept so a team's library still loads; lint asks for their
// provenance), or a mapping with text or re, source and versions.
func parseSignal(n *yaml.Node) (casebook.Signal, error) {
	sig := casebook.Signal{Line: n.Line + 1}
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.TrimSpace(n.Value) == "" {
			return sig, fmt.Errorf("empty signal")
		}
		sig.Literal = n.Value
		return sig, nil
	case yaml.MappingNode:
	default:
		return sig, fmt.Errorf("want a mapping {text or re, source, versions}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		scalar := func() (string, error) {
			if val.Kind != yaml.ScalarNode || strings.TrimSpace(val.Value) == "" {
				return "", fmt.Errorf("%s: want a non-empty string", key)
			}
			return val.Value, nil
		}
		var err error
		switch key {
		case "text":
			sig.Literal, err = scalar()
		case "re":
			sig.Pattern, err = scalar()
		case "versions":
			sig.Versions, err = scalar()
			sig.Versions = strings.TrimSpace(sig.Versions)
		case "note":
			sig.Note, err = scalar()
		case "source":
			sig.Sources, err = parseSources(val)
		default:
			err = fmt.Errorf("unknown key %q (want text or re, source, versions, note)", key)
		}
		if err != nil {
			return sig, err
		}
	}
	switch {
	case sig.Literal == "" && sig.Pattern == "":
		return sig, fmt.Errorf("give the signal as text: '...' or re: '...'")
	case sig.Literal != "" && sig.Pattern != "":
		return sig, fmt.Errorf("give either text or re, not both")
	}
	if sig.Pattern != "" {
		// Parsing is what can fail in compiling; the matcher compiles later.
		if _, err := syntax.Parse(sig.Pattern, syntax.Perl); err != nil {
			return sig, fmt.Errorf("bad regular expression %q: %v", sig.Pattern, err)
		}
	}
	return sig, nil
}

func parseSources(n *yaml.Node) ([]string, error) {
	var raw []string
	switch n.Kind {
	case yaml.ScalarNode:
		raw = []string{n.Value}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("source: want a string or a list of strings")
			}
			raw = append(raw, c.Value)
		}
	default:
		return nil, fmt.Errorf("source: want a string or a list of strings")
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		src, err := casebook.ParseSignalSource(r)
		if err != nil {
			return nil, err
		}
		out = append(out, src.String())
	}
	return out, nil
}

// parseBody splits the body into H2 sections, counts fenced code blocks and
// computes the status. It walks the body once and slices section texts out
// of it rather than copying line by line.
func (p *parsed) parseBody(name string, placeholders map[string]string) {
	c := p.Case
	body := c.Body
	var cur *casebook.Section
	curStart := 0
	flush := func(end int) {
		if cur != nil {
			cur.Text = strings.TrimSpace(body[curStart:end])
			c.Sections = append(c.Sections, *cur)
		}
	}
	var open string // the opening fence marker while inside a code block
	line := c.BodyLine
	for off := 0; off < len(body); line++ {
		end := strings.IndexByte(body[off:], '\n')
		if end < 0 {
			end = len(body)
		} else {
			end += off
		}
		ln := body[off:end]
		next := end + 1
		trimmed := strings.TrimSpace(ln)
		switch {
		case open != "":
			if strings.HasPrefix(trimmed, open) && strings.Trim(trimmed, open[:1]) == "" {
				open = ""
			}
		case fenceMarker(trimmed) != "":
			open = fenceMarker(trimmed)
			p.Fences = append(p.Fences, fence{Line: line, Lang: strings.TrimSpace(trimmed[len(open):])})
			if cur != nil {
				cur.CodeBlocks++
			}
		case strings.HasPrefix(ln, "## "):
			flush(off)
			cur = &casebook.Section{Title: strings.TrimSpace(ln[3:]), Line: line}
			curStart = min(next, len(body))
		}
		off = next
	}
	if open != "" {
		p.Problems = append(p.Problems, Problem{File: name, Line: p.Fences[len(p.Fences)-1].Line, Message: "code block is never closed"})
	}
	flush(len(body))
	c.Status = p.status(placeholders)
}

// fenceMarker returns the run of backticks or tildes that opens a fenced code block.
func fenceMarker(trimmed string) string {
	for _, ch := range []string{"`", "~"} {
		n := 0
		for n < len(trimmed) && trimmed[n] == ch[0] {
			n++
		}
		if n >= 3 {
			return trimmed[:n]
		}
	}
	return ""
}

// status computes 已完成 or 待补充: every required section present, in order,
// with real content; command blocks in 排查过程 and 验证结果; an English summary.
func (p *parsed) status(placeholders map[string]string) casebook.Status {
	c := p.Case
	if c.SummaryEN == "" {
		return casebook.StatusDraft
	}
	next := 0
	for _, s := range c.Sections {
		if next < len(casebook.RequiredSections) && s.Title == casebook.RequiredSections[next] {
			if !realContent(s.Text, placeholders[s.Title]) {
				return casebook.StatusDraft
			}
			if (s.Title == "排查过程" || s.Title == "验证结果") && s.CodeBlocks == 0 {
				return casebook.StatusDraft
			}
			next++
		}
	}
	if next < len(casebook.RequiredSections) {
		return casebook.StatusDraft
	}
	return casebook.StatusComplete
}

func realContent(text, placeholder string) bool {
	for _, marker := range placeholderMarkers {
		if strings.Contains(text, marker) {
			return false
		}
	}
	if placeholder != "" && len(text) <= 2*len(placeholder) && squash(text) == squash(placeholder) {
		return false
	}
	n := 0
	for _, r := range text {
		if !unicode.IsSpace(r) {
			if n++; n >= minContentRunes {
				return true
			}
		}
	}
	return false
}

func squash(s string) string { return strings.Join(strings.Fields(s), "") }

// placeholderMarkers make a section a placeholder wherever they appear.
var placeholderMarkers = []string{"待补充", "TODO", "TBD"}

func invalidUTF8Line(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return line
}

// yamlErrorLine turns yaml.v3's "line N" (counted from the front matter's
// first line) into a file line; the front matter starts on line 2.
// yaml.v3 numbers its parser errors ("did not find expected ...") from 0
// and its scanner errors from 1, so the former get one more.
func yamlErrorLine(err error) int {
	m := yamlLineNumber.FindStringSubmatch(err.Error())
	if m == nil {
		return 1
	}
	n, _ := strconv.Atoi(m[1])
	if strings.Contains(err.Error(), "did not find expected") {
		n++
	}
	return n + 1
}

func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}
