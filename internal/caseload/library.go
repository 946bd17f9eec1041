// Package caseload reads a case library from an fs.FS: it parses and
// validates case files, computes each case's status, lints the library and
// renders its index (cases/README.md).
package caseload

import (
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strings"
	"sync"

	casebook "github.com/casebook-dev/casebook"
)

// TemplateFile is the case template kept beside the cases; it is not a case.
const TemplateFile = "TEMPLATE.md"

// IndexFile is the generated index of the library; it is not a case.
const IndexFile = "README.md"

// Library is a loaded set of cases, ordered as the seed orders them
// (by component, then by ID).
type Library struct {
	Cases    []*casebook.Case
	Problems []Problem
	byID     map[string]*casebook.Case
}

// Load reads every case file (*.md but the template and the index) at the
// root of fsys. prefix is put before file names in problems ("cases/").
// A file that cannot be read or whose front matter is unusable is reported
// and left out; the rest of the library still loads. Duplicate IDs keep the
// first file and report the others.
func Load(fsys fs.FS, prefix string) (*Library, error) {
	lib, _, err := load(fsys, prefix)
	return lib, err
}

// load is Load that also returns every parsed file, for lint.
func load(fsys fs.FS, prefix string) (*Library, []*parsed, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("read case library: %w", err)
	}
	placeholders := templateSections(fsys)
	var names []string
	var skipped []Problem
	for _, e := range entries {
		if !isCaseFile(e) {
			continue
		}
		// A FIFO or device named *.md would block the read forever: read
		// only regular files (a link is followed and judged by its target).
		if t := e.Type(); t&fs.ModeSymlink != 0 {
			if fi, err := fs.Stat(fsys, e.Name()); err != nil || !fi.Mode().IsRegular() {
				skipped = append(skipped, Problem{File: prefix + e.Name(), Message: "not a regular file: skipped"})
				continue
			}
		} else if t&fs.ModeType != 0 {
			skipped = append(skipped, Problem{File: prefix + e.Name(), Message: "not a regular file: skipped"})
			continue
		}
		names = append(names, e.Name())
	}
	// Files parse independently; spread them over the CPUs.
	files := make([]*parsed, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			name := prefix + n
			data, err := fs.ReadFile(fsys, n)
			if err != nil {
				files[i] = &parsed{Name: name, Problems: []Problem{{File: name, Message: fmt.Sprintf("cannot read: %v", err)}}}
				return
			}
			files[i] = parseFile(name, data, placeholders)
		}()
	}
	wg.Wait()

	lib := &Library{byID: map[string]*casebook.Case{}, Problems: skipped}
	firstFile := map[string]string{}
	for _, p := range files {
		lib.Problems = append(lib.Problems, p.Problems...)
		if p.Case == nil {
			continue
		}
		if first, dup := firstFile[p.Case.ID]; dup {
			lib.Problems = append(lib.Problems, Problem{File: p.Name, Line: p.line("id"),
				Message: fmt.Sprintf("duplicate id %s: already used by %s", p.Case.ID, first)})
			continue
		}
		firstFile[p.Case.ID] = p.Name
		lib.byID[p.Case.ID] = p.Case
		lib.Cases = append(lib.Cases, p.Case)
	}
	sort.SliceStable(lib.Cases, func(i, j int) bool { return caseLess(lib.Cases[i], lib.Cases[j]) })
	return lib, files, nil
}

func isCaseFile(e fs.DirEntry) bool {
	return !e.IsDir() && strings.HasSuffix(e.Name(), ".md") && e.Name() != TemplateFile && e.Name() != IndexFile
}

// caseLess orders by the seed's component order, then by ID.
func caseLess(a, b *casebook.Case) bool {
	ra, rb := componentRank(a.Component), componentRank(b.Component)
	if ra != rb {
		return ra < rb
	}
	return a.ID < b.ID
}

func componentRank(c casebook.Component) int {
	for i, x := range casebook.Components {
		if x == c {
			return i
		}
	}
	return len(casebook.Components)
}

// templateSections returns the template's section texts, which are
// placeholders wherever they are copied unchanged.
func templateSections(fsys fs.FS) map[string]string {
	data, err := fs.ReadFile(fsys, TemplateFile)
	if err != nil {
		return nil
	}
	p := parseFile(TemplateFile, data, nil)
	if p.Case == nil {
		return nil
	}
	out := map[string]string{}
	for _, s := range p.Case.Sections {
		out[s.Title] = s.Text
	}
	return out
}

// Get returns the case with the given ID, case-insensitively.
func (l *Library) Get(id string) (*casebook.Case, bool) {
	c, ok := l.byID[strings.ToUpper(strings.TrimSpace(id))]
	return c, ok
}

// Suggest returns the known ID closest to id, for "did you mean" hints.
func (l *Library) Suggest(id string) string {
	id = strings.ToUpper(strings.TrimSpace(id))
	best, bestD := "", 1<<30
	for _, c := range l.Cases {
		d := editDistance(id, c.ID)
		if d < bestD || (d == bestD && c.ID < best) {
			best, bestD = c.ID, d
		}
	}
	if bestD > 3 {
		return ""
	}
	return best
}

// Filter selects cases. Zero fields select everything.
type Filter struct {
	Component casebook.Component
	Severity  casebook.Severity
	Type      casebook.FaultType
	Status    casebook.Status
}

// Match reports whether c passes the filter.
func (f Filter) Match(c *casebook.Case) bool {
	return (f.Component == "" || c.Component == f.Component) &&
		(f.Severity == "" || c.Severity == f.Severity) &&
		(f.Type == "" || c.HasType(f.Type)) &&
		(f.Status == "" || c.Status == f.Status)
}

// Select returns the cases that pass f, in library order.
func (l *Library) Select(f Filter) []*casebook.Case {
	var out []*casebook.Case
	for _, c := range l.Cases {
		if f.Match(c) {
			out = append(out, c)
		}
	}
	return out
}

// MarkDetected records which cases have a detector.
func (l *Library) MarkDetected(ids []string) {
	for _, id := range ids {
		if c, ok := l.byID[id]; ok {
			c.Detected = true
		}
	}
}

// NextID returns the first free ID for a component.
func (l *Library) NextID(comp casebook.Component) string {
	for n := 1; ; n++ {
		id := fmt.Sprintf("%s-%03d", comp.Prefix(), n)
		if _, used := l.byID[id]; !used {
			return id
		}
	}
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
