package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	casebook "github.com/casebook-dev/casebook"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleDiagnosis() *casebook.Report {
	var pods []casebook.ObjectRef
	var evidence []casebook.Evidence
	for i := range 10 {
		name := fmt.Sprintf("api-6f9c7d8b5c-%02d", i)
		pods = append(pods, casebook.ObjectRef{Kind: "Pod", Namespace: "shop", Name: name})
		evidence = append(evidence, casebook.Evidence{Object: pods[i], Field: "condition PodScheduled=False reason Unschedulable", Text: "0/3 nodes are available: 3 Insufficient memory."})
	}
	d := casebook.NewReport("snapshot examples/edge-cluster (12 files)")
	d.Time = time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	d.Detectors = []string{"K-002", "N-003"}
	*d = casebook.Report{APIVersion: d.APIVersion, Kind: d.Kind, Source: d.Source, Time: d.Time, Detectors: d.Detectors,
		Findings: []casebook.Finding{
			{CaseID: "K-002", Severity: casebook.SeverityCritical, Cause: "insufficient-memory", Objects: pods,
				Message: "pod cannot be scheduled: 3 node(s): not enough free memory", MessageZH: "Pod 无法调度：节点空闲内存不足", Evidence: evidence,
				Next: []casebook.Step{
					{Command: "kubectl describe pod -n shop api-6f9c7d8b5c-00", Ref: "K-002#排查过程", StepNo: 1, Title: "列出 Pending Pod，取出完整的调度失败消息。"},
					{Command: "journalctl -u k3s-agent --no-pager -n 200", Node: "edge-2", Ref: "K-002#排查过程", StepNo: 3, Title: "资源与 Pod 数量"}}},
			{CaseID: "N-003", Severity: casebook.SeverityMajor, Cause: "backend-port-missing",
				Objects: []casebook.ObjectRef{{Kind: "Ingress", Namespace: "shop", Name: "web"}},
				Message: "the Ingress routes to a port its backend Service does not have",
				Evidence: []casebook.Evidence{
					{Object: casebook.ObjectRef{Kind: "Ingress", Namespace: "shop", Name: "web"}, Field: "rule shop.example.com/ backend", Text: "service web port 8080"},
					{Object: casebook.ObjectRef{Kind: "Service", Namespace: "shop", Name: "web"}, Field: "spec.ports", Text: "http 80/TCP | web"}},
				Next: []casebook.Step{{Command: "kubectl describe ingress -n shop web", Ref: "N-003#排查过程", StepNo: 5, Title: "核对后端 Service、端口与端点。"}}},
		},
		Warnings: []casebook.Warning{{Source: "snapshot", Message: "bundle/broken.yaml: yaml: line 3: did not find expected key (file skipped)"}},
		Cases: map[string]casebook.CaseTitle{
			"K-002": {Title: "K3s Pod 调度失败", TitleEN: "K3s pod scheduling failure"},
			"N-003": {Title: "Ingress 路由错误", TitleEN: "Ingress routing error"},
		},
	}
	d.Summarize(1)
	return d
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/report -update to accept)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestFindingsGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		render func(*bytes.Buffer, *casebook.Report) error
	}{
		{"findings.table.golden", func(b *bytes.Buffer, d *casebook.Report) error { return FindingsTable(b, d, false) }},
		{"findings.color.golden", func(b *bytes.Buffer, d *casebook.Report) error { return FindingsTable(b, d, true) }},
		{"findings.md.golden", func(b *bytes.Buffer, d *casebook.Report) error { return FindingsMarkdown(b, d) }},
		{"findings.json.golden", func(b *bytes.Buffer, d *casebook.Report) error { return JSON(b, d) }},
		{"findings.yaml.golden", func(b *bytes.Buffer, d *casebook.Report) error { return YAML(b, d) }},
		{"empty.table.golden", func(b *bytes.Buffer, _ *casebook.Report) error {
			e := casebook.NewReport("cluster https://127.0.0.1:6443 (Kubernetes v1.37.2), all namespaces")
			e.Summarize(0)
			return FindingsTable(b, e, false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.render(&b, sampleDiagnosis()); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestColourOnlyWhenAsked: no escape codes unless colour is on.
func TestColourOnlyWhenAsked(t *testing.T) {
	var plain, color bytes.Buffer
	FindingsTable(&plain, sampleDiagnosis(), false)
	FindingsTable(&color, sampleDiagnosis(), true)
	if bytes.Contains(plain.Bytes(), []byte("\x1b[")) {
		t.Error("plain table has escape codes")
	}
	if !bytes.Contains(color.Bytes(), []byte("\x1b[1m\x1b[31mK-002")) {
		t.Error("critical case is not red when colour is on")
	}
}
