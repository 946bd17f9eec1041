package web

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLangRedirectRefusesOtherSites feeds the language toggle's next
// parameter what browsers read as another site: they drop tabs and
// newlines, take a backslash for a slash, and decode once more.
func TestLangRedirectRefusesOtherSites(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	for _, next := range []string{
		"/\t/evil.com", "/%09/evil.com", "/\n/evil.com", "/\r/evil.com", "\t//evil.com",
		"/\\evil.com", "\\\\evil.com", "/%5Cevil.com", "/%5C/evil.com",
		"//evil.com", "///evil.com", "/%2F/evil.com", "/%2f%2fevil.com", "%2F%2Fevil.com",
		"https://evil.com", "http:/evil.com", "http:evil.com", "javascript:alert(1)", "JavaScript:alert(1)",
		"data:text/html,<script>alert(1)</script>", "//user@evil.com", "evil.com", "",
	} {
		res := do(t, h, "GET", "/lang/en?next="+url.QueryEscape(next), nil)
		if got := res.Header.Get("Location"); got != "/" {
			t.Errorf("next=%q: Location %q, want /", next, got)
		}
	}
	for next, want := range map[string]string{
		"/search?q=x":         "/search?q=x",
		"/cases/K-001":        "/cases/K-001",
		"/search?q=%E8%AF%81": "/search?q=%E8%AF%81",
		"/a%20b":              "/a%20b",
	} {
		res := do(t, h, "GET", "/lang/en?next="+url.QueryEscape(next), nil)
		if got := res.Header.Get("Location"); got != want {
			t.Errorf("next=%q: Location %q, want %q", next, got, want)
		}
	}
}

// TestCrossSiteRequestsRefused: a POST that a page of another site makes a
// browser send is refused, on the pages and the API; the server's own
// forms and non-browser clients pass.
func TestCrossSiteRequestsRefused(t *testing.T) {
	h := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t)}).Handler()
	cookie, token := formSession(t, h)
	archive := tarGz(t, tarEntry{name: "a.yaml", body: "a: 1"})
	upload := func(token string) (io.Reader, string) {
		if token == "" {
			return multipartBody(t, uploadField, "b.tar.gz", archive)
		}
		return multipartBody(t, uploadField, "b.tar.gz", archive, token)
	}
	matchForm := func(token string) io.Reader {
		f := url.Values{"text": {"0/3 nodes are available: 3 Insufficient memory."}}
		if token != "" {
			f.Set(tokenField, token)
		}
		return strings.NewReader(f.Encode())
	}
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name   string
		target string
		body   func() (io.Reader, string)
		header []string
		status int
	}{
		{"upload, cross-site", "/diagnose", func() (io.Reader, string) { return upload(token) }, []string{"Sec-Fetch-Site", "cross-site", "Cookie", cookie}, 403},
		{"upload, other origin", "/diagnose", func() (io.Reader, string) { return upload(token) }, []string{"Origin", "http://evil.example", "Cookie", cookie}, 403},
		{"upload, no token", "/diagnose", func() (io.Reader, string) { return upload("") }, []string{"Sec-Fetch-Site", "same-origin", "Cookie", cookie}, 403},
		{"upload, token of another cookie", "/diagnose", func() (io.Reader, string) { return upload(token) }, []string{"Cookie", tokenCookie + "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, 403},
		{"upload, same origin", "/diagnose", func() (io.Reader, string) { return upload(token) }, []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.com", "Cookie", cookie}, 200},
		{"match, cross-site", "/match", func() (io.Reader, string) { return matchForm(token), form }, []string{"Sec-Fetch-Site", "same-site", "Cookie", cookie}, 403},
		{"match, no token", "/match", func() (io.Reader, string) { return matchForm(""), form }, []string{"Cookie", cookie}, 403},
		{"match, same origin", "/match", func() (io.Reader, string) { return matchForm(token), form }, []string{"Sec-Fetch-Site", "same-origin", "Cookie", cookie}, 200},
		{"api upload, cross-site", "/api/v1/diagnose", func() (io.Reader, string) { return upload("") }, []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"api match, other origin", "/api/v1/match", func() (io.Reader, string) { return strings.NewReader("Insufficient memory"), "text/plain" }, []string{"Origin", "https://evil.example"}, 403},
		{"api match, curl", "/api/v1/match", func() (io.Reader, string) { return strings.NewReader("Insufficient memory"), "text/plain" }, nil, 200},
		{"api upload, curl", "/api/v1/diagnose", func() (io.Reader, string) { return bytes.NewReader(archive), "application/gzip" }, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := tc.body()
			res := do(t, h, "POST", tc.target, body, append([]string{"Content-Type", ct}, tc.header...)...)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d\n%.400s", res.StatusCode, tc.status, res.Body)
			}
		})
	}
}

// TestHostAllowList: a Host the server does not serve is refused, so that a
// DNS-rebinding page cannot read the API as if it were its own site.
func TestHostAllowList(t *testing.T) {
	h := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t), AllowedHosts: []string{"casebook.internal", "casebook-agent.casebook.svc.cluster.local."}}).Handler()
	for host, want := range map[string]int{
		"evil.example":                   421,
		"evil.example:8080":              421,
		"casebook.internal.evil.example": 421,
		"localhost.evil.example":         421,
		"":                               421,
		"127.0.0.1:8080":                 200,
		"[::1]:8080":                     200,
		"10.42.0.17:8080":                200,
		"localhost:8080":                 200,
		"app.localhost":                  200,
		"CaseBook.Internal":              200,
		"casebook-agent.casebook.svc.cluster.local:8080": 200,
	} {
		req := httptest.NewRequest("GET", "/api/v1/diagnose", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %q: status %d, want %d", host, rec.Code, want)
		}
	}
}

// TestSlowUploadsHoldNoSlot: two clients trickling their uploads a byte at
// a time do not keep the one diagnosis slot, and are cut off after the
// receive timeout.
func TestSlowUploadsHoldNoSlot(t *testing.T) {
	srv := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t), Limits: Limits{Uploads: 1, ReceiveTimeout: 2 * time.Second}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	archive := tarGz(t, tarEntry{name: "a.yaml", body: "a: 1"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := make(chan string, 2)
	for range 2 {
		go func() { slow <- trickle(ctx, ts.Listener.Addr().String(), archive) }()
	}
	start := time.Now()
	time.Sleep(300 * time.Millisecond)
	res, err := http.Post(ts.URL+"/api/v1/diagnose", "application/gzip", bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	t.Logf("fast upload answered after %v", time.Since(start))
	if res.StatusCode != 200 {
		t.Errorf("upload beside two slow ones: status %d, want 200: %s", res.StatusCode, body)
	}
	for range 2 {
		select {
		case status := <-slow:
			t.Logf("slow upload answered %q after %v", status, time.Since(start))
			if !strings.Contains(status, "408") {
				t.Errorf("slow upload: %q, want 408", status)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a slow upload still holds the server after 10 s")
		}
	}
}

// trickle sends an upload one byte every 100 ms and returns the status line.
func trickle(ctx context.Context, addr string, body []byte) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/diagnose HTTP/1.1\r\nHost: %s\r\nContent-Type: application/gzip\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	status := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c).ReadString('\n')
		status <- line
	}()
	for _, b := range body {
		select {
		case s := <-status:
			return s
		case <-ctx.Done():
			return "cancelled"
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := c.Write([]byte{b}); err != nil {
			break
		}
	}
	return <-status
}

// gbkRefused is "错误：连接被拒绝" in GBK (checked against the encoder in
// internal/search).
var gbkRefused = string([]byte{0xB4, 0xED, 0xCE, 0xF3, 0xA3, 0xBA, 0xC1, 0xAC, 0xBD, 0xD3, 0xB1, 0xBB, 0xBE, 0xDC, 0xBE, 0xF8})

// TestAPIMatchGBK: GBK text sent to the API was refused as not UTF-8; it
// is decoded, named by its charset or recognised, with a note.
func TestAPIMatchGBK(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	text := gbkRefused + "\n0/3 nodes are available: 3 Insufficient memory.\n" + gbkRefused
	for _, tc := range []struct{ name, ct, body, note string }{
		{"recognised", "text/plain", text, "decoded as GB18030"},
		{"charset", "text/plain; charset=GBK", text, "decoded from GBK"},
		{"form", "application/x-www-form-urlencoded", url.Values{"text": {text}}.Encode(), "decoded as GB18030"},
	} {
		res := do(t, h, "POST", "/api/v1/match", strings.NewReader(tc.body), "Content-Type", tc.ct)
		// Every case of the test library holds the signal; which of them
		// ranks first is the matcher's business, not the decoder's.
		if res.StatusCode != 200 || !strings.Contains(res.Body, tc.note) || !strings.Contains(res.Body, `"match": "Insufficient memory"`) {
			t.Errorf("%s: status %d, body %.500s", tc.name, res.StatusCode, res.Body)
		}
	}
}
