package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	casebook "github.com/casebook-dev/casebook"
)

// The JUnit XML that CI dashboards read (Jenkins, GitLab, GitHub Actions
// reporters): testsuites > testsuite > testcase > failure.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemErr  string          `xml:"system-err,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Failures  []junitFailure `xml:"failure"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// JUnit writes a diagnosis as JUnit XML for CI: one test suite, one test
// case per detector that ran (named by its case), passing when the detector
// found nothing and with one failure per finding otherwise; with
// Meta.Subjects, one test case per thing checked instead. A failure's
// message is the finding's; its text names the objects, quotes the
// evidence, gives the next steps and the root cause or consequences. The
// warnings of the run go to the suite's system-err.
func JUnit(w io.Writer, d *casebook.Report, m Meta) error {
	l := m.lang()
	byID := byFindingID(d)
	name := m.Command
	if name == "" {
		name = "casebook diagnose"
	}
	suite := junitSuite{Name: name, Properties: []junitProperty{{Name: "source", Value: d.Source}}}
	if !d.Time.IsZero() {
		suite.Timestamp = d.Time.UTC().Format("2006-01-02T15:04:05")
	}
	if m.Version != "" {
		suite.Properties = append(suite.Properties, junitProperty{Name: "casebook.version", Value: m.Version})
	}
	add := func(tc junitCase, fs []casebook.Finding) {
		for _, f := range fs {
			tc.Failures = append(tc.Failures, junitFailure{Message: message(f, l), Type: string(f.Severity), Text: junitText(f, l, byID)})
		}
		suite.Cases = append(suite.Cases, tc)
		suite.Tests++
		suite.Failures += len(tc.Failures)
	}
	told := map[int]bool{}
	for _, o := range m.Subjects {
		var fs []casebook.Finding
		for i, f := range d.Findings {
			if slices.Contains(f.Objects, o) {
				fs = append(fs, f)
				told[i] = true
			}
		}
		add(junitCase{Name: o.String(), Classname: "casebook." + o.Kind}, fs)
	}
	ids := append([]string{}, d.Detectors...)
	// A finding whose detector is not listed (an older report, or one on
	// no subject) still shows, under its case.
	for i, f := range d.Findings {
		if !told[i] {
			ids = append(ids, f.CaseID)
		}
	}
	ran := map[string]bool{}
	for _, id := range ids {
		if ran[id] {
			continue
		}
		ran[id] = true
		var fs []casebook.Finding
		for i, f := range d.Findings {
			if f.CaseID == id && !told[i] {
				fs = append(fs, f)
			}
		}
		add(junitCase{Name: id + " " + m.caseTitle(d, id), Classname: "casebook." + id}, fs)
	}
	var errs []string
	for _, wr := range d.Warnings {
		errs = append(errs, "warning: "+wr.String())
	}
	suite.SystemErr = strings.Join(errs, "\n")
	doc := junitSuites{Name: "casebook", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitText is a finding told in plain text, as a CI log shows it.
func junitText(f casebook.Finding, l Lang, byID map[string]casebook.Finding) string {
	label := labelsFor(l)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s [%s]\n", f.CaseID, message(f, l), severityLabel(f.Severity))
	for _, id := range f.CausedBy {
		if c, ok := byID[id]; ok {
			fmt.Fprintf(&b, "%s %s %s\n", label.causedBy, c.CaseID, message(c, l))
		}
	}
	if len(f.Objects) > 0 {
		fmt.Fprintf(&b, "%s\n", label.objects)
		for _, o := range f.Objects {
			fmt.Fprintf(&b, "  %s\n", qualifiedName(o))
		}
	}
	if len(f.Evidence) > 0 {
		fmt.Fprintf(&b, "%s\n", label.evidence)
		for _, e := range f.Evidence {
			fmt.Fprintf(&b, "  | %s\n", e.String())
		}
	}
	for _, s := range f.Next {
		fmt.Fprintf(&b, "%s %s\n", nextLabelIn(l, s), s.Command)
		fmt.Fprintf(&b, "  %s\n", stepRef(s))
	}
	if f.NextStep != "" {
		fmt.Fprintf(&b, "%s %s\n", label.next, f.NextStep)
	}
	for _, id := range f.Causes {
		if c, ok := byID[id]; ok {
			fmt.Fprintf(&b, "%s %s %s\n", label.causes, c.CaseID, message(c, l))
		}
	}
	return b.String()
}

// labels are the headings of a finding in the reports for CI and tickets.
type labels struct {
	causedBy, causes, objects, evidence, next, onNode string
}

func labelsFor(l Lang) labels {
	if l == EN {
		return labels{causedBy: "caused by:", causes: "→ causes:", objects: "objects:", evidence: "evidence:", next: "next:", onNode: "on node"}
	}
	return labels{causedBy: "根因：", causes: "→ 导致：", objects: "对象：", evidence: "证据：", next: "下一步：", onNode: "在节点"}
}

// nextLabelIn introduces a next step in the language, with its node.
func nextLabelIn(l Lang, s casebook.Step) string {
	lb := labelsFor(l)
	if s.Node == "" {
		return lb.next
	}
	if l == EN {
		return "next (on node " + s.Node + "):"
	}
	return "下一步（在节点 " + s.Node + " 上）："
}
