package caseload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// linkedCase is the good case with n relative links, one a line, all to the
// second case.
func linkedCase(n int) fstest.MapFS {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[W-002 %d](wasmedge-memory-overflow.md)\n\n", i)
	}
	return fstest.MapFS{
		"wasmedge-cold-start-timeout.md": {Data: []byte(strings.Replace(goodCase, "模块以解释器", b.String()+"\n模块以解释器", 1))},
		"wasmedge-memory-overflow.md":    {Data: []byte(strings.NewReplacer("id: W-001", "id: W-002", "title: Wasm 应用冷启动超时", "title: Wasm 内存溢出", "related: [W-002]", "related: []").Replace(goodCase))},
	}
}

// BenchmarkLintLinks lints a case of n relative links: the time per link
// stays flat as n grows (it grew with n when each link's line was found by
// counting newlines from the start).
func BenchmarkLintLinks(b *testing.B) {
	for _, n := range []int{1000, 10_000, 100_000, 400_000} {
		fsys := linkedCase(n)
		b.Run(fmt.Sprintf("links=%d", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := Lint(fsys, "cases/"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/link")
		})
	}
}

// TestLintLinkLines: each link's line is found through the line index.
func TestLintLinkLines(t *testing.T) {
	fsys := linkedCase(20)
	fsys["wasmedge-cold-start-timeout.md"].Data = []byte(strings.Replace(string(fsys["wasmedge-cold-start-timeout.md"].Data),
		"[W-002 7](wasmedge-memory-overflow.md)", "[W-002 7](missing.md)", 1))
	problems, _, err := Lint(fsys, "cases/")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Error())
	}
	if len(got) != 1 || !strings.Contains(got[0], `:43: link "missing.md" does not resolve`) {
		t.Errorf("problems %q, want the link on line 43", got)
	}
}

// TestLintStopsWithTheContext: a cancelled context ends Lint.
func TestLintStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := LintContext(ctx, linkedCase(10), "cases/"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
