package casebook

import "time"

// The version and kind of the diagnose report schema (docs/diagnose-report.schema.json).
const (
	ReportAPIVersion = "casebook.dev/v1alpha1"
	ReportKind       = "DiagnoseReport"
)

// Report is what one diagnosis found: the same document from `casebook
// diagnose -o json|yaml`, GET and POST /api/v1/diagnose and the agent.
type Report struct {
	APIVersion string `json:"apiVersion" yaml:"apiVersion"`
	Kind       string `json:"kind" yaml:"kind"`
	// Source says what was diagnosed: "snapshot examples/edge-cluster (12 files)",
	// "context edge-1, cluster https://… (Kubernetes v1.31.4), all namespaces".
	Source string `json:"source" yaml:"source"`
	// Time is when the diagnosis ended.
	Time     time.Time     `json:"time" yaml:"time"`
	Summary  ReportSummary `json:"summary" yaml:"summary"`
	Findings []Finding     `json:"findings" yaml:"findings"`
	Warnings []Warning     `json:"warnings" yaml:"warnings"`
	// Cases holds the title of each case found, for people.
	Cases map[string]CaseTitle `json:"cases,omitempty" yaml:"cases,omitempty"`
	// Detectors lists the case IDs of the detectors that ran.
	Detectors []string `json:"detectors" yaml:"detectors"`
	// Sources says, per case that was looked for, which kinds of evidence
	// its detectors read and whether they were available, so that a clean
	// result says what it means.
	Sources []CaseSources `json:"sources,omitempty" yaml:"sources,omitempty"`
}

// Evidence sources a detector may read.
const (
	SourceObjects = "objects"
	SourceEvents  = "events"
	SourceLogs    = "logs"
	SourceMetrics = "metrics"
	// SourcePrometheus is a Prometheus server (diagnose --prometheus).
	SourcePrometheus = "prometheus"
)

// CaseSources is what the detectors of one case could read.
type CaseSources struct {
	CaseID  string           `json:"case" yaml:"case"`
	Sources []EvidenceSource `json:"sources" yaml:"sources"`
}

// EvidenceSource is one kind of evidence and whether it was there.
type EvidenceSource struct {
	// Source is objects, events, logs, metrics or prometheus.
	Source    string `json:"source" yaml:"source"`
	Available bool   `json:"available" yaml:"available"`
	// Why says what was read or why it was not ("GET /metrics: forbidden").
	Why string `json:"why,omitempty" yaml:"why,omitempty"`
}

// CaseTitle is a case's title in Chinese and English.
type CaseTitle struct {
	Title   string `json:"title" yaml:"title"`
	TitleEN string `json:"title_en" yaml:"title_en"`
}

// ReportSummary counts what a diagnosis found.
type ReportSummary struct {
	Cases    int `json:"cases" yaml:"cases"`
	Findings int `json:"findings" yaml:"findings"`
	// Roots counts the root causes: findings no other finding explains.
	// The severities count root causes only, as the exit code does.
	Roots    int `json:"roots" yaml:"roots"`
	Objects  int `json:"objects" yaml:"objects"`
	Critical int `json:"critical" yaml:"critical"`
	Major    int `json:"major" yaml:"major"`
	Minor    int `json:"minor" yaml:"minor"`
	// Excluded counts objects dropped by the exclusion config.
	Excluded int `json:"excluded" yaml:"excluded"`
}

// NewReport returns an empty report of the current schema.
func NewReport(source string) *Report {
	return &Report{APIVersion: ReportAPIVersion, Kind: ReportKind, Source: source,
		Findings: []Finding{}, Warnings: []Warning{}, Detectors: []string{}}
}

// Summarize fills the summary from the findings.
func (r *Report) Summarize(excluded int) {
	s := ReportSummary{Findings: len(r.Findings), Excluded: excluded}
	cases := map[string]bool{}
	for _, f := range r.Findings {
		cases[f.CaseID] = true
		s.Objects += len(f.Objects)
		if len(f.CausedBy) > 0 {
			continue
		}
		s.Roots++
		switch f.Severity {
		case SeverityCritical:
			s.Critical++
		case SeverityMajor:
			s.Major++
		case SeverityMinor:
			s.Minor++
		}
	}
	s.Cases = len(cases)
	r.Summary = s
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Warnings == nil {
		r.Warnings = []Warning{}
	}
}

// Fails reports whether a root cause is at least as severe as rank
// (Severity.Rank): the exit code 3 of `casebook diagnose --fail-on`. A
// consequence counts through its root cause.
func (r *Report) Fails(rank int) bool {
	for _, f := range r.Findings {
		if len(f.CausedBy) == 0 && f.Severity.Rank() >= rank {
			return true
		}
	}
	return false
}
