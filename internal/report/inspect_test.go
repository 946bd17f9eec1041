package report

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/inspect"
)

var inspectTitles = map[string]casebook.CaseTitle{
	"W-001": {Title: "Wasm 应用冷启动超时", TitleEN: "Wasm application cold start timeout"},
	"W-002": {Title: "Wasm 内存溢出", TitleEN: "Wasm memory overflow"},
	"W-005": {Title: "Wasm 多线程问题", TitleEN: "Wasm multithreading issue"},
	"O-002": {Title: "OPA 策略评估失败", TitleEN: "OPA policy evaluation failed"},
	"O-004": {Title: "OPA 性能问题", TitleEN: "OPA performance issue"},
}

func sampleWasm(t *testing.T, module string, opts inspect.WasmOptions) *WasmInspection {
	t.Helper()
	r, err := inspect.InspectWasmFile(context.Background(), filepath.Join("..", "inspect", "testdata", "wasm", module), opts)
	if err != nil {
		t.Fatal(err)
	}
	return NewWasmInspection(r, inspectTitles)
}

func sampleRego(t *testing.T, dir string) *RegoCheck {
	t.Helper()
	r, err := inspect.CheckRego([]string{filepath.Join("..", "inspect", "testdata", "rego", dir)}, inspect.RegoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return NewRegoCheck(r, inspectTitles)
}

func TestInspectGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		render func(*testing.T, *bytes.Buffer) error
	}{
		{"inspect-wasm.table.golden", func(t *testing.T, b *bytes.Buffer) error {
			return WasmTable(b, sampleWasm(t, "threads.wasm", inspect.WasmOptions{MemoryLimit: 128 << 20}), false)
		}},
		{"inspect-wasm-aot.table.golden", func(t *testing.T, b *bytes.Buffer) error {
			return WasmTable(b, sampleWasm(t, "hello_aot.wasm", inspect.WasmOptions{Arch: "amd64"}), false)
		}},
		{"inspect-wasm.json.golden", func(t *testing.T, b *bytes.Buffer) error {
			return JSON(b, sampleWasm(t, "threads.wasm", inspect.WasmOptions{MemoryLimit: 128 << 20}))
		}},
		{"check-rego.table.golden", func(t *testing.T, b *bytes.Buffer) error {
			return RegoTable(b, sampleRego(t, "broken"), false)
		}},
		{"check-rego-fixed.table.golden", func(t *testing.T, b *bytes.Buffer) error {
			return RegoTable(b, sampleRego(t, "fixed"), false)
		}},
		{"check-rego.json.golden", func(t *testing.T, b *bytes.Buffer) error {
			return JSON(b, sampleRego(t, "broken"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.render(t, &b); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

// TestInspectSummaryCountsObjectsOnce: four checks on one module are four
// findings on one object.
func TestInspectSummaryCountsObjectsOnce(t *testing.T) {
	in := sampleWasm(t, "threads.wasm", inspect.WasmOptions{MemoryLimit: 128 << 20})
	if in.Summary.Findings != 4 || in.Summary.Objects != 1 || in.Summary.Major != 3 || in.Summary.Minor != 1 {
		t.Errorf("summary = %+v", in.Summary)
	}
}

func TestWrapList(t *testing.T) {
	items := strings.Fields("args_get args_sizes_get environ_get environ_sizes_get fd_close fd_fdstat_get fd_prestat_get fd_read fd_write proc_exit")
	lines := wrapList("wasi_snapshot_preview1 [WASI]: ", items, 60)
	if len(lines) < 2 {
		t.Fatalf("not wrapped: %q", lines)
	}
	for i, l := range lines {
		if len(l) > 60 {
			t.Errorf("line %d is %d wide: %q", i, len(l), l)
		}
		if i > 0 && !strings.HasPrefix(l, strings.Repeat(" ", len("wasi_snapshot_preview1 [WASI]: "))) {
			t.Errorf("continuation not indented: %q", l)
		}
	}
	if got := strings.Join(strings.Fields(strings.Join(lines, " ")), " "); got != "wasi_snapshot_preview1 [WASI]: "+strings.Join(items, ", ") {
		t.Errorf("items lost or reordered: %q", got)
	}
}
