package caseload

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRenderIndexGolden(t *testing.T) {
	fsys := fstest.MapFS{
		"wasmedge-cold-start-timeout.md": {Data: []byte(goodCase)},
		"k3s-certificate-expired.md": {Data: []byte(strings.NewReplacer(
			"id: W-001", "id: K-006", "title: Wasm 应用冷启动超时", "title: K3s 证书过期问题",
			"component: wasmedge", "component: k3s", "types: [startup-failure, performance]", "types: [security, misconfiguration]",
			"related: [W-002]", "related: []").Replace(goodCase))},
		"pvc-mount-failed.md": {Data: []byte(strings.NewReplacer(
			"id: W-001", "id: S-001", "title: Wasm 应用冷启动超时", "title: PVC 挂载失败",
			"component: wasmedge", "component: storage", "related: [W-002]", "related: []",
			"## 验证结果", "## 验证结果\n\n待补充").Replace(goodCase))},
	}
	lib, err := Load(fsys, "cases/")
	if err != nil || len(lib.Problems) > 0 {
		t.Fatalf("load: %v %v", err, lib.Problems)
	}
	lib.MarkDetected([]string{"S-001"})
	got, err := RenderIndex(lib)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "index.golden.md")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("index differs from %s; run go test ./internal/caseload -update and review the diff", golden)
	}
	// The seed's link names and labels survive rendering.
	for _, frag := range []string{"[W-001](wasmedge-cold-start-timeout.md) | Wasm 应用冷启动超时 | 严重 | ✅ 已完成", "[S-001](pvc-mount-failed.md) | PVC 挂载失败 | 严重 | ⏳ 待补充 | 🔍 自动", "### 3.2 K3s 故障案例"} {
		if !strings.Contains(string(got), frag) {
			t.Errorf("index lacks %q", frag)
		}
	}
}

func TestAnchor(t *testing.T) {
	for in, want := range map[string]string{"3.3 OPA/Gatekeeper 故障案例": "33-opagatekeeper-故障案例", "📑 目录": "-目录", "1 概述": "1-概述"} {
		if got := anchor(in); got != want {
			t.Errorf("anchor(%q) = %q, want %q", in, got, want)
		}
	}
}
