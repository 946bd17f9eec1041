package web

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/casebook-dev/casebook/cases"
)

// discard is a ResponseWriter that keeps nothing, so a benchmark measures
// the handler and not a recorder.
type discard struct {
	h      http.Header
	status int
	n      int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(status int)      { d.status = status }
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

func benchServer(b *testing.B) http.Handler {
	b.Helper()
	lib := embeddedLibrary(b)
	return newTestServer(b, Options{Library: lib, CasesFS: cases.FS(), Prefix: "cases/"}).Handler()
}

func benchGet(b *testing.B, h http.Handler, target string) {
	b.Helper()
	req, err := http.NewRequest("GET", target, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	w := &discard{h: http.Header{}}
	for b.Loop() {
		clear(w.h)
		w.n = 0
		h.ServeHTTP(w, req)
	}
	if w.status != http.StatusOK {
		b.Fatalf("GET %s: status %d", target, w.status)
	}
	b.SetBytes(int64(w.n))
}

// BenchmarkCasePage serves a pre-rendered case page.
func BenchmarkCasePage(b *testing.B) { benchGet(b, benchServer(b), "/cases/K-006") }

// BenchmarkSearchAPI runs a Chinese query through the JSON API.
func BenchmarkSearchAPI(b *testing.B) {
	benchGet(b, benchServer(b), "/api/v1/search?q="+url.QueryEscape("证书过期"))
}

// BenchmarkSearchPage runs an English query through the HTML page.
func BenchmarkSearchPage(b *testing.B) {
	benchGet(b, benchServer(b), "/search?q="+url.QueryEscape("webhook timeout"))
}

// BenchmarkHome renders the home page with two filters and its counts.
func BenchmarkHome(b *testing.B) { benchGet(b, benchServer(b), "/?component=k3s&severity=critical") }
