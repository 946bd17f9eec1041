package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
)

// run runs casebook with args over test streams and returns the exit code,
// stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := TestStreams()
	f := &Factory{IO: io, Version: "test"}
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// copyLibrary copies the repository's cases/ into a temp dir the test may change.
func copyLibrary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "cases")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestList(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantIDs  []string
		wantCode int
	}{
		{"component", []string{"list", "--component", "wasmedge", "-o", "json"}, []string{"W-001", "W-002", "W-003", "W-004", "W-005", "W-006", "W-007", "W-008", "W-009"}, 0},
		{"chinese severity", []string{"list", "--severity", "严重", "--component", "k3s", "-o", "json"}, []string{"K-001", "K-002", "K-006"}, 0},
		{"english severity", []string{"list", "--severity", "critical", "--component", "network", "-o", "json"}, []string{"N-001", "N-002", "N-004"}, 0},
		{"component prefix", []string{"list", "--component", "S", "-o", "json"}, []string{"S-001", "S-002"}, 0},
		{"bad severity", []string{"list", "--severity", "urgent"}, nil, ExitUsage},
		{"bad output", []string{"list", "-o", "xml"}, nil, ExitUsage},
		{"unknown flag", []string{"list", "--colour"}, nil, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, errOut)
			}
			if tt.wantIDs == nil {
				if errOut == "" {
					t.Error("want an error message on stderr")
				}
				return
			}
			var got []casebook.Summary
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("bad json: %v\n%s", err, out)
			}
			var ids []string
			for _, c := range got {
				ids = append(ids, c.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantIDs, ",") {
				t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
			}
		})
	}
}

func TestListTableShowsStatus(t *testing.T) {
	code, out, _ := run(t, "list", "--component", "wasmedge")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 10 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("want a header and 9 rows, got:\n%s", out)
	}
	if !strings.Contains(lines[1], "W-001") || !strings.Contains(lines[1], "已完成") {
		t.Errorf("W-001 row should say 已完成: %q", lines[1])
	}
}

func TestShow(t *testing.T) {
	code, out, _ := run(t, "show", "w-001")
	if code != 0 || !strings.Contains(out, "W-001") || !strings.Contains(out, "排查过程") {
		t.Errorf("show w-001: exit %d\n%s", code, out)
	}
	code, _, errOut := run(t, "show", "W-010")
	if code != ExitUsage || !strings.Contains(errOut, "no case W-010; did you mean W-001?") {
		t.Errorf("show W-010: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = run(t, "show", "K-006")
	if code != 0 || !regexp.MustCompile(`(?m)^    source:   k3s-io/k3s@\S+:pkg/`).MatchString(out) || !strings.Contains(out, "    versions: ") {
		t.Errorf("show K-006 should list each signal's source and versions:\n%s", out)
	}
	code, out, _ = run(t, "show", "K-006", "-o", "markdown")
	if code != 0 || !strings.HasPrefix(out, "---\nid: K-006") {
		t.Errorf("show -o markdown should print the file: exit %d, %q", code, out[:min(len(out), 40)])
	}
	code, _, _ = run(t, "show")
	if code != ExitUsage {
		t.Errorf("show without ID: exit %d, want %d", code, ExitUsage)
	}
}

func TestSearchCommand(t *testing.T) {
	code, out, _ := run(t, "search", "冷启动")
	if code != 0 || !strings.HasPrefix(out, "1. W-001") {
		t.Errorf("search 冷启动: exit %d\n%s", code, out)
	}
	code, _, errOut := run(t, "search", "kafka", "zookeeper", "rebalance")
	if code != ExitError || !strings.Contains(errOut, "no case matches") {
		t.Errorf("search with no hit: exit %d, %q", code, errOut)
	}
}

func TestLintCommand(t *testing.T) {
	dir := copyLibrary(t)
	code, out, errOut := run(t, "lint", dir)
	if code != 0 {
		t.Fatalf("lint of the shipped library: exit %d\n%s%s", code, out, errOut)
	}
	bad := "---\nid: W-099\ntitle: x\ntitle_en: x\ncomponent: wasm\nseverity: critical\ntypes: [runtime-error]\n---\n"
	if err := os.WriteFile(filepath.Join(dir, "wasmedge-bad.md"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "lint", dir)
	want := filepath.ToSlash(dir) + "/wasmedge-bad.md:5: unknown component \"wasm\""
	if code != ExitUsage || !strings.Contains(out, want) {
		t.Errorf("lint with a bad file: exit %d, want %d and %q in\n%s", code, ExitUsage, want, out)
	}
	// list still works, warning about the bad file.
	code, out, errOut = run(t, "--cases", dir, "list", "--component", "storage")
	if code != 0 || !strings.Contains(out, "S-001") || !strings.Contains(errOut, "wasmedge-bad.md:5") {
		t.Errorf("list next to a bad file: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestNewThenLintThenIndex(t *testing.T) {
	dir := copyLibrary(t)
	// The scaffold takes the next free ID of the component.
	_, listed, _ := run(t, "--cases", dir, "list", "--component", "wasmedge", "-o", "json")
	next := 0
	for _, m := range regexp.MustCompile(`"id": "W-(\d{3})"`).FindAllStringSubmatch(listed, -1) {
		n, _ := strconv.Atoi(m[1])
		next = max(next, n+1)
	}
	newID := fmt.Sprintf("W-%03d", next)
	code, out, errOut := run(t, "--cases", dir, "new", "--component", "wasmedge", "--title", "Wasm 插件加载失败", "--title-en", "Wasm plugin fails to load", "--severity", "中等")
	if code != 0 {
		t.Fatalf("new: exit %d: %s", code, errOut)
	}
	path := strings.TrimSpace(out)
	if filepath.Base(path) != "wasmedge-plugin-fails-to-load.md" {
		t.Errorf("new file = %s", path)
	}
	data, _ := os.ReadFile(path)
	for _, frag := range []string{"id: " + newID, "title: 'Wasm 插件加载失败'", "severity: major", "component: wasmedge", "signals: []"} {
		if !strings.Contains(string(data), frag) {
			t.Errorf("scaffold lacks %q:\n%s", frag, data)
		}
	}
	if code, out, _ := run(t, "lint", dir); code != 0 {
		t.Errorf("lint after new: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "--cases", dir, "list", "--status", "待补充", "--component", "wasmedge", "-o", "json")
	if code != 0 || !strings.Contains(out, `"`+newID+`"`) {
		t.Errorf("the new case should list as a draft: %s", out)
	}
	// The checked-in index is stale until index runs.
	if code, _, _ := run(t, "index", "--check", dir); code != ExitError {
		t.Errorf("index --check after new: exit %d, want %d", code, ExitError)
	}
	if code, _, errOut := run(t, "index", dir); code != 0 {
		t.Fatalf("index: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "index", "--check", dir); code != 0 {
		t.Errorf("index --check after index: exit %d %s", code, errOut)
	}
	idx, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !strings.Contains(string(idx), "["+newID+"](wasmedge-plugin-fails-to-load.md) | Wasm 插件加载失败 | 中等 | ⏳ 待补充") {
		t.Errorf("index lacks the new case")
	}
	// A second new with the same title does not overwrite.
	if code, _, _ := run(t, "--cases", dir, "new", "--component", "wasmedge", "--title", "x", "--file", "wasmedge-plugin-fails-to-load.md"); code != ExitUsage {
		t.Errorf("new over an existing file: exit %d, want %d", code, ExitUsage)
	}
}

func TestVersionAndCompletion(t *testing.T) {
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasPrefix(out, "casebook test") {
		t.Errorf("version: %d %q", code, out)
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if code, out, _ := run(t, "completion", sh); code != 0 || !strings.Contains(out, "casebook") {
			t.Errorf("completion %s: exit %d", sh, code)
		}
	}
	if code, _, _ := run(t, "frobnicate"); code != ExitUsage {
		t.Errorf("unknown command: exit %d, want %d", code, ExitUsage)
	}
}
