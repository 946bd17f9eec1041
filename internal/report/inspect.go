package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/mattn/go-runewidth"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/inspect"
)

// WasmInspection is what `casebook inspect wasm` reports: the module's
// facts, its findings with a summary, and the titles of the cases found.
type WasmInspection struct {
	*inspect.WasmReport
	Summary casebook.ReportSummary        `json:"summary"`
	Cases   map[string]casebook.CaseTitle `json:"cases,omitempty"`
}

// RegoCheck is what `casebook check rego` reports.
type RegoCheck struct {
	*inspect.RegoReport
	Summary casebook.ReportSummary        `json:"summary"`
	Cases   map[string]casebook.CaseTitle `json:"cases,omitempty"`
}

// inspection is a diagnosis of artefacts: the findings of one artefact
// are separate checks on the same object, so objects are counted once.
func inspection(source string, fs []casebook.Finding, warnings []casebook.Warning, cases map[string]casebook.CaseTitle) *casebook.Report {
	d := casebook.NewReport(source)
	d.Findings, d.Warnings, d.Cases = fs, warnings, cases
	d.Summarize(0)
	objects := map[string]bool{}
	for _, f := range fs {
		for _, o := range f.Objects {
			objects[o.String()] = true
		}
	}
	d.Summary.Objects = len(objects)
	return d
}

func summarize(fs []casebook.Finding) casebook.ReportSummary {
	return inspection("", fs, nil, nil).Summary
}

// NewWasmInspection wraps a report with its summary and case titles.
func NewWasmInspection(r *inspect.WasmReport, cases map[string]casebook.CaseTitle) *WasmInspection {
	return &WasmInspection{WasmReport: r, Summary: summarize(r.Findings), Cases: cases}
}

// NewRegoCheck wraps a report with its summary and case titles.
func NewRegoCheck(r *inspect.RegoReport, cases map[string]casebook.CaseTitle) *RegoCheck {
	return &RegoCheck{RegoReport: r, Summary: summarize(r.Findings), Cases: cases}
}

// factsWidth is where the fact lists wrap; findings are not wrapped.
const factsWidth = 100

// WasmTable renders an inspected module for a terminal: its facts, the
// notes, then the findings as diagnose shows them, with "casebook show" hints.
func WasmTable(w io.Writer, in *WasmInspection, color bool) error {
	p := painter(color)
	r := in.WasmReport
	var b strings.Builder
	t := Table{Style: func(_, col int, s string) string {
		if col == 0 {
			return p.paint(ansiBold, s)
		}
		return s
	}}
	name := r.File
	if r.Name != "" {
		name += fmt.Sprintf(" (module %q)", r.Name)
	}
	t.AddRow("module", fmt.Sprintf("%s, %s", name, sizeLabel(r.Size)))
	if len(r.Imports) == 0 {
		t.AddRow("imports", "none")
	}
	for i, g := range r.Imports {
		key := ""
		if i == 0 {
			key = "imports"
		}
		items := append([]string{}, g.Functions...)
		for _, m := range g.Memories {
			items = append(items, fmt.Sprintf("memory %q", m))
		}
		head := g.Module
		if g.Provider != "" {
			head += " [" + g.Provider + "]"
		}
		for j, line := range wrapList(head+": ", items, factsWidth-12) {
			if j > 0 {
				key = ""
			}
			t.AddRow(key, line)
		}
	}
	exports := append([]string{}, r.Exports.Functions...)
	for _, m := range r.Exports.Memories {
		exports = append(exports, fmt.Sprintf("memory %q", m))
	}
	for j, line := range wrapList("", exports, factsWidth-12) {
		key := ""
		if j == 0 {
			key = "exports"
		}
		t.AddRow(key, orNone(line))
	}
	if len(r.Memories) == 0 {
		t.AddRow("memory", "none visible (neither imported nor exported)")
	}
	for i, m := range r.Memories {
		key := ""
		if i == 0 {
			key = "memory"
		}
		t.AddRow(key, memoryLine(m))
	}
	var customs []string
	for _, s := range r.CustomSections {
		customs = append(customs, fmt.Sprintf("%s (%s)", s.Name, sizeLabel(int64(s.Size))))
	}
	t.AddRow("custom", orNone(strings.Join(customs, ", ")))
	switch a := r.AOT; {
	case a == nil:
		t.AddRow("AOT", "none: WasmEdge interprets this module")
	case a.Malformed:
		t.AddRow("AOT", `"wasmedge" section present, header does not decode`)
	default:
		t.AddRow("AOT", fmt.Sprintf("WasmEdge AOT section, binary version %d, %s/%s", a.Version, a.OS, a.Arch))
	}
	if r.Threads != "" {
		t.AddRow("threads", "Threads proposal needed: "+r.Threads)
	}
	var tb strings.Builder
	_ = t.Write(&tb)
	b.WriteString(tb.String())
	b.WriteString("\n")
	writeNotes(&b, p, r.Notes)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return FindingsTable(w, in.Report(), color)
}

// RegoTable renders a Rego check for a terminal: what was checked and how
// Gatekeeper reads each template, the notes, then the findings.
func RegoTable(w io.Writer, in *RegoCheck, color bool) error {
	p := painter(color)
	r := in.RegoReport
	var b strings.Builder
	fmt.Fprintf(&b, "Checked %d Rego file(s) and %d ConstraintTemplate(s) with OPA %s; templates as Gatekeeper ingests them (http.send disabled).\n\n",
		len(r.Files), len(r.Templates), r.OPAVersion)
	t := Table{Header: []string{"FILE", "KIND", "NAME", "PACKAGE", "REGO"}, Style: func(row, _ int, s string) string {
		if row == 0 {
			return p.paint(ansiBold, s)
		}
		return s
	}}
	for _, f := range r.Files {
		t.AddRow(f.File, "Rego", "", orDash(f.Package), orDash(versionLabel(f.Version, "")))
	}
	for _, tp := range r.Templates {
		t.AddRow(fmt.Sprintf("%s:%d", tp.File, tp.Line), "ConstraintTemplate", orDash(tp.Name), orDash(tp.Package), orDash(versionLabel(tp.Version, tp.Source)))
	}
	var tb strings.Builder
	_ = t.Write(&tb)
	b.WriteString(tb.String())
	b.WriteString("\n")
	writeNotes(&b, p, r.Notes)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return FindingsTable(w, in.Report(), color)
}

// Report is the check as a diagnosis, for the formats of diagnose (SARIF,
// JUnit): the findings, located at the templates they are about.
func (in *RegoCheck) Report() *casebook.Report {
	r := in.RegoReport
	source := fmt.Sprintf("%d Rego file(s) and %d ConstraintTemplate(s)", len(r.Files), len(r.Templates))
	return inspection(source, r.Findings, r.Warnings, in.Cases)
}

// Locate places a finding's object in the files checked: a template at
// the file and line of its ConstraintTemplate, a Rego file at itself.
func (in *RegoCheck) Locate(o casebook.ObjectRef) (string, int) {
	switch o.Kind {
	case "RegoFile":
		return o.Name, 1
	case "ConstraintTemplate":
		for _, t := range in.Templates {
			if t.Name == o.Name || (t.Name == "" && fmt.Sprintf("%s:%d", t.File, t.Line) == o.Name) {
				return t.File, t.Line
			}
		}
	}
	return "", 0
}

// Subjects are what was checked: each Rego file and ConstraintTemplate,
// named as the findings name them.
func (in *RegoCheck) Subjects() []casebook.ObjectRef {
	var out []casebook.ObjectRef
	for _, f := range in.Files {
		out = append(out, casebook.ObjectRef{Kind: "RegoFile", Name: f.File})
	}
	for _, t := range in.Templates {
		name := t.Name
		if name == "" {
			name = fmt.Sprintf("%s:%d", t.File, t.Line)
		}
		out = append(out, casebook.ObjectRef{Kind: "ConstraintTemplate", Name: name})
	}
	return out
}

// Subjects is the module inspected.
func (in *WasmInspection) Subjects() []casebook.ObjectRef {
	return []casebook.ObjectRef{{Kind: "WasmModule", Name: in.File}}
}

// Locate places a finding's object: the module is its file.
func (in *WasmInspection) Locate(o casebook.ObjectRef) (string, int) {
	if o.Kind == "WasmModule" {
		return o.Name, 1
	}
	return "", 0
}

// Report is the inspection as a diagnosis, for SARIF and JUnit.
func (in *WasmInspection) Report() *casebook.Report {
	return inspection("module "+in.File, in.Findings, nil, in.Cases)
}

func versionLabel(v, source string) string {
	switch source {
	case "rego":
		return v + " (rego field)"
	case "code":
		return v + " (code source)"
	}
	return v
}

func writeNotes(b *strings.Builder, p painter, notes []inspect.Note) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintf(b, "%s\n", p.paint(ansiBold, "Notes:"))
	for _, n := range notes {
		line := n.Message
		if n.Object != "" {
			line = n.Object + ": " + line
		}
		if n.CaseID != "" {
			line += " [" + n.CaseID + "]"
		}
		fmt.Fprintf(b, "  %s %s\n", p.paint(ansiDim, "·"), line)
	}
	b.WriteString("\n")
}

func memoryLine(m inspect.WasmMemory) string {
	s := fmt.Sprintf("[%d]", m.Index)
	if m.Import != "" {
		s += " imported " + m.Import
	}
	if len(m.Export) > 0 {
		s += " exported as " + strings.Join(m.Export, ", ")
	}
	s += fmt.Sprintf(", min %d pages (%s)", m.Min, sizeLabel(int64(m.Min)*64<<10))
	if m.Max != nil {
		s += fmt.Sprintf(", max %d pages (%s)", *m.Max, sizeLabel(int64(*m.Max)*64<<10))
	} else {
		s += ", no max"
	}
	if m.Shared {
		s += ", shared"
	}
	return s
}

// sizeLabel renders a byte count in binary units.
func sizeLabel(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// wrapList joins items with ", " after prefix, breaking lines at width;
// continuation lines are indented under the first item.
func wrapList(prefix string, items []string, width int) []string {
	if len(items) == 0 {
		if prefix == "" {
			return []string{""}
		}
		return []string{strings.TrimSuffix(prefix, " ")}
	}
	indent := strings.Repeat(" ", runewidth.StringWidth(prefix))
	var lines []string
	cur := prefix
	for i, it := range items {
		sep := ""
		if i < len(items)-1 {
			sep = ","
		}
		piece := it + sep
		if cur != prefix && cur != indent && runewidth.StringWidth(cur)+1+runewidth.StringWidth(piece) > width {
			lines = append(lines, cur)
			cur = indent
		}
		if cur == prefix || cur == indent {
			cur += piece
		} else {
			cur += " " + piece
		}
	}
	return append(lines, cur)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
