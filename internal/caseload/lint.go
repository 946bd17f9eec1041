package caseload

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"

	casebook "github.com/casebook-dev/casebook"
)

var fileNamePattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*\.md$`)

// Lint checks every case file at the root of fsys and returns the problems,
// sorted by file and line. It checks all that Load checks, and also: file
// names (the seed's link names for the seed's cases), titles and severities
// against the seed, required sections present and in order, unknown
// sections, fenced code blocks without a language, relative links that do
// not resolve and related IDs that do not exist. It also returns the
// library as Load reads it.
func Lint(fsys fs.FS, prefix string) ([]Problem, *Library, error) {
	return LintContext(context.Background(), fsys, prefix)
}

// LintContext is Lint that stops between files when ctx ends, with its
// error.
func LintContext(ctx context.Context, fsys fs.FS, prefix string) ([]Problem, *Library, error) {
	lib, files, err := load(fsys, prefix)
	if err != nil {
		return nil, nil, err
	}
	problems := append([]Problem(nil), lib.Problems...)
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if p.Case == nil {
			continue
		}
		problems = append(problems, lintFile(fsys, lib, p)...)
	}
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].File != problems[j].File {
			return problems[i].File < problems[j].File
		}
		return problems[i].Line < problems[j].Line
	})
	return problems, lib, nil
}

func lintFile(fsys fs.FS, lib *Library, p *parsed) []Problem {
	c := p.Case
	var out []Problem
	add := func(line int, warning bool, format string, args ...any) {
		out = append(out, Problem{File: p.Name, Line: line, Message: fmt.Sprintf(format, args...), Warning: warning})
	}

	if s, ok := seedByID(c.ID); ok {
		if c.File != s.File {
			add(1, false, "file name %s does not match the seed's link for %s: %s", c.File, c.ID, s.File)
		}
		if c.Title != s.Title {
			add(p.line("title"), false, "title %q differs from the seed's title for %s: %q", c.Title, c.ID, s.Title)
		}
		if c.Severity != s.Severity {
			add(p.line("severity"), false, "severity %s differs from the seed's %s (%s) for %s", c.Severity, s.Severity, s.Severity.Label(), c.ID)
		}
	} else if !fileNamePattern.MatchString(c.File) {
		add(1, false, "file name %s: use lower-case words joined by hyphens, ending in .md", c.File)
	}

	for _, id := range c.Related {
		if _, ok := lib.Get(id); !ok {
			add(p.line("related"), false, "related case %s does not exist", id)
		} else if id == c.ID {
			add(p.line("related"), false, "a case cannot be related to itself")
		}
	}
	for _, r := range c.References {
		if u, err := url.Parse(r); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
			add(p.line("references"), false, "reference %q is not an http(s) URL", r)
		}
	}

	for _, sig := range c.Signals {
		if len(sig.Sources) == 0 {
			add(sig.Line, false, "signal %q has no source: give source: owner/repo@ref:path#Lnn of the code that emits it, or the https URL of an official doc that quotes it", short(sig.String()))
		}
		if sig.Versions == "" {
			add(sig.Line, false, "signal %q has no versions: name the product and the versions the text holds for", short(sig.String()))
		}
	}

	out = append(out, lintSections(p)...)
	for _, f := range p.Fences {
		if f.Lang == "" {
			add(f.Line, false, "fenced code block without a language (```bash, ```yaml, ```text, ...)")
		}
	}
	for _, l := range relativeLinks(c) {
		target := path.Clean(l.dest)
		if _, err := fs.Stat(fsys, target); err != nil {
			add(l.line, false, "link %q does not resolve to a file in the library", l.dest)
		}
	}
	return out
}

// lintSections checks that the required sections are there, in order, and
// that every H2 is a known section. A section is out of order when it is not
// part of the longest run of sections that is in order, so one misplaced
// section is reported once, not every section after it.
func lintSections(p *parsed) []Problem {
	c := p.Case
	var out []Problem
	add := func(line int, format string, args ...any) {
		out = append(out, Problem{File: p.Name, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	order := map[string]int{}
	for i, s := range casebook.KnownSections {
		order[s] = i
	}
	var known []casebook.Section
	seen := map[string]bool{}
	for _, s := range c.Sections {
		switch _, ok := order[s.Title]; {
		case !ok:
			add(s.Line, "unknown section %q (sections are: %s)", s.Title, strings.Join(casebook.KnownSections, ", "))
		case seen[s.Title]:
			add(s.Line, "section %q appears twice", s.Title)
		default:
			known = append(known, s)
		}
		seen[s.Title] = true
	}
	inOrder := longestInOrder(known, order)
	for i, s := range known {
		if !inOrder[i] {
			add(s.Line, "section %q is out of order (order: %s)", s.Title, strings.Join(casebook.KnownSections, ", "))
		}
	}
	endLine := c.BodyLine + strings.Count(strings.TrimRight(c.Body, "\n"), "\n")
	for _, req := range casebook.RequiredSections {
		if seen[req] {
			continue
		}
		// Point at the section it should come before.
		line := endLine
		for i, s := range known {
			if inOrder[i] && order[s.Title] > order[req] {
				line = s.Line
				break
			}
		}
		add(line, "missing required section \"## %s\"", req)
	}
	return out
}

// longestInOrder marks the sections that form the longest subsequence in
// the canonical order.
func longestInOrder(secs []casebook.Section, order map[string]int) []bool {
	n := len(secs)
	length, prev := make([]int, n), make([]int, n)
	best := -1
	for i := range secs {
		length[i], prev[i] = 1, -1
		for j := 0; j < i; j++ {
			if order[secs[j].Title] < order[secs[i].Title] && length[j]+1 > length[i] {
				length[i], prev[i] = length[j]+1, j
			}
		}
		if best < 0 || length[i] > length[best] {
			best = i
		}
	}
	marks := make([]bool, n)
	for i := best; i >= 0; i = prev[i] {
		marks[i] = true
	}
	return marks
}

type link struct {
	dest string
	line int
}

// relativeLinks returns the links of a case body that point inside the
// library (no scheme, no leading slash, not a bare #anchor).
func relativeLinks(c *casebook.Case) []link {
	src := []byte(c.Body)
	doc := goldmark.DefaultParser().Parse(text.NewReader(src))
	lines := newLineIndex(src)
	var out []link
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest string
		switch l := n.(type) {
		case *ast.Link:
			dest = string(l.Destination)
		case *ast.Image:
			dest = string(l.Destination)
		default:
			return ast.WalkContinue, nil
		}
		u, err := url.Parse(dest)
		if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" || strings.HasPrefix(u.Path, "/") {
			return ast.WalkContinue, nil
		}
		out = append(out, link{dest: u.Path, line: c.BodyLine + lines.nodeLine(n)})
		return ast.WalkContinue, nil
	})
	return out
}

// lineIndex finds the line of a byte offset by binary search over the
// line starts, so that the lines of n links cost n·log(lines), where
// counting newlines up to each link cost n·size (400,000 links: 210 s).
type lineIndex []int

func newLineIndex(src []byte) lineIndex {
	starts := lineIndex{0}
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// line returns the 0-based line of offset.
func (ix lineIndex) line(offset int) int {
	return sort.SearchInts(ix, offset+1) - 1
}

// nodeLine finds the body line (0-based) of an inline node through its
// nearest block ancestor's first line.
func (ix lineIndex) nodeLine(n ast.Node) int {
	for b := n; b != nil; b = b.Parent() {
		if b.Type() == ast.TypeBlock && b.Lines().Len() > 0 {
			return ix.line(b.Lines().At(0).Start)
		}
	}
	return 0
}

// short cuts a signal for a problem message.
func short(s string) string {
	if r := []rune(s); len(r) > 60 {
		return string(r[:57]) + "..."
	}
	return s
}
