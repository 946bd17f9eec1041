// Package casebook holds the domain of the casebook: troubleshooting cases and
// their vocabularies (component, severity, fault type, status), and the
// findings that detectors report against a cluster. It imports no transport;
// the adapters under internal/ implement and consume these types.
package casebook

import (
	"fmt"
	"regexp"
	"strings"
)

// Component is the part of an edge cluster a case belongs to.
type Component string

// The components of the seed's index, in its order.
const (
	ComponentWasmEdge      Component = "wasmedge"
	ComponentK3s           Component = "k3s"
	ComponentOPAGatekeeper Component = "opa-gatekeeper"
	ComponentNetwork       Component = "network"
	ComponentStorage       Component = "storage"
)

// Components lists every component in the seed's order.
var Components = []Component{ComponentWasmEdge, ComponentK3s, ComponentOPAGatekeeper, ComponentNetwork, ComponentStorage}

var componentInfo = map[Component]struct{ prefix, zh, en string }{
	ComponentWasmEdge:      {"W", "WasmEdge 故障案例", "WasmEdge"},
	ComponentK3s:           {"K", "K3s 故障案例", "K3s"},
	ComponentOPAGatekeeper: {"O", "OPA/Gatekeeper 故障案例", "OPA/Gatekeeper"},
	ComponentNetwork:       {"N", "网络故障案例", "Network"},
	ComponentStorage:       {"S", "存储故障案例", "Storage"},
}

// Prefix returns the case ID prefix of the component ("W" for wasmedge).
func (c Component) Prefix() string { return componentInfo[c].prefix }

// Label returns the component's heading in the seed ("WasmEdge 故障案例").
func (c Component) Label() string { return componentInfo[c].zh }

// LabelEN returns the component's English name.
func (c Component) LabelEN() string { return componentInfo[c].en }

// Valid reports whether c is one of the known components.
func (c Component) Valid() bool { _, ok := componentInfo[c]; return ok }

// ParseComponent accepts a component key, its English name or its prefix,
// case-insensitively.
func ParseComponent(s string) (Component, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, c := range Components {
		info := componentInfo[c]
		if t == string(c) || t == strings.ToLower(info.en) || t == strings.ToLower(info.prefix) ||
			t == strings.ToLower(info.zh) || (c == ComponentOPAGatekeeper && (t == "opa" || t == "gatekeeper")) ||
			(c == ComponentNetwork && t == "网络") || (c == ComponentStorage && t == "存储") {
			return c, nil
		}
	}
	return "", fmt.Errorf("unknown component %q (want one of %s)", s, joinKeys(Components))
}

// Severity is how urgent a case is, in the seed's three levels.
type Severity string

// The seed's severities: 严重, 中等, 轻微.
const (
	SeverityCritical Severity = "critical"
	SeverityMajor    Severity = "major"
	SeverityMinor    Severity = "minor"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{SeverityCritical, SeverityMajor, SeverityMinor}

var severityZH = map[Severity]string{SeverityCritical: "严重", SeverityMajor: "中等", SeverityMinor: "轻微"}

// Label returns the seed's Chinese label for the severity.
func (s Severity) Label() string { return severityZH[s] }

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { _, ok := severityZH[s]; return ok }

// Rank orders severities: critical 3, major 2, minor 1, unknown 0.
func (s Severity) Rank() int {
	switch s {
	case SeverityCritical:
		return 3
	case SeverityMajor:
		return 2
	case SeverityMinor:
		return 1
	}
	return 0
}

// ParseSeverity accepts the English key or the Chinese label.
func ParseSeverity(s string) (Severity, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, v := range Severities {
		if t == string(v) || t == severityZH[v] {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown severity %q (want one of %s, or 严重, 中等, 轻微)", s, joinKeys(Severities))
}

// FaultType classifies what kind of failure a case is.
type FaultType string

// The seed's fault types.
const (
	TypeStartupFailure   FaultType = "startup-failure"
	TypeRuntimeError     FaultType = "runtime-error"
	TypePerformance      FaultType = "performance"
	TypeSecurity         FaultType = "security"
	TypeMisconfiguration FaultType = "misconfiguration"
)

// FaultTypes lists every fault type in the seed's order.
var FaultTypes = []FaultType{TypeStartupFailure, TypeRuntimeError, TypePerformance, TypeSecurity, TypeMisconfiguration}

var faultTypeZH = map[FaultType]string{
	TypeStartupFailure:   "启动失败",
	TypeRuntimeError:     "运行时错误",
	TypePerformance:      "性能问题",
	TypeSecurity:         "安全漏洞",
	TypeMisconfiguration: "配置错误",
}

// Label returns the seed's Chinese label for the fault type.
func (t FaultType) Label() string { return faultTypeZH[t] }

// Valid reports whether t is a known fault type.
func (t FaultType) Valid() bool { _, ok := faultTypeZH[t]; return ok }

// ParseFaultType accepts the English key or the Chinese label.
func ParseFaultType(s string) (FaultType, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, v := range FaultTypes {
		if t == string(v) || t == faultTypeZH[v] {
			return v, nil
		}
	}
	return "", fmt.Errorf("unknown fault type %q (want one of %s, or their Chinese labels)", s, joinKeys(FaultTypes))
}

// Status says whether a case is written in full. It is computed from the
// case file, never typed by hand.
type Status string

// The seed's two statuses.
const (
	StatusComplete Status = "complete"
	StatusDraft    Status = "draft"
)

// Label returns the seed's label with its mark ("✅ 已完成").
func (s Status) Label() string {
	if s == StatusComplete {
		return "✅ 已完成"
	}
	return "⏳ 待补充"
}

// ParseStatus accepts complete/draft or 已完成/待补充.
func ParseStatus(s string) (Status, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "complete", "done", "已完成":
		return StatusComplete, nil
	case "draft", "待补充":
		return StatusDraft, nil
	}
	return "", fmt.Errorf("unknown status %q (want complete or draft, or 已完成, 待补充)", s)
}

// Signal is verbatim error text that identifies a case: a literal or a
// regular expression (RE2), both matched case-insensitively. Every signal
// carries its provenance: the upstream code or official document that emits
// or quotes it, and the versions it holds for.
type Signal struct {
	Literal string `json:"literal,omitempty" yaml:"text,omitempty"`
	Pattern string `json:"re,omitempty" yaml:"re,omitempty"`
	// Sources are where the text comes from: "owner/repo@ref:path#Lnn" for
	// the code that emits it, or an https URL of official documentation
	// that quotes it.
	Sources []string `json:"sources,omitempty" yaml:"source,omitempty"`
	// Versions names the product and the versions the text holds for.
	Versions string `json:"versions,omitempty" yaml:"versions,omitempty"`
	// Note is optional context, e.g. how a composite message is built.
	Note string `json:"note,omitempty" yaml:"note,omitempty"`
	// Line is the line of the signal in its case file.
	Line int `json:"-" yaml:"-"`
}

// String returns the literal or the pattern as written.
func (s Signal) String() string {
	if s.Pattern != "" {
		return s.Pattern
	}
	return s.Literal
}

// Compile returns the signal as a case-insensitive regular expression. The
// case loader validates patterns; compiling is left to the matcher, which
// needs it, so loading the library stays cheap.
func (s Signal) Compile() (*regexp.Regexp, error) {
	if s.Pattern != "" {
		return regexp.Compile("(?i)" + s.Pattern)
	}
	return regexp.Compile("(?i)" + regexp.QuoteMeta(s.Literal))
}

// Section is one H2 section of a case body.
type Section struct {
	Title      string `json:"title"`
	Line       int    `json:"line"`
	Text       string `json:"text"`
	CodeBlocks int    `json:"code_blocks"`
}

// Case is one troubleshooting case: its front matter, its body and what was
// computed from them.
type Case struct {
	ID          string            `json:"id" yaml:"id"`
	Title       string            `json:"title" yaml:"title"`
	TitleEN     string            `json:"title_en" yaml:"title_en"`
	SummaryEN   string            `json:"summary_en,omitempty" yaml:"summary_en,omitempty"`
	Component   Component         `json:"component" yaml:"component"`
	Severity    Severity          `json:"severity" yaml:"severity"`
	Types       []FaultType       `json:"types" yaml:"types"`
	Environment map[string]string `json:"environment,omitempty" yaml:"environment,omitempty"`
	Signals     []Signal          `json:"signals,omitempty" yaml:"signals,omitempty"`
	Related     []string          `json:"related,omitempty" yaml:"related,omitempty"`
	References  []string          `json:"references,omitempty" yaml:"references,omitempty"`

	// File is the case's file name inside the library ("wasmedge-cold-start-timeout.md").
	File string `json:"file" yaml:"file"`
	// Body is the Markdown after the front matter; BodyLine is the file line it starts on.
	Body     string    `json:"-" yaml:"-"`
	BodyLine int       `json:"-" yaml:"-"`
	Sections []Section `json:"-" yaml:"-"`

	Status Status `json:"status" yaml:"status"`
	// Detected is true when a detector for this case passes its fixtures.
	Detected bool `json:"detected" yaml:"detected"`
}

// Section returns the section with the given title, or nil.
func (c *Case) Section(title string) *Section {
	for i := range c.Sections {
		if c.Sections[i].Title == title {
			return &c.Sections[i]
		}
	}
	return nil
}

// HasType reports whether the case is classified with t.
func (c *Case) HasType(t FaultType) bool {
	for _, x := range c.Types {
		if x == t {
			return true
		}
	}
	return false
}

// Summary is a case without its body, as lists show it.
type Summary struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	TitleEN     string            `json:"title_en"`
	SummaryEN   string            `json:"summary_en,omitempty"`
	Component   Component         `json:"component"`
	Severity    Severity          `json:"severity"`
	Types       []FaultType       `json:"types"`
	Status      Status            `json:"status"`
	Detected    bool              `json:"detected"`
	File        string            `json:"file"`
	Environment map[string]string `json:"environment,omitempty"`
	Related     []string          `json:"related,omitempty"`
}

// Summary returns the case without its body.
func (c *Case) Summary() Summary {
	return Summary{ID: c.ID, Title: c.Title, TitleEN: c.TitleEN, SummaryEN: c.SummaryEN,
		Component: c.Component, Severity: c.Severity, Types: c.Types, Status: c.Status, Detected: c.Detected,
		File: c.File, Environment: c.Environment, Related: c.Related}
}

// Detail is a whole case, as `show -o json` and the API give it.
type Detail struct {
	Summary
	Signals    []Signal  `json:"signals,omitempty"`
	References []string  `json:"references,omitempty"`
	Sections   []Section `json:"sections"`
	Body       string    `json:"body"`
}

// Detail returns the whole case.
func (c *Case) Detail() Detail {
	return Detail{Summary: c.Summary(), Signals: c.Signals, References: c.References, Sections: c.Sections, Body: c.Body}
}

// RequiredSections are the H2 sections every case holds, in order.
var RequiredSections = []string{"故障描述", "排查过程", "根因分析", "解决方案", "验证结果"}

// KnownSections are all H2 sections a case may hold, in their order.
var KnownSections = []string{"环境", "故障描述", "排查过程", "根因分析", "解决方案", "验证结果", "复现", "预防措施", "参考资料"}

func joinKeys[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
