package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"path/filepath"

	casebook "github.com/casebook-dev/casebook"
)

// SARIF 2.1.0 (OASIS), the subset casebook writes. The schema is
// reporttest/schema/sarif-schema-2.1.0.json, from oasis-tcs/sarif-spec.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Language    string            `json:"language"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Language       string      `json:"language"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	ShortDescription sarifMessage   `json:"shortDescription"`
	FullDescription  *sarifMessage  `json:"fullDescription,omitempty"`
	HelpURI          string         `json:"helpUri"`
	Help             *sarifMessage  `json:"help,omitempty"`
	DefaultConfig    sarifRuleConf  `json:"defaultConfiguration"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	EndTimeUTC          string              `json:"endTimeUtc,omitempty"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string       `json:"level"`
	Message sarifMessage `json:"message"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          sarifProps        `json:"properties"`
}

type sarifLocation struct {
	ID               *int                   `json:"id,omitempty"`
	PhysicalLocation *sarifPhysical         `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations"`
	Message          *sarifMessage          `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

// sarifProps is what a result carries beyond SARIF's own fields: the
// finding as the JSON report has it, so nothing is lost on the way.
type sarifProps struct {
	FindingID string              `json:"findingId"`
	Severity  casebook.Severity   `json:"severity"`
	Cause     string              `json:"cause"`
	Message   string              `json:"message"`
	MessageZH string              `json:"messageZh,omitempty"`
	Evidence  []casebook.Evidence `json:"evidence"`
	Next      []casebook.Step     `json:"nextSteps,omitempty"`
	NextStep  string              `json:"nextStep,omitempty"`
	RootCause bool                `json:"rootCause"`
	CausedBy  []string            `json:"causedBy,omitempty"`
	Causes    []string            `json:"causes,omitempty"`
}

// sarifLevel maps a case's severity to a result level.
func sarifLevel(s casebook.Severity) string {
	switch s {
	case casebook.SeverityCritical:
		return "error"
	case casebook.SeverityMajor:
		return "warning"
	}
	return "note"
}

// SARIF writes a diagnosis as a SARIF 2.1.0 log for code scanning: one run,
// one rule per case that produced findings, one result per finding located
// at its Kubernetes objects ("namespace/Kind/name" logical locations), with
// its root causes and consequences as related locations, and the cause,
// evidence and next steps as properties.
func SARIF(w io.Writer, d *casebook.Report, m Meta) error {
	l := m.lang()
	byID := byFindingID(d)
	ruleIndex := map[string]int{}
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{Name: "casebook", Version: m.Version, InformationURI: RepositoryURL,
			Language: sarifLang(l), Rules: []sarifRule{}}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
		Language:    sarifLang(l),
		Results:     []sarifResult{},
		Properties:  map[string]any{"source": d.Source, "detectors": d.Detectors, "summary": d.Summary},
	}
	if !d.Time.IsZero() {
		run.Invocations[0].EndTimeUTC = d.Time.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, wr := range d.Warnings {
		run.Invocations[0].Notifications = append(run.Invocations[0].Notifications,
			sarifNotification{Level: "warning", Message: sarifMessage{Text: wr.String()}})
	}
	drv := &run.Tool.Driver
	for _, f := range d.Findings {
		i, ok := ruleIndex[f.CaseID]
		if !ok {
			i = len(drv.Rules)
			ruleIndex[f.CaseID] = i
			drv.Rules = append(drv.Rules, sarifRuleFor(d, m, f))
		}
		run.Results = append(run.Results, sarifResultFor(f, i, l, byID, m.Locate))
	}
	return JSON(w, sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}

func sarifLang(l Lang) string {
	if l == EN {
		return "en-US"
	}
	return "zh-CN"
}

func sarifRuleFor(d *casebook.Report, m Meta, f casebook.Finding) sarifRule {
	title := m.caseTitle(d, f.CaseID)
	r := sarifRule{ID: f.CaseID, Name: f.CaseID, ShortDescription: sarifMessage{Text: title},
		HelpURI: m.caseURL(f.CaseID), DefaultConfig: sarifRuleConf{Level: sarifLevel(f.Severity)},
		Help:       &sarifMessage{Text: "casebook show " + f.CaseID},
		Properties: map[string]any{"severity": f.Severity, "tags": []string{"kubernetes", "casebook"}}}
	if c := m.lookup(f.CaseID); c != nil {
		r.Properties["component"] = c.Component
		r.Properties["tags"] = []string{"kubernetes", "casebook", string(c.Component)}
	}
	if desc := m.caseDescription(f.CaseID); desc != "" {
		r.FullDescription = &sarifMessage{Text: desc}
	}
	return r
}

func sarifResultFor(f casebook.Finding, rule int, l Lang, byID map[string]casebook.Finding, locate func(casebook.ObjectRef) (string, int)) sarifResult {
	r := sarifResult{RuleID: f.CaseID, RuleIndex: rule, Level: sarifLevel(f.Severity),
		Message:             sarifMessage{Text: message(f, l)},
		PartialFingerprints: map[string]string{"casebookFinding/v1": fingerprint(f.ID)},
		Properties: sarifProps{FindingID: f.ID, Severity: f.Severity, Cause: f.Cause, Message: f.Message, MessageZH: f.MessageZH,
			Evidence: nonNil(f.Evidence), Next: f.Next, NextStep: f.NextStep, RootCause: len(f.CausedBy) == 0,
			CausedBy: f.CausedBy, Causes: f.Causes}}
	for _, o := range f.Objects {
		r.Locations = append(r.Locations, sarifLocationOf(o, locate))
	}
	if len(r.Locations) == 0 {
		r.Locations = []sarifLocation{sarifLocationOf(casebook.ObjectRef{Kind: "Cluster"}, nil)}
	}
	id := 0
	link := func(label string, ids []string) {
		for _, fid := range ids {
			other, ok := byID[fid]
			if !ok {
				continue
			}
			id++
			n := id
			// At the linked finding's first object, naming all of them.
			first := casebook.ObjectRef{Kind: "Cluster"}
			if len(other.Objects) > 0 {
				first = other.Objects[0]
			}
			rl := sarifLocationOf(first, locate)
			rl.ID = &n
			rl.Message = &sarifMessage{Text: fmt.Sprintf("%s %s: %s", label, other.CaseID, message(other, l))}
			for _, o := range other.Objects[min(1, len(other.Objects)):] {
				rl.LogicalLocations = append(rl.LogicalLocations, logicalLocation(o))
			}
			r.RelatedLocations = append(r.RelatedLocations, rl)
		}
	}
	if l == EN {
		link("caused by", f.CausedBy)
		link("causes", f.Causes)
	} else {
		link("根因", f.CausedBy)
		link("导致", f.Causes)
	}
	return r
}

// sarifLocationOf locates an object: at the file and line it was read
// from when that is known, else at a path named after it
// ("historian/PersistentVolumeClaim/data-historian-0", line 1). Code
// scanning (GitHub's) rejects a log whose results have only logical
// locations ("locationFromSarifResult: expected artifact location"), so
// every location has a physical one; the logical location names the
// object for every other reader.
func sarifLocationOf(o casebook.ObjectRef, locate func(casebook.ObjectRef) (string, int)) sarifLocation {
	uri, line := "", 0
	if locate != nil {
		uri, line = locate(o)
	}
	if uri == "" {
		uri, line = qualifiedName(o), 1
	}
	if line < 1 {
		line = 1
	}
	return sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(uri)}, Region: sarifRegion{StartLine: line}},
		LogicalLocations: []sarifLogicalLocation{logicalLocation(o)}}
}

// fileURI writes a slash-separated path as a relative URI reference.
func fileURI(p string) string {
	return (&url.URL{Path: filepath.ToSlash(p)}).String()
}

func logicalLocation(o casebook.ObjectRef) sarifLogicalLocation {
	name := o.Name
	if name == "" {
		name = o.Kind
	}
	return sarifLogicalLocation{Name: name, FullyQualifiedName: qualifiedName(o), Kind: "resource"}
}

// fingerprint is a stable digest of a finding's ID, which names its case,
// cause and first object: the same problem keeps its fingerprint from run
// to run, so code scanning tracks it as one alert.
func fingerprint(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
