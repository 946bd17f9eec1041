package report

import (
	"fmt"
	"io"
	"strings"

	casebook "github.com/casebook-dev/casebook"
)

// caseGroup is the findings of one case, in report order.
type caseGroup struct {
	id       string
	severity casebook.Severity
	findings []casebook.Finding
}

func groups(d *casebook.Report) []caseGroup {
	var out []caseGroup
	index := map[string]int{}
	for _, f := range d.Findings {
		if len(f.CausedBy) > 0 {
			continue // shown under its root cause
		}
		i, ok := index[f.CaseID]
		if !ok {
			i = len(out)
			index[f.CaseID] = i
			out = append(out, caseGroup{id: f.CaseID, severity: f.Severity})
		}
		out[i].findings = append(out[i].findings, f)
	}
	return out
}

// ANSI styles for the table, used only when colour is on.
const (
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiGreen  = "\x1b[32m"
	ansiReset  = "\x1b[0m"
)

type painter bool

func (p painter) paint(style, s string) string {
	if !p || s == "" {
		return s
	}
	return style + s + ansiReset
}

func (p painter) severity(s casebook.Severity, text string) string {
	switch s {
	case casebook.SeverityCritical:
		return p.paint(ansiBold+ansiRed, text)
	case casebook.SeverityMajor:
		return p.paint(ansiBold+ansiYellow, text)
	case casebook.SeverityMinor:
		return p.paint(ansiBold+ansiCyan, text)
	}
	return p.paint(ansiBold, text)
}

func severityLabel(s casebook.Severity) string {
	if s.Valid() {
		return s.Label() + " " + string(s)
	}
	return "unknown"
}

// Limits of the table, which is for reading; JSON and YAML carry everything.
const (
	tableMaxObjects  = 8
	tableMaxEvidence = 6
)

// Lang is the language findings are told in: "zh" or "en".
type Lang string

// The languages of the report.
const (
	ZH Lang = "zh"
	EN Lang = "en"
)

// ParseLang accepts zh or en, and a locale such as zh_CN.UTF-8 or en_US.
func ParseLang(s string) (Lang, bool) {
	switch l := strings.ToLower(s); {
	case l == "zh" || strings.HasPrefix(l, "zh_") || strings.HasPrefix(l, "zh-"):
		return ZH, true
	case l == "en" || strings.HasPrefix(l, "en_") || strings.HasPrefix(l, "en-") || l == "c" || l == "posix" || strings.HasPrefix(l, "c."):
		return EN, true
	}
	return "", false
}

// message returns a finding's message in the language, falling back to
// English where there is no Chinese one.
func message(f casebook.Finding, l Lang) string {
	if l == ZH && f.MessageZH != "" {
		return f.MessageZH
	}
	return f.Message
}

// FindingsTable renders a report for a terminal in English; see DiagnoseTable.
func FindingsTable(w io.Writer, d *casebook.Report, color bool) error {
	return DiagnoseTable(w, d, color, EN)
}

// DiagnoseTable renders a diagnosis for a terminal: one block per case, most
// severe first, each finding in the language with its objects, its
// evidence and its next steps, then the warnings, a summary and "casebook
// show" hints. color turns on ANSI colours (severity only, and emphasis).
func DiagnoseTable(w io.Writer, d *casebook.Report, color bool, lang Lang) error {
	p := painter(color)
	byID := map[string]casebook.Finding{}
	for _, f := range d.Findings {
		byID[f.ID] = f
	}
	var b strings.Builder
	if len(d.Findings) == 0 {
		fmt.Fprintf(&b, "%s No known case found in %s.\n", p.paint(ansiGreen, "✓"), d.Source)
	}
	for _, g := range groups(d) {
		title := d.Cases[g.id]
		head := g.id
		if title.Title != "" {
			head += "  " + title.Title
		}
		fmt.Fprintf(&b, "%s  %s\n", p.severity(g.severity, head), p.severity(g.severity, "["+severityLabel(g.severity)+"]"))
		if title.TitleEN != "" {
			fmt.Fprintf(&b, "%s\n", p.paint(ansiDim, title.TitleEN))
		}
		for _, f := range g.findings {
			writeFinding(&b, p, d, f, "", lang, byID, map[string]bool{})
		}
		b.WriteString("\n")
	}
	writeSources(&b, p, d)
	if len(d.Warnings) > 0 {
		fmt.Fprintf(&b, "%s\n", p.paint(ansiBold+ansiYellow, "Warnings (these checks are incomplete):"))
		for _, w := range d.Warnings {
			fmt.Fprintf(&b, "  %s %s\n", p.paint(ansiYellow, "!"), w.String())
		}
		b.WriteString("\n")
	}
	s := d.Summary
	if len(d.Findings) > 0 {
		fmt.Fprintf(&b, "%d root cause(s) of %d finding(s) in %d case(s) on %d object(s); root causes: %s, %s, %s.",
			s.Roots, s.Findings, s.Cases, s.Objects,
			p.severity(casebook.SeverityCritical, fmt.Sprintf("%d critical", s.Critical)),
			p.severity(casebook.SeverityMajor, fmt.Sprintf("%d major", s.Major)),
			p.severity(casebook.SeverityMinor, fmt.Sprintf("%d minor", s.Minor)))
		if s.Excluded > 0 {
			fmt.Fprintf(&b, " %d object(s) excluded by config.", s.Excluded)
		}
		b.WriteString("\n")
		var hints []string
		shown := map[string]bool{}
		for _, f := range d.Findings {
			if !shown[f.CaseID] {
				shown[f.CaseID] = true
				hints = append(hints, p.paint(ansiBold, "casebook show "+f.CaseID))
			}
		}
		fmt.Fprintf(&b, "Read a case: %s\n", strings.Join(hints, ", "))
	} else if s.Excluded > 0 {
		fmt.Fprintf(&b, "%d object(s) excluded by config.\n", s.Excluded)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFinding renders a finding and, indented under it, the findings it
// causes ("→ 导致 / causes"); consequences quote less evidence.
func writeFinding(b *strings.Builder, p painter, d *casebook.Report, f casebook.Finding, indent string, lang Lang, byID map[string]casebook.Finding, seen map[string]bool) {
	if seen[f.ID] && f.ID != "" {
		return
	}
	seen[f.ID] = true
	maxEvidence := tableMaxEvidence
	if indent == "" {
		fmt.Fprintf(b, "\n%s  %s %s\n", indent, p.severity(f.Severity, "●"), message(f, lang))
	} else {
		maxEvidence = 3
		head := f.CaseID
		if t := d.Cases[f.CaseID]; t.Title != "" {
			head += " " + t.Title
		}
		fmt.Fprintf(b, "\n%s  %s %s  %s\n", indent, p.paint(ansiBold, "→ 导致 / causes"), p.severity(f.Severity, head), p.severity(f.Severity, "["+severityLabel(f.Severity)+"]"))
		fmt.Fprintf(b, "%s  %s %s\n", indent, p.severity(f.Severity, "●"), message(f, lang))
	}
	objs := f.Objects
	more := 0
	if len(objs) > tableMaxObjects {
		objs, more = objs[:tableMaxObjects], len(objs)-tableMaxObjects
	}
	t := Table{}
	for _, o := range objs {
		t.AddRow(indent+"   ", o.Kind, objectName(o))
	}
	var tb strings.Builder
	_ = t.Write(&tb)
	b.WriteString(tb.String())
	if more > 0 {
		fmt.Fprintf(b, "%s    … and %d more\n", indent, more)
	}
	ev := f.Evidence
	more = 0
	if len(ev) > maxEvidence {
		ev, more = ev[:maxEvidence], len(ev)-maxEvidence
	}
	for _, e := range ev {
		fmt.Fprintf(b, "%s    %s %s\n", indent, p.paint(ansiDim, "│"), quoteLine(f, e))
	}
	if more > 0 {
		fmt.Fprintf(b, "%s    %s … %d more (-o json shows all)\n", indent, p.paint(ansiDim, "│"), more)
	}
	for _, s := range f.Next {
		fmt.Fprintf(b, "%s    %s %s\n", indent, p.paint(ansiBold, nextLabel(s)), s.Command)
		fmt.Fprintf(b, "%s          %s\n", indent, p.paint(ansiDim, stepRef(s)))
	}
	if f.NextStep != "" {
		fmt.Fprintf(b, "%s    %s %s\n", indent, p.paint(ansiBold, "next:"), f.NextStep)
	}
	for _, id := range f.Causes {
		if c, ok := byID[id]; ok {
			writeFinding(b, p, d, c, indent+"    ", lang, byID, seen)
		}
	}
}

// quoteLine renders one item of evidence; the object is left out when it is
// the finding's only object, which the lines above name already.
func quoteLine(f casebook.Finding, e casebook.Evidence) string {
	if len(f.Objects) == 1 && f.Objects[0] == e.Object {
		e.Object = casebook.ObjectRef{}
	}
	return e.String()
}

// nextLabel introduces a next step, with the node it runs on.
func nextLabel(s casebook.Step) string {
	if s.Node != "" {
		return "next (on node " + s.Node + "):"
	}
	return "next:"
}

// stepRef names the case step a next step comes from: "↳ K-002 排查过程 1. 列出 Pending Pod".
func stepRef(s casebook.Step) string {
	id, _, _ := strings.Cut(s.Ref, "#")
	ref := fmt.Sprintf("↳ %s 排查过程 %d.", id, s.StepNo)
	if s.Title != "" {
		ref += " " + s.Title
	}
	return ref
}

func objectName(o casebook.ObjectRef) string {
	if o.Namespace == "" {
		return o.Name
	}
	return o.Namespace + "/" + o.Name
}

// FindingsMarkdown renders a report as Markdown in English; see Markdown.
func FindingsMarkdown(w io.Writer, d *casebook.Report) error { return Markdown(w, d, EN) }

// Markdown renders a diagnosis as Markdown, for an issue or a chat: a
// summary table, then one section per case, findings in the language.
func Markdown(w io.Writer, d *casebook.Report, lang Lang) error {
	byID := map[string]casebook.Finding{}
	for _, f := range d.Findings {
		byID[f.ID] = f
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# casebook diagnose\n\nSource: %s\n\n", mdEscape(d.Source))
	if len(d.Findings) == 0 {
		b.WriteString("No known case found.\n")
	} else {
		s := d.Summary
		fmt.Fprintf(&b, "%d root cause(s) of %d finding(s) in %d case(s) on %d object(s); root causes: %d critical, %d major, %d minor.\n\n",
			s.Roots, s.Findings, s.Cases, s.Objects, s.Critical, s.Major, s.Minor)
		b.WriteString("| Case | Severity | Finding | Objects | Caused by |\n| --- | --- | --- | --- | --- |\n")
		for _, f := range d.Findings {
			var by []string
			for _, id := range f.CausedBy {
				by = append(by, byID[id].CaseID)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s |\n", f.CaseID, severityLabel(f.Severity), mdEscape(message(f, lang)), len(f.Objects), strings.Join(by, ", "))
		}
		for _, g := range groups(d) {
			title := d.Cases[g.id]
			fmt.Fprintf(&b, "\n## %s %s\n\n", g.id, mdEscape(strings.TrimSpace(title.Title+" / "+title.TitleEN)))
			fmt.Fprintf(&b, "Severity: %s. Read the case: `casebook show %s`.\n", severityLabel(g.severity), g.id)
			for _, f := range g.findings {
				writeFindingMarkdown(&b, d, f, "###", lang, byID, map[string]bool{})
			}
		}
	}
	if len(d.Warnings) > 0 {
		b.WriteString("\n## Warnings\n\n")
		for _, w := range d.Warnings {
			fmt.Fprintf(&b, "- %s: %s\n", w.Source, mdEscape(w.Message))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFindingMarkdown writes a finding and, under it, what it causes.
func writeFindingMarkdown(b *strings.Builder, d *casebook.Report, f casebook.Finding, level string, lang Lang, byID map[string]casebook.Finding, seen map[string]bool) {
	if seen[f.ID] && f.ID != "" {
		return
	}
	seen[f.ID] = true
	if level == "###" {
		fmt.Fprintf(b, "\n%s %s\n\n", level, mdEscape(message(f, lang)))
	} else {
		fmt.Fprintf(b, "\n%s → 导致 / causes: %s %s\n\n", level, f.CaseID, mdEscape(message(f, lang)))
	}
	for _, o := range f.Objects {
		fmt.Fprintf(b, "- `%s %s`\n", o.Kind, objectName(o))
	}
	b.WriteString("\nEvidence:\n\n```text\n")
	for _, e := range f.Evidence {
		b.WriteString(strings.ReplaceAll(quoteLine(f, e), "```", "'''") + "\n")
	}
	b.WriteString("```\n")
	if len(f.Next) > 0 {
		b.WriteString("\nNext steps:\n\n")
	}
	for _, s := range f.Next {
		fmt.Fprintf(b, "- %s", mdEscape(stepRef(s)))
		if s.Node != "" {
			fmt.Fprintf(b, ", on node `%s`", s.Node)
		}
		fmt.Fprintf(b, ":\n\n  ```sh\n  %s\n  ```\n", s.Command)
	}
	if f.NextStep != "" {
		fmt.Fprintf(b, "\nNext step: %s\n", mdEscape(f.NextStep))
	}
	next := level + "#"
	if len(next) > 6 {
		next = "######"
	}
	for _, id := range f.Causes {
		if c, ok := byID[id]; ok {
			writeFindingMarkdown(b, d, c, next, lang, byID, seen)
		}
	}
}

var mdEscaper = strings.NewReplacer("|", `\|`, "\n", " ")

func mdEscape(s string) string { return mdEscaper.Replace(s) }
