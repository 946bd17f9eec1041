package caseload

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLint(t *testing.T) {
	tests := []struct {
		name string
		file string
		data string
		want []string // "LINE: message fragment"
	}{
		{name: "clean", file: "wasmedge-cold-start-timeout.md", data: goodCase},
		{
			name: "missing required section", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "## 根因分析", "## 复现", 1),
			want: []string{`27: section "复现" is out of order`, `31: missing required section "## 根因分析"`},
		},
		{
			name: "section out of order", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "## 故障描述", "## 参考资料", 1),
			want: []string{`15: section "参考资料" is out of order`, `19: missing required section "## 故障描述"`},
		},
		{
			name: "unknown section", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "## 根因分析", "## 根因分析\n\n## 小结", 1),
			want: []string{`29: unknown section "小结"`},
		},
		{
			name: "code block without language", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "```bash\nkubectl get pod", "```\nkubectl get pod", 1),
			want: []string{"39: fenced code block without a language"},
		},
		{
			name: "broken relative link", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "模块以解释器", "见 [W-009](wasmedge-missing.md)。模块以解释器", 1),
			want: []string{`29: link "wasmedge-missing.md" does not resolve`},
		},
		{
			name: "file name differs from the seed", file: "cold-start.md", data: goodCase,
			want: []string{"1: file name cold-start.md does not match the seed's link for W-001: wasmedge-cold-start-timeout.md"},
		},
		{
			name: "title differs from the seed", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "title: Wasm 应用冷启动超时", "title: 冷启动慢", 1),
			want: []string{`3: title "冷启动慢" differs from the seed's title`},
		},
		{
			name: "related case missing", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "related: [W-002]", "related: [W-042]", 1),
			want: []string{"12: related case W-042 does not exist"},
		},
		{
			name: "signal without provenance", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "  - {text: 'Startup probe failed', source: 'kubernetes/kubernetes@v1.31.0:pkg/kubelet/prober/prober.go#L110', versions: 'Kubernetes v1.16 and later'}", "  - 'Startup probe failed'", 1),
			want: []string{`10: signal "Startup probe failed" has no source`, `10: signal "Startup probe failed" has no versions`},
		},
		{
			name: "signal source malformed", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "kubernetes/kubernetes@v1.31.0:pkg", "kubernetes/kubernetes:pkg", 1),
			want: []string{`10: signal: source "kubernetes/kubernetes:pkg/kubelet/prober/prober.go#L110": want owner/repo@ref:path`},
		},
		{
			name: "signal with text and re", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "{re: 'context deadline exceeded.*wasm',", "{text: 'x y z', re: 'context deadline exceeded.*wasm',", 1),
			want: []string{"11: signal: give either text or re, not both"},
		},
		{
			name: "signal with unknown key", file: "wasmedge-cold-start-timeout.md",
			data: strings.Replace(goodCase, "versions: all}", "versions: all, since: v1}", 1),
			want: []string{`11: signal: unknown key "since"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				tt.file:                       {Data: []byte(tt.data)},
				"wasmedge-memory-overflow.md": {Data: []byte(strings.NewReplacer("id: W-001", "id: W-002", "title: Wasm 应用冷启动超时", "title: Wasm 内存溢出", "related: [W-002]", "related: []").Replace(goodCase))},
			}
			problems, _, err := Lint(fsys, "cases/")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range problems {
				if p.File == "cases/"+tt.file {
					got = append(got, p.Error())
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems = %q, want %d matching %q", got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				line, frag, _ := strings.Cut(w, ": ")
				prefix := "cases/" + tt.file + ":" + line + ": "
				if !strings.HasPrefix(got[i], prefix) || !strings.Contains(got[i], frag) {
					t.Errorf("problem %d = %q, want %s…%s", i, got[i], prefix, frag)
				}
			}
		})
	}
}
