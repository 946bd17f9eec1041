package report

import (
	"strings"

	casebook "github.com/casebook-dev/casebook"
)

// RepositoryURL is where the case files are published; SARIF rules and the
// HTML report link each case to its file there.
const RepositoryURL = "https://github.com/casebook-dev/casebook"

// Meta is what the reports for CI and tickets (SARIF, JUnit, HTML) need
// beyond the report itself: the language, the tool's version and the
// cases, for their titles, descriptions and links.
type Meta struct {
	Lang Lang
	// Version is casebook's version, as `casebook version` shows it.
	Version string
	// Command names the run in JUnit's test suite; "casebook diagnose"
	// when empty.
	Command string
	// Locate gives the file and line an object was read from, for SARIF's
	// physical locations; nil, or a "" path, for objects that are not in
	// a file (a live cluster's), which SARIF then places at a path named
	// after the object.
	Locate func(o casebook.ObjectRef) (path string, line int)
	// Subjects, when set, are the things checked (the policy files and
	// templates of check rego, the module of inspect wasm): JUnit then has
	// one test case per subject instead of one per detector.
	Subjects []casebook.ObjectRef
	// Case looks a case up in the library; nil leaves out what only the
	// library knows (descriptions, file links).
	Case func(id string) (*casebook.Case, bool)
}

func (m Meta) lang() Lang {
	if m.Lang == EN {
		return EN
	}
	return ZH
}

func (m Meta) lookup(id string) *casebook.Case {
	if m.Case == nil {
		return nil
	}
	c, ok := m.Case(id)
	if !ok {
		return nil
	}
	return c
}

// caseURL links a case to its file in the repository, or to the case
// folder when the file is not known.
func (m Meta) caseURL(id string) string {
	if c := m.lookup(id); c != nil && c.File != "" {
		return RepositoryURL + "/blob/main/cases/" + c.File
	}
	return RepositoryURL + "/tree/main/cases"
}

// caseTitle is a case's title in the language, from the report or else the
// library; the case ID when neither knows it.
func (m Meta) caseTitle(d *casebook.Report, id string) string {
	t := d.Cases[id]
	if t.Title == "" && t.TitleEN == "" {
		if c := m.lookup(id); c != nil {
			t = casebook.CaseTitle{Title: c.Title, TitleEN: c.TitleEN}
		}
	}
	if m.lang() == EN && t.TitleEN != "" {
		return t.TitleEN
	}
	if t.Title != "" {
		return t.Title
	}
	if t.TitleEN != "" {
		return t.TitleEN
	}
	return id
}

// caseDescription is a case's longer description in the language: the
// English summary, or the first paragraph of its fault description.
func (m Meta) caseDescription(id string) string {
	c := m.lookup(id)
	if c == nil {
		return ""
	}
	if m.lang() == EN && c.SummaryEN != "" {
		return c.SummaryEN
	}
	if s := c.Section("故障描述"); s != nil {
		if p := firstParagraph(s.Text); p != "" {
			return p
		}
	}
	return c.SummaryEN
}

// firstParagraph is the first paragraph of prose in Markdown text: no
// headings, lists, tables or code.
func firstParagraph(md string) string {
	var lines []string
	inCode := false
	for _, l := range strings.Split(md, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		prose := t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "|") &&
			!strings.HasPrefix(t, "- ") && !strings.HasPrefix(t, "* ") && !strings.HasPrefix(t, ">")
		if prose {
			lines = append(lines, t)
		} else if len(lines) > 0 {
			break
		}
	}
	return strings.Join(lines, " ")
}

// byFindingID indexes a report's findings by ID, for the links.
func byFindingID(d *casebook.Report) map[string]casebook.Finding {
	m := make(map[string]casebook.Finding, len(d.Findings))
	for _, f := range d.Findings {
		m[f.ID] = f
	}
	return m
}

// qualifiedName names an object as the CI formats locate it:
// "namespace/Kind/name", or "Kind/name" for a cluster-scoped object.
func qualifiedName(o casebook.ObjectRef) string {
	if o.Name == "" {
		return o.Kind
	}
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Namespace + "/" + o.Kind + "/" + o.Name
}
