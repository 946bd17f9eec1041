package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"html"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/report/reporttest"
)

// linkedReport is a diagnosis with a root cause and a chain of
// consequences: a claim that cannot be provisioned (S-001) leaves a
// Service without endpoints (N-002), which leaves an Ingress without a
// backend (N-003); an unrelated scheduling fault (K-002) stands alone.
func linkedReport() *casebook.Report {
	pvc := casebook.ObjectRef{Kind: "PersistentVolumeClaim", Namespace: "historian", Name: "data-historian-0"}
	pod := casebook.ObjectRef{Kind: "Pod", Namespace: "historian", Name: "historian-0"}
	svc := casebook.ObjectRef{Kind: "Service", Namespace: "historian", Name: "historian"}
	ing := casebook.ObjectRef{Kind: "Ingress", Namespace: "historian", Name: "historian"}
	sched := casebook.ObjectRef{Kind: "Pod", Namespace: "shop", Name: "api-6f9c7d8b5c-7hq5s"}
	const (
		s001 = "S-001/no-default-storage-class/PersistentVolumeClaim/historian/data-historian-0"
		n002 = "N-002/no-ready-endpoints/Service/historian/historian"
		n003 = "N-003/backend-no-endpoints/Ingress/historian/historian"
		k002 = "K-002/insufficient-memory/Pod/shop/api-6f9c7d8b5c-7hq5s"
	)
	d := casebook.NewReport("snapshot examples/edge-cluster (14 files)")
	d.Time = time.Date(2026, 12, 8, 2, 30, 0, 0, time.UTC)
	d.Detectors = []string{"K-002", "N-002", "N-003", "S-001", "W-001"}
	d.Findings = []casebook.Finding{
		{ID: s001, CaseID: "S-001", Severity: casebook.SeverityCritical, Cause: "no-default-storage-class", Objects: []casebook.ObjectRef{pvc},
			Message: "the claim names no StorageClass and the cluster has no default one", MessageZH: "PVC 未指定 StorageClass，集群也没有默认 StorageClass",
			Evidence: []casebook.Evidence{
				{Object: pvc, Field: "event FailedBinding", Text: "no persistent volumes available for this claim and no storage class is set"},
				{Object: casebook.ObjectRef{Kind: "StorageClass"}, Text: "no StorageClass is marked default"}},
			Causes: []string{n002},
			Next: []casebook.Step{{Command: "kubectl describe pvc -n historian data-historian-0", Ref: "S-001#排查过程", StepNo: 1, Title: "查看 PVC 事件"},
				{Command: "journalctl -u k3s --no-pager -n 200 | grep local-path", Node: "edge-1", Ref: "S-001#排查过程", StepNo: 3, Title: "查看 provisioner 日志"}}},
		{ID: k002, CaseID: "K-002", Severity: casebook.SeverityCritical, Cause: "insufficient-memory", Objects: []casebook.ObjectRef{sched},
			Message: "pod cannot be scheduled: 3 node(s): not enough free memory", MessageZH: "Pod 无法调度：节点空闲内存不足",
			Evidence: []casebook.Evidence{{Object: sched, Field: "condition PodScheduled=False reason Unschedulable", Text: "0/3 nodes are available: 3 Insufficient memory."}},
			Next:     []casebook.Step{{Command: "kubectl describe pod -n shop api-6f9c7d8b5c-7hq5s", Ref: "K-002#排查过程", StepNo: 1, Title: "列出 Pending Pod"}}},
		{ID: n002, CaseID: "N-002", Severity: casebook.SeverityMajor, Cause: "no-ready-endpoints", Objects: []casebook.ObjectRef{svc},
			Message: "the Service has no ready endpoints: its pods are not ready", MessageZH: "Service 没有就绪的端点：其 Pod 均未就绪",
			Evidence: []casebook.Evidence{{Object: pod, Field: "status.phase", Text: "Pending"}, {Object: svc, Field: "spec.selector", Text: "app=historian"}},
			CausedBy: []string{s001}, Causes: []string{n003},
			Next: []casebook.Step{{Command: "kubectl get endpointslices -n historian -l kubernetes.io/service-name=historian", Ref: "N-002#排查过程", StepNo: 2, Title: "检查 EndpointSlice"}}},
		{ID: n003, CaseID: "N-003", Severity: casebook.SeverityMajor, Cause: "backend-no-endpoints", Objects: []casebook.ObjectRef{ing},
			Message: "the Ingress routes to a Service with no ready endpoints", MessageZH: "Ingress 指向的 Service 没有就绪端点",
			Evidence: []casebook.Evidence{{Object: ing, Field: "rule historian.example.com/ backend", Text: "service historian port 80 <script>alert(1)</script>"}},
			CausedBy: []string{n002},
			Next:     []casebook.Step{{Command: "kubectl describe ingress -n historian historian", Ref: "N-003#排查过程", StepNo: 5, Title: "核对后端 Service、端口与端点。"}}},
	}
	d.Warnings = []casebook.Warning{{Source: "snapshot", Message: "bundle/broken.yaml: yaml: line 3: did not find expected key (file skipped)"}}
	d.Cases = map[string]casebook.CaseTitle{
		"K-002": {Title: "K3s Pod 调度失败", TitleEN: "K3s pod scheduling failure"},
		"N-002": {Title: "Service 无法访问", TitleEN: "Service unreachable"},
		"N-003": {Title: "Ingress 路由错误", TitleEN: "Ingress routing error"},
		"S-001": {Title: "PVC 一直 Pending", TitleEN: "PVC stuck in Pending"},
	}
	d.Summarize(0)
	return d
}

// testMeta knows two cases, as a library does; the others have only the
// report's titles.
func testMeta(l Lang) Meta {
	cases := map[string]*casebook.Case{
		"S-001": {ID: "S-001", File: "storage-pvc-pending.md", Component: "storage",
			SummaryEN: "A PersistentVolumeClaim stays Pending because no StorageClass provisions it.",
			Sections:  []casebook.Section{{Title: "故障描述", Text: "StatefulSet 的 Pod 一直 Pending，PVC 没有绑定。\n\n```\nkubectl get pvc\n```\n"}}},
		"K-002": {ID: "K-002", File: "k3s-pod-scheduling-failure.md", Component: "k3s",
			SummaryEN: "Pods stay Pending when no node has the requested resources."},
	}
	return Meta{Lang: l, Version: "v0.9.0", Case: func(id string) (*casebook.Case, bool) { c, ok := cases[id]; return c, ok }}
}

// testCSS is the web UI's stylesheet, which the CLI passes in.
func testCSS(t *testing.T) []byte {
	t.Helper()
	css, err := os.ReadFile("../web/static/casebook.css")
	if err != nil {
		t.Fatal(err)
	}
	return css
}

func TestCIReportsGolden(t *testing.T) {
	css := []byte(":root { --crit: #b42318; }\n")
	for _, tc := range []struct {
		name   string
		render func(*bytes.Buffer, *casebook.Report) error
	}{
		{"linked.sarif.golden", func(b *bytes.Buffer, d *casebook.Report) error { return SARIF(b, d, testMeta(ZH)) }},
		{"linked.en.sarif.golden", func(b *bytes.Buffer, d *casebook.Report) error { return SARIF(b, d, testMeta(EN)) }},
		{"linked.junit.golden", func(b *bytes.Buffer, d *casebook.Report) error { return JUnit(b, d, testMeta(ZH)) }},
		{"linked.en.junit.golden", func(b *bytes.Buffer, d *casebook.Report) error { return JUnit(b, d, testMeta(EN)) }},
		{"linked.html.golden", func(b *bytes.Buffer, d *casebook.Report) error { return HTML(b, d, testMeta(ZH), css) }},
		{"linked.en.html.golden", func(b *bytes.Buffer, d *casebook.Report) error { return HTML(b, d, testMeta(EN), css) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.render(&b, linkedReport()); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestSARIFSchema validates the SARIF of a report with links, of an empty
// one and of one with unknown cases against the OASIS SARIF 2.1.0 schema.
func TestSARIFSchema(t *testing.T) {
	schema := reporttest.SARIFSchema(t)
	rego := sampleRego(t, "broken")
	empty := casebook.NewReport("cluster https://127.0.0.1:6443 (Kubernetes v1.37.2), all namespaces")
	empty.Summarize(0)
	for name, tc := range map[string]struct {
		d *casebook.Report
		m Meta
	}{
		"linked zh":      {linkedReport(), testMeta(ZH)},
		"linked en":      {linkedReport(), testMeta(EN)},
		"no library":     {linkedReport(), Meta{}},
		"empty":          {empty, testMeta(ZH)},
		"older findings": {sampleDiagnosis(), Meta{Lang: EN}},
		"check rego":     {rego.Report(), Meta{Lang: EN, Command: "casebook check rego", Locate: rego.Locate}},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := SARIF(&b, tc.d, tc.m); err != nil {
				t.Fatal(err)
			}
			if err := reporttest.ValidateSARIF(t, schema, b.Bytes()); err != nil {
				t.Fatalf("not valid SARIF 2.1.0: %v", err)
			}
		})
	}
	// The schema is strict enough to catch a broken log: a result without
	// its message fails.
	bad := map[string]any{"version": "2.1.0", "runs": []any{map[string]any{"tool": map[string]any{"driver": map[string]any{"name": "casebook"}},
		"results": []any{map[string]any{"ruleId": "S-001"}}}}}
	raw, _ := json.Marshal(bad)
	if reporttest.ValidateSARIF(t, schema, raw) == nil {
		t.Error("a result without a message passes the schema; the test proves nothing")
	}
}

// TestSARIFContent checks what code scanning shows: rules only for the
// cases found, levels by severity, objects as logical locations, links.
func TestSARIFContent(t *testing.T) {
	var b bytes.Buffer
	if err := SARIF(&b, linkedReport(), testMeta(EN)); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	var rules []string
	for _, r := range run.Tool.Driver.Rules {
		rules = append(rules, r.ID)
	}
	if got := strings.Join(rules, " "); got != "S-001 K-002 N-002 N-003" {
		t.Errorf("rules = %s, want the four cases found (not W-001, which found nothing)", got)
	}
	if r := run.Tool.Driver.Rules[0]; r.HelpURI != RepositoryURL+"/blob/main/cases/storage-pvc-pending.md" || r.FullDescription == nil || !strings.Contains(r.FullDescription.Text, "StorageClass") {
		t.Errorf("S-001 rule = %+v", r)
	}
	if len(run.Results) != 4 {
		t.Fatalf("%d results, want 4", len(run.Results))
	}
	s001, n002 := run.Results[0], run.Results[2]
	if s001.Level != "error" || n002.Level != "warning" {
		t.Errorf("levels %s, %s; want error for critical, warning for major", s001.Level, n002.Level)
	}
	if got := s001.Locations[0].LogicalLocations[0].FullyQualifiedName; got != "historian/PersistentVolumeClaim/data-historian-0" {
		t.Errorf("location %q", got)
	}
	// Every location and related location has a physical one: code
	// scanning rejects a log with logical locations only.
	for _, res := range run.Results {
		for _, loc := range append(append([]sarifLocation{}, res.Locations...), res.RelatedLocations...) {
			if loc.PhysicalLocation == nil || loc.PhysicalLocation.ArtifactLocation.URI == "" || loc.PhysicalLocation.Region.StartLine < 1 {
				t.Errorf("%s: a location without a physical location: %+v", res.RuleID, loc)
			}
		}
	}
	if got := s001.Locations[0].PhysicalLocation.ArtifactLocation.URI; got != "historian/PersistentVolumeClaim/data-historian-0" {
		t.Errorf("physical location %q, want the path named after the object", got)
	}
	if len(n002.RelatedLocations) != 2 || !strings.HasPrefix(n002.RelatedLocations[0].Message.Text, "caused by S-001") ||
		!strings.HasPrefix(n002.RelatedLocations[1].Message.Text, "causes N-003") {
		t.Errorf("N-002 related locations = %+v", n002.RelatedLocations)
	}
	if !s001.Properties.RootCause || n002.Properties.RootCause || len(n002.Properties.Evidence) != 2 || len(s001.Properties.Next) != 2 {
		t.Errorf("properties: %+v / %+v", s001.Properties, n002.Properties)
	}
	if s001.PartialFingerprints["casebookFinding/v1"] == run.Results[1].PartialFingerprints["casebookFinding/v1"] {
		t.Error("two findings share a fingerprint")
	}
}

// TestSARIFLocatesFiles: check rego places a template's finding at the
// file and line of its ConstraintTemplate.
func TestSARIFLocatesFiles(t *testing.T) {
	rego := sampleRego(t, "broken")
	var b bytes.Buffer
	if err := SARIF(&b, rego.Report(), Meta{Lang: EN, Locate: rego.Locate}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, res := range log.Runs[0].Results {
		for _, loc := range res.Locations {
			if loc.LogicalLocations[0].FullyQualifiedName == "ConstraintTemplate/k8sallowedrepos" {
				found = true
				if got := loc.PhysicalLocation; got.ArtifactLocation.URI != "../inspect/testdata/rego/broken/v0-in-v1-template.yaml" || got.Region.StartLine < 1 {
					t.Errorf("k8sallowedrepos at %+v", got)
				}
			}
		}
	}
	if !found {
		t.Error("no finding on ConstraintTemplate/k8sallowedrepos")
	}
}

// TestJUnitParses reads the XML back: one suite, one case per detector,
// one failure per finding, the passing detector without failure.
func TestJUnitParses(t *testing.T) {
	var b bytes.Buffer
	if err := JUnit(&b, linkedReport(), testMeta(ZH)); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, b.String())
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Tests != 5 || len(s.Cases) != 5 || s.Failures != 4 || doc.Failures != 4 {
		t.Errorf("tests %d (%d cases), failures %d/%d; want 5 cases, 4 failures", s.Tests, len(s.Cases), s.Failures, doc.Failures)
	}
	byName := map[string]junitCase{}
	for _, c := range s.Cases {
		byName[c.Classname] = c
	}
	if w := byName["casebook.W-001"]; len(w.Failures) != 0 {
		t.Errorf("W-001 found nothing but fails: %+v", w)
	}
	n := byName["casebook.N-002"]
	if len(n.Failures) != 1 {
		t.Fatalf("N-002: %+v", n)
	}
	text := n.Failures[0].Text
	for _, want := range []string{"根因： S-001", "→ 导致： N-003", "historian/Service/historian", "Pod historian/historian-0 status.phase: Pending",
		"kubectl get endpointslices -n historian -l kubernetes.io/service-name=historian"} {
		if !strings.Contains(text, want) {
			t.Errorf("N-002 failure text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(s.SystemErr, "did not find expected key") {
		t.Errorf("warnings missing from system-err: %q", s.SystemErr)
	}
}

// TestHTMLSelfContained renders the report with the real stylesheet and
// checks it loads nothing, runs nothing, allows only its own style, and
// shows every finding with consequences under their root cause.
func TestHTMLSelfContained(t *testing.T) {
	for _, l := range []Lang{ZH, EN} {
		t.Run(string(l), func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, linkedReport(), testMeta(l), testCSS(t)); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			if regexp.MustCompile(`(?i)<script`).MatchString(page) {
				t.Error("the page has a script (the evidence's <script> must be escaped)")
			}
			if m := regexp.MustCompile(`(?i)(src|srcset)\s*=|<link\b|@import|url\(\s*['"]?https?:|<iframe|<object|<embed`).FindString(page); m != "" {
				t.Errorf("the page loads an asset: %q", m)
			}
			for _, m := range regexp.MustCompile(`https?://[^"'\s<>]+`).FindAllStringIndex(page, -1) {
				before := page[max(0, m[0]-6):m[0]]
				if !strings.HasSuffix(before, `href="`) {
					t.Errorf("URL outside a link: %q", page[m[0]:m[1]])
				}
			}
			style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page)
			if style == nil || !strings.Contains(style[1], ".finding-group") {
				t.Fatal("no inline stylesheet with the web UI's rules")
			}
			sum := sha256.Sum256([]byte(style[1]))
			csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
			meta := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)"`).FindStringSubmatch(page)
			if meta == nil || !strings.HasPrefix(html.UnescapeString(meta[1]), csp+";") {
				t.Errorf("the CSP %q does not allow exactly the inline style (want %s)", meta, csp)
			}
			msgs := map[Lang][]string{
				ZH: {"PVC 未指定 StorageClass", "Service 没有就绪的端点", "Ingress 指向的 Service 没有就绪端点", "Pod 无法调度", `lang="zh-CN"`, "根因", "→ 导致"},
				EN: {"the claim names no StorageClass", "the Service has no ready endpoints", "the Ingress routes to a Service", "pod cannot be scheduled", `lang="en"`, "root causes", "→ causes"},
			}[l]
			for _, want := range msgs {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			// Root cause first: S-001's group holds N-002, which holds N-003;
			// neither consequence has a group of its own.
			s001 := strings.Index(page, `data-case="S-001"`)
			n002 := strings.Index(page, `data-finding="N-002/`)
			n003 := strings.Index(page, `data-finding="N-003/`)
			k002 := strings.Index(page, `data-case="K-002"`)
			if !(s001 >= 0 && s001 < n002 && n002 < n003 && n003 < k002) {
				t.Errorf("order S-001 %d, N-002 %d, N-003 %d, K-002 %d: want the consequences under S-001, before the next root", s001, n002, n003, k002)
			}
			if regexp.MustCompile(`<article[^>]*data-case="N-00[23]"`).MatchString(page) {
				t.Error("a consequence is shown as a root cause too")
			}
			if !strings.Contains(page, "kubectl describe pvc -n historian data-historian-0") || !strings.Contains(page, "edge-1") {
				t.Error("next steps or their node are missing")
			}
		})
	}
}

// TestHTMLOrphanConsequence: a finding whose root cause is not in the
// report (excluded) stands on its own.
func TestHTMLOrphanConsequence(t *testing.T) {
	d := linkedReport()
	d.Findings = d.Findings[1:] // S-001 excluded
	var b bytes.Buffer
	if err := HTML(&b, d, testMeta(EN), nil); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`<article[^>]*data-case="N-002"`).MatchString(b.String()) {
		t.Error("N-002 lost its root cause and vanished")
	}
}

// TestJUnitSubjects: check rego has one test case per file and template
// checked, each failing with the findings on it, and no finding lost.
func TestJUnitSubjects(t *testing.T) {
	rego := sampleRego(t, "broken")
	var b bytes.Buffer
	if err := JUnit(&b, rego.Report(), Meta{Lang: EN, Command: "casebook check rego", Subjects: rego.Subjects()}); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Suites[0]
	if s.Name != "casebook check rego" || len(s.Cases) != len(rego.Files)+len(rego.Templates) {
		t.Errorf("suite %q with %d cases, want %d files and templates", s.Name, len(s.Cases), len(rego.Files)+len(rego.Templates))
	}
	if s.Failures != len(rego.Findings) {
		t.Errorf("%d failures for %d findings", s.Failures, len(rego.Findings))
	}
	for _, c := range s.Cases {
		if c.Name == "ConstraintTemplate k8sallowedrepos" && (len(c.Failures) == 0 || c.Classname != "casebook.ConstraintTemplate") {
			t.Errorf("k8sallowedrepos: %+v", c)
		}
	}
}
