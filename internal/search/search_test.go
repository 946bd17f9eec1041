package search_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/search"
)

func fixtureIndex(t testing.TB) *search.Index {
	t.Helper()
	mk := func(id, comp, title, titleEN, body string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte("---\nid: " + id + "\ntitle: " + title + "\ntitle_en: " + titleEN +
			"\ncomponent: " + comp + "\nseverity: major\ntypes: [runtime-error]\n---\n\n## 故障描述\n\n" + body + "\n")}
	}
	lib, err := caseload.Load(fstest.MapFS{
		"a.md": mk("K-006", "k3s", "K3s 证书过期问题", "K3s certificate expiry", "kubectl 报告 x509: certificate has expired or is not yet valid，证书已过期。"),
		"b.md": mk("W-001", "wasmedge", "Wasm 应用冷启动超时", "Wasm application cold start timeout", "模块冷启动耗时过长，startupProbe 失败。"),
		"c.md": mk("O-001", "opa-gatekeeper", "Gatekeeper Webhook 超时", "Gatekeeper webhook timeout", "failed calling webhook \"validation.gatekeeper.sh\": context deadline exceeded"),
		"d.md": mk("S-002", "storage", "存储性能问题", "Storage performance issue", "磁盘延迟高，fio 测得 IOPS 很低，过期的快照占满空间。"),
	}, "")
	if err != nil || len(lib.Problems) > 0 {
		t.Fatalf("load: %v %v", err, lib.Problems)
	}
	ix, err := search.NewIndex(lib.Cases)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func TestSearchRanks(t *testing.T) {
	ix := fixtureIndex(t)
	tests := []struct {
		query string
		first string
	}{
		{"证书过期", "K-006"},
		{"冷启动", "W-001"},
		{"webhook 超时", "O-001"},
		{"certificate expired", "K-006"},
		{"cold start", "W-001"},
		{"x509 证书", "K-006"},
		{"k-006", "K-006"},
		{"存储 性能", "S-002"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			hits, err := ix.Search(tt.query, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) == 0 || hits[0].Case.ID != tt.first {
				var got []string
				for _, h := range hits {
					got = append(got, h.Case.ID)
				}
				t.Fatalf("Search(%q) = %v, want %s first", tt.query, got, tt.first)
			}
		})
	}
}

func TestSearchNoHitAndEmpty(t *testing.T) {
	ix := fixtureIndex(t)
	hits, err := ix.Search("kafka zookeeper", 5)
	if err != nil || len(hits) != 0 {
		t.Errorf("unrelated query: hits=%d err=%v, want none", len(hits), err)
	}
	if _, err := ix.Search("   ", 5); err == nil {
		t.Error("empty query should be an error")
	}
}

func TestSnippetsEscapeHTML(t *testing.T) {
	ix := fixtureIndex(t)
	hits, err := ix.Search("validation.gatekeeper.sh", 1)
	if err != nil || len(hits) == 0 {
		t.Fatalf("no hit: %v", err)
	}
	joined := strings.Join(hits[0].Snippets, " ")
	if !strings.Contains(joined, "<mark>") || strings.Contains(joined, `"validation`) {
		t.Errorf("snippet should mark terms and escape quotes: %q", joined)
	}
	if got := search.PlainSnippet(joined, "[", "]"); strings.Contains(got, "<mark>") || !strings.Contains(got, `"`) {
		t.Errorf("PlainSnippet = %q", got)
	}
}

func TestSearchEmbeddedLibrary(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := search.NewIndex(lib.Cases)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for q, want := range map[string]string{"冷启动": "W-001", "证书过期": "K-006"} {
		hits, err := ix.Search(q, 3)
		if err != nil || len(hits) == 0 || hits[0].Case.ID != want {
			t.Errorf("Search(%q) on the library: first hit %v, want %s (err %v)", q, hits, want, err)
		}
	}
}

func BenchmarkSearch(b *testing.B) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		b.Fatal(err)
	}
	ix, err := search.NewIndex(lib.Cases)
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ix.Search("证书过期", 10); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildIndex(b *testing.B) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ix, err := search.NewIndex(lib.Cases)
		if err != nil {
			b.Fatal(err)
		}
		ix.Close()
	}
}
