package caseload

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	casebook "github.com/casebook-dev/casebook"
)

// goodCase is a complete case in the library's format.
const goodCase = `---
id: W-001
title: Wasm 应用冷启动超时
title_en: Wasm application cold start timeout
summary_en: The probe budget is shorter than the module's start.
component: wasmedge
severity: critical
types: [startup-failure, performance]
signals:
  - {text: 'Startup probe failed', source: 'kubernetes/kubernetes@v1.31.0:pkg/kubelet/prober/prober.go#L110', versions: 'Kubernetes v1.16 and later'}
  - {re: 'context deadline exceeded.*wasm', source: [https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/], versions: all}
related: [W-002]
---

## 故障描述

Pod 反复重启，事件显示启动探针失败，冷启动时间超过探针预算，影响该 Deployment 的所有新副本与滚动升级。

## 排查过程

1. 查看 Pod 事件，确认探针失败的类型与次数，以及容器的重启次数。

   ` + "```bash" + `
   kubectl describe pod app-0
   ` + "```" + `

## 根因分析

模块以解释器模式运行，启动耗时远超 startupProbe 的 failureThreshold×periodSeconds 预算。

## 解决方案

使用 wasmedge compile 做 AOT 编译，并为容器增加 startupProbe，使预算覆盖实测启动时间。

## 验证结果

重新部署后 Pod 在预算内变为 Ready，且重启次数不再增长，事件中不再出现探针失败。

` + "```bash" + `
kubectl get pod app-0 -w
` + "```" + `
`

func caseFile(id, component string) string {
	r := strings.NewReplacer("id: W-001", "id: "+id, "component: wasmedge", "component: "+component, "related: [W-002]", "related: []")
	return r.Replace(goodCase)
}

func TestLoadBadInput(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		data     string
		wantLine int
		wantMsg  string
	}{
		{
			name: "malformed yaml", file: "bad-yaml.md",
			data:     "---\nid: W-002\ntitle: [unclosed\ntitle_en: x\n---\n\n## 故障描述\n",
			wantLine: 3, wantMsg: "malformed front matter",
		},
		{
			name: "bad indentation", file: "bad-indent.md",
			data:     "---\nid: W-007\ntitle: ok\n  bad: indent\n---\n",
			wantLine: 4, wantMsg: "mapping values are not allowed",
		},
		{
			name: "unknown component", file: "bad-component.md",
			data:     strings.Replace(caseFile("W-003", "wasmedge"), "component: wasmedge", "component: docker", 1),
			wantLine: 6, wantMsg: `unknown component "docker"`,
		},
		{
			name: "unknown severity", file: "bad-severity.md",
			data:     strings.Replace(caseFile("W-004", "wasmedge"), "severity: critical", "severity: urgent", 1),
			wantLine: 7, wantMsg: `unknown severity "urgent"`,
		},
		{
			name: "duplicate id", file: "zz-duplicate.md",
			data:     caseFile("W-001", "wasmedge"),
			wantLine: 2, wantMsg: "duplicate id W-001: already used by cases/good.md",
		},
		{
			name: "not utf-8", file: "latin1.md",
			data:     "---\nid: W-005\ntitle: caf\xe9\n---\n",
			wantLine: 3, wantMsg: "not valid UTF-8",
		},
		{
			name: "no front matter", file: "plain.md",
			data:     "# just markdown\n",
			wantLine: 1, wantMsg: "missing front matter",
		},
		{
			name: "id does not fit component", file: "bad-prefix.md",
			data:     caseFile("K-009", "wasmedge"),
			wantLine: 2, wantMsg: "does not fit component wasmedge",
		},
		{
			name: "bad signal regexp", file: "bad-signal.md",
			data:     strings.Replace(caseFile("W-006", "wasmedge"), "{re: 'context deadline exceeded.*wasm',", "{re: 'unclosed(group',", 1),
			wantLine: 11, wantMsg: "bad regular expression",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"good.md": {Data: []byte(goodCase)},
				"k.md":    {Data: []byte(caseFile("K-001", "k3s"))},
				tt.file:   {Data: []byte(tt.data)},
			}
			lib, err := Load(fsys, "cases/")
			if err != nil {
				t.Fatal(err)
			}
			if len(lib.Problems) != 1 {
				t.Fatalf("want exactly one problem, got %d: %v", len(lib.Problems), lib.Problems)
			}
			p := lib.Problems[0]
			if p.File != "cases/"+tt.file || p.Line != tt.wantLine || !strings.Contains(p.Message, tt.wantMsg) {
				t.Errorf("problem = %q, want cases/%s:%d: …%s…", p.Error(), tt.file, tt.wantLine, tt.wantMsg)
			}
			// The rest of the library still loads.
			for _, id := range []string{"W-001", "K-001"} {
				if _, ok := lib.Get(id); !ok {
					t.Errorf("case %s did not load next to the bad file", id)
				}
			}
		})
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want casebook.Status
	}{
		{"complete", func(s string) string { return s }, casebook.StatusComplete},
		{"placeholder section", func(s string) string {
			return strings.Replace(s, "模块以解释器模式运行，启动耗时远超 startupProbe 的 failureThreshold×periodSeconds 预算。", "待补充。", 1)
		}, casebook.StatusDraft},
		{"no command in 排查过程", func(s string) string {
			return strings.Replace(s, "   ```bash\n   kubectl describe pod app-0\n   ```\n", "", 1)
		}, casebook.StatusDraft},
		{"missing 验证结果", func(s string) string { return s[:strings.Index(s, "## 验证结果")] }, casebook.StatusDraft},
		{"no English summary", func(s string) string {
			return strings.Replace(s, "summary_en: The probe budget is shorter than the module's start.\n", "", 1)
		}, casebook.StatusDraft},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib, err := Load(fstest.MapFS{"w.md": {Data: []byte(tt.edit(goodCase))}}, "")
			if err != nil {
				t.Fatal(err)
			}
			c, ok := lib.Get("W-001")
			if !ok {
				t.Fatalf("case did not load: %v", lib.Problems)
			}
			if c.Status != tt.want {
				t.Errorf("status = %s, want %s", c.Status, tt.want)
			}
		})
	}
}

func TestLoadParsesFrontMatter(t *testing.T) {
	lib, err := Load(fstest.MapFS{"wasmedge-cold-start-timeout.md": {Data: []byte(goodCase)}}, "cases/")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := lib.Get("w-001")
	if c == nil {
		t.Fatalf("W-001 not loaded: %v", lib.Problems)
	}
	if c.Severity != casebook.SeverityCritical || c.Component != casebook.ComponentWasmEdge || len(c.Types) != 2 {
		t.Errorf("classification = %s/%s/%v", c.Component, c.Severity, c.Types)
	}
	if len(c.Signals) != 2 || c.Signals[0].Literal != "Startup probe failed" || c.Signals[1].Pattern == "" {
		t.Fatalf("signals = %+v", c.Signals)
	}
	if re, err := c.Signals[1].Compile(); err != nil || !re.MatchString("Error: CONTEXT DEADLINE EXCEEDED while starting wasm module") {
		t.Error("regexp signal should match case-insensitively")
	}
	if got := len(c.Sections); got != 5 {
		t.Errorf("sections = %d, want 5", got)
	}
	if s := c.Section("排查过程"); s == nil || s.CodeBlocks != 1 || s.Line != 19 {
		t.Errorf("排查过程 = %+v, want 1 code block at line 19", s)
	}
}

func TestSuggest(t *testing.T) {
	lib, _ := Load(fstest.MapFS{"a.md": {Data: []byte(goodCase)}, "k.md": {Data: []byte(caseFile("K-006", "k3s"))}}, "")
	for in, want := range map[string]string{"W-010": "W-001", "k-06": "K-006", "zzzzzzzz": ""} {
		if got := lib.Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := lib.NextID(casebook.ComponentWasmEdge); got != "W-002" {
		t.Errorf("NextID(wasmedge) = %s, want W-002", got)
	}
}

// TestLoadSkipsSpecialFiles: a FIFO named like a case is reported and
// skipped instead of blocking the load forever.
func TestLoadSkipsSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wasmedge-cold-start-timeout.md"), []byte(goodCase), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.md"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan *Library, 1)
	go func() {
		lib, err := Load(os.DirFS(dir), "cases/")
		if err != nil {
			t.Error(err)
		}
		done <- lib
	}()
	select {
	case lib := <-done:
		if lib == nil {
			return
		}
		if len(lib.Cases) != 1 || len(lib.Problems) != 1 || lib.Problems[0].File != "cases/pipe.md" || !strings.Contains(lib.Problems[0].Message, "not a regular file") {
			t.Errorf("cases %d, problems %v", len(lib.Cases), lib.Problems)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
}
