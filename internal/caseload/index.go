package caseload

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"
	"text/template"
	"unicode"

	casebook "github.com/casebook-dev/casebook"
)

//go:embed index.md.tmpl
var indexTemplate string

// RenderIndex renders the library's index (cases/README.md) in the seed's
// structure: overview, classification with counts, one table per component,
// views by severity and by fault type, the user guide and related documents.
// The output depends only on the library, so `index --check` can compare it.
func RenderIndex(l *Library) ([]byte, error) {
	t, err := template.New("index").Funcs(template.FuncMap{
		"anchor":        anchor,
		"inc":           func(i int) int { return i + 1 },
		"sub":           func(a, b int) int { return a - b },
		"componentNote": func(k string) string { return componentNotes[k] },
		"severityNote":  func(k string) string { return severityNotes[k] },
		"typeNote":      func(k string) string { return typeNotes[k] },
		"types":         typeLabels,
		"detect": func(c *casebook.Case) string {
			if c.Detected {
				return "🔍 自动"
			}
			return "—"
		},
	}).Parse(indexTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse index template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, newIndexView(l)); err != nil {
		return nil, fmt.Errorf("render index: %w", err)
	}
	return buf.Bytes(), nil
}

type group struct {
	Key   string
	Label string
	Cases []*casebook.Case
}

type indexView struct {
	Total, Complete, Detected int
	Components                []group
	Severities                []group
	Types                     []group
}

func newIndexView(l *Library) indexView {
	v := indexView{Total: len(l.Cases)}
	for _, c := range l.Cases {
		if c.Status == casebook.StatusComplete {
			v.Complete++
		}
		if c.Detected {
			v.Detected++
		}
	}
	for _, comp := range casebook.Components {
		v.Components = append(v.Components, group{string(comp), comp.Label(), l.Select(Filter{Component: comp})})
	}
	for _, s := range casebook.Severities {
		v.Severities = append(v.Severities, group{string(s), s.Label(), l.Select(Filter{Severity: s})})
	}
	for _, t := range casebook.FaultTypes {
		v.Types = append(v.Types, group{string(t), t.Label(), l.Select(Filter{Type: t})})
	}
	return v
}

// anchor is the GitHub-style anchor of a heading: lower case, spaces to
// hyphens, punctuation and emoji dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func typeLabels(c *casebook.Case) string {
	s := make([]string, len(c.Types))
	for i, t := range c.Types {
		s[i] = t.Label()
	}
	return strings.Join(s, "、")
}

// The seed's explanations of its classifications (2 案例分类).
var (
	componentNotes = map[string]string{
		"wasmedge": "Wasm 应用相关问题", "k3s": "K3s 集群相关问题", "opa-gatekeeper": "策略管理相关问题",
		"network": "网络连接和通信问题", "storage": "存储卷和存储性能问题",
	}
	severityNotes = map[string]string{
		"critical": "影响生产环境，需要立即处理", "major": "影响部分功能，需要尽快处理", "minor": "影响性能或体验，可以计划处理",
	}
	typeNotes = map[string]string{
		"startup-failure": "应用或服务无法启动", "runtime-error": "运行过程中出现错误", "performance": "性能不达预期",
		"security": "安全相关问题", "misconfiguration": "配置不当导致的问题",
	}
)
