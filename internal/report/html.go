package report

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"

	casebook "github.com/casebook-dev/casebook"
)

//go:embed templates/report.html
var templateFS embed.FS

// reportCSS is what the HTML report adds to the web UI's stylesheet, which
// nests the consequences as the diagnose page does: the severity beside a
// consequence's case, and room for commands.
const reportCSS = `
.consequence-case { display: flex; gap: .6rem; align-items: baseline; flex-wrap: wrap; }
.consequence-case .case-link { font-weight: 600; }
.finding .next .command { display: block; margin-top: .2rem; background: var(--code-bg); padding: .3rem .55rem; border-radius: 4px; font-size: .8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.finding .next .step-ref { color: var(--muted); }
.report-counts { margin: 0 0 1rem; display: flex; gap: .4rem; flex-wrap: wrap; }
.warnings h2 { font-size: 1rem; }
.detectors { font-size: .85rem; }
@media print { .finding-group { break-inside: avoid-page; } }
`

// htmlText is the report's words in one language.
type htmlText struct {
	Title, Lead, Tagline, Source, Roots, Findings, Cases, Objects, At string
	Critical, Major, Minor, Excluded, None, Open, Warnings, Detectors string
	Causes, ObjectsLabel, Evidence, Next, OnNode, Footer              string
}

var htmlTexts = map[Lang]htmlText{
	ZH: {Title: "诊断报告", Lead: "在集群或快照中发现的已知案例：根因在前，由它导致的问题列在其下，每条附证据与可直接粘贴的下一步命令。",
		Tagline: "边缘集群故障排查案例集", Source: "数据源", Roots: "个根因", Findings: "项发现", Cases: "个案例", Objects: "个对象", At: "诊断时间",
		Critical: "严重", Major: "中等", Minor: "轻微", Excluded: "个对象按配置排除", None: "没有发现已知案例。", Open: "阅读案例",
		Warnings: "警告（这些检查不完整）", Detectors: "已运行的检测器：", Causes: "→ 导致", ObjectsLabel: "对象", Evidence: "证据", Next: "下一步", OnNode: "在节点上运行",
		Footer: "由 casebook diagnose -o html 生成，离线可读"},
	EN: {Title: "Diagnosis report", Lead: "Known cases found in a cluster or snapshot: root causes first, what they cause under them, each with its evidence and next steps to paste.",
		Tagline: "Troubleshooting casebook for edge clusters", Source: "Source", Roots: "root causes", Findings: "findings", Cases: "cases", Objects: "objects", At: "Diagnosed at",
		Critical: "critical", Major: "major", Minor: "minor", Excluded: "objects excluded by config", None: "No known case found.", Open: "Read the case",
		Warnings: "Warnings (these checks are incomplete)", Detectors: "Detectors run:", Causes: "→ causes", ObjectsLabel: "Objects", Evidence: "Evidence", Next: "Next step", OnNode: "run on node",
		Footer: "Made by casebook diagnose -o html; reads offline"},
}

type htmlView struct {
	T         htmlText
	HTMLLang  string
	CSP       string
	CSS       template.CSS
	Version   string
	Source    string
	Time      string
	Summary   casebook.ReportSummary
	Groups    []htmlGroup
	Warnings  []string
	Detectors []string
}

type htmlGroup struct {
	ID, Title, TitleAlt, URL string
	Severity                 casebook.Severity
	SeverityLabel            string
	Findings                 []htmlFinding
}

type htmlFinding struct {
	T                                htmlText
	ID, CaseID, Title, URL           string
	Severity                         casebook.Severity
	SeverityLabel, Message, NextStep string
	Consequence                      bool
	Objects, Evidence                []string
	Next                             []htmlStep
	Consequences                     []htmlFinding
}

type htmlStep struct {
	Label, Node, OnNode, Ref, Command string
}

// HTML writes a diagnosis as one self-contained HTML page to attach to a
// ticket: the web UI's look (its stylesheet css inlined, no other asset,
// no script; a Content-Security-Policy that allows that one style by its
// hash and nothing else), in the language, root causes first with the
// findings they cause nested under them.
func HTML(w io.Writer, d *casebook.Report, m Meta, css []byte) error {
	t, err := template.ParseFS(templateFS, "templates/report.html")
	if err != nil {
		return fmt.Errorf("parse the html report template: %w", err)
	}
	l := m.lang()
	style := string(css) + reportCSS
	sum := sha256.Sum256([]byte(style))
	v := htmlView{T: htmlTexts[l], HTMLLang: "zh-CN", CSS: template.CSS(style), Version: m.Version,
		CSP:    "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src data:; base-uri 'none'; form-action 'none'",
		Source: d.Source, Summary: d.Summary, Detectors: d.Detectors}
	if l == EN {
		v.HTMLLang = "en"
	}
	if !d.Time.IsZero() {
		v.Time = d.Time.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	for _, wr := range d.Warnings {
		v.Warnings = append(v.Warnings, wr.String())
	}
	byID := byFindingID(d)
	seen := map[string]bool{}
	index := map[string]int{}
	for _, f := range d.Findings {
		if hasCause(f, byID) {
			continue // shown under its root cause
		}
		i, ok := index[f.CaseID]
		if !ok {
			i = len(v.Groups)
			index[f.CaseID] = i
			v.Groups = append(v.Groups, htmlGroup{ID: f.CaseID, Title: m.caseTitle(d, f.CaseID), TitleAlt: altTitle(d, m, f.CaseID),
				URL: m.caseURL(f.CaseID), Severity: f.Severity, SeverityLabel: severityIn(l, f.Severity)})
		}
		v.Groups[i].Findings = append(v.Groups[i].Findings, htmlFindingFor(d, m, f, byID, seen))
	}
	// A finding in a loop of links, with no root, still shows.
	for _, f := range d.Findings {
		if !seen[f.ID] {
			v.Groups = append(v.Groups, htmlGroup{ID: f.CaseID, Title: m.caseTitle(d, f.CaseID), TitleAlt: altTitle(d, m, f.CaseID),
				URL: m.caseURL(f.CaseID), Severity: f.Severity, SeverityLabel: severityIn(l, f.Severity),
				Findings: []htmlFinding{htmlFindingFor(d, m, f, byID, seen)}})
		}
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "report", v); err != nil {
		return fmt.Errorf("render the html report: %w", err)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// hasCause reports whether a finding is explained by a finding in the
// report; one whose causes were all excluded stands on its own.
func hasCause(f casebook.Finding, byID map[string]casebook.Finding) bool {
	for _, id := range f.CausedBy {
		if _, ok := byID[id]; ok {
			return true
		}
	}
	return false
}

func htmlFindingFor(d *casebook.Report, m Meta, f casebook.Finding, byID map[string]casebook.Finding, seen map[string]bool) htmlFinding {
	l := m.lang()
	seen[f.ID] = true
	h := htmlFinding{T: htmlTexts[l], ID: f.ID, CaseID: f.CaseID, Title: m.caseTitle(d, f.CaseID), URL: m.caseURL(f.CaseID),
		Severity: f.Severity, SeverityLabel: severityIn(l, f.Severity), Message: message(f, l), NextStep: f.NextStep}
	for _, o := range f.Objects {
		h.Objects = append(h.Objects, o.String())
	}
	for _, e := range f.Evidence {
		h.Evidence = append(h.Evidence, quoteLine(f, e))
	}
	for _, s := range f.Next {
		h.Next = append(h.Next, htmlStep{Label: h.T.Next, Node: s.Node, OnNode: h.T.OnNode, Ref: stepRef(s), Command: s.Command})
	}
	for _, id := range f.Causes {
		if c, ok := byID[id]; ok && !seen[id] {
			h.Consequences = append(h.Consequences, htmlFindingFor(d, m, c, byID, seen))
		}
	}
	return h
}

// altTitle is the case's title in the other language, shown beside it.
func altTitle(d *casebook.Report, m Meta, id string) string {
	other := Meta{Lang: EN, Case: m.Case}
	if m.lang() == EN {
		other.Lang = ZH
	}
	if t := other.caseTitle(d, id); t != m.caseTitle(d, id) && t != id {
		return t
	}
	return ""
}

// severityIn names a severity in the language.
func severityIn(l Lang, s casebook.Severity) string {
	if !s.Valid() {
		return "unknown"
	}
	if l == EN {
		return string(s)
	}
	return s.Label()
}
