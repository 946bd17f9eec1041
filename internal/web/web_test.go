package web

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
)

// xssPayload is written into every field of the hostile case.
const xssPayload = `<script>alert("xss")</script><img src=x onerror=alert(1)>`

// caseMD builds a case file for a test library.
func caseMD(id, component, severity, title, extra, body string) string {
	return fmt.Sprintf(`---
id: %s
title: %q
title_en: %q
summary_en: %q
component: %s
severity: %s
types: [runtime-error]
signals:
  - text: 'Insufficient memory'
    source: kubernetes/kubernetes@v1.30.0:pkg/scheduler/framework/plugins/noderesources/fit.go#L60
    versions: 'Kubernetes v1.30 and later'
related: [K-001]
references:
  - https://docs.k3s.io/
%s---

## 故障描述

Pod 一直处于 Pending 状态，调度器报告资源不足，新副本无法启动，影响整个服务的扩容能力与滚动升级。

## 排查过程

1. 查看 Pod 事件，确认调度失败的原因与涉及的节点，并记录每个节点的可分配资源与已请求资源。

   `+"```bash"+`
   kubectl describe pod web-0 | grep -A5 Events
   `+"```"+`

## 根因分析

节点的可分配内存不足以满足 Pod 的 requests，调度器无法找到合适的节点，因此 Pod 停留在 Pending 状态。

## 解决方案

降低 requests 或扩容节点，使至少一个节点的可分配内存满足 Pod 的需求，然后等待调度器重新调度。

`+"```console"+`
$ kubectl scale deploy web --replicas=2
deployment.apps/web scaled
`+"```"+`

## 验证结果

Pod 变为 Running 且 Ready，事件中不再出现调度失败，服务的副本数达到期望值并持续保持稳定。

`+"```bash"+`
kubectl get pod web-0
`+"```"+`
%s
`, id, title, title+" in English", "Summary of "+title+".", component, severity, extra, body)
}

// testLibrary is a small library: two K3s cases, a network case, and a
// hostile case whose every field carries an XSS payload.
func testLibrary(t testing.TB) (*caseload.Library, fstest.MapFS) {
	t.Helper()
	hostileBody := "\n## 参考资料\n\n" + xssPayload + "\n\n[click](javascript:alert(1)) [K-001](k3s-node-join-failed.md)\n\n<div onmouseover=\"alert(1)\">raw</div>\n"
	fsys := fstest.MapFS{
		"k3s-node-join-failed.md": {Data: []byte(caseMD("K-001", "k3s", "critical", "K3s 节点加入失败", "", ""))},
		"k3s-pod-scheduling.md":   {Data: []byte(caseMD("K-002", "k3s", "major", "K3s Pod 调度失败", "", ""))},
		"service-unreachable.md":  {Data: []byte(caseMD("N-002", "network", "critical", "Service 无法访问", "", ""))},
		"storage-xss.md":          {Data: []byte(caseMD("S-001", "storage", "minor", xssPayload, "", hostileBody))},
		"README.md":               {Data: []byte("# index\n")},
	}
	// The hostile case's references and signals carry payloads too.
	fsys["storage-xss.md"].Data = bytes.Replace(fsys["storage-xss.md"].Data,
		[]byte("  - https://docs.k3s.io/\n"), []byte("  - 'javascript:alert(1)'\n  - 'https://example.com/\"><script>alert(2)</script>'\n"), 1)
	lib, err := caseload.Load(fsys, "cases/")
	if err != nil {
		t.Fatal(err)
	}
	if len(lib.Cases) != 4 {
		t.Fatalf("test library: got %d cases, want 4; problems: %v", len(lib.Cases), lib.Problems)
	}
	lib.MarkDetected([]string{"K-002"})
	return lib, fsys
}

// fakeDiagnoser is a Diagnoser with function fields.
type fakeDiagnoser struct {
	source   string
	current  func(ctx context.Context) (*casebook.Report, error)
	snapshot func(ctx context.Context, dir string) (*casebook.Report, error)
}

func (f *fakeDiagnoser) Source() string { return f.source }
func (f *fakeDiagnoser) Current(ctx context.Context) (*casebook.Report, error) {
	return f.current(ctx)
}
func (f *fakeDiagnoser) Snapshot(ctx context.Context, dir string) (*casebook.Report, error) {
	return f.snapshot(ctx, dir)
}

var _ Diagnoser = (*fakeDiagnoser)(nil)

// sampleDiagnosis is what the fake diagnoser finds.
func sampleDiagnosis(source string) *casebook.Report {
	return &casebook.Report{Source: source, Time: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Findings: []casebook.Finding{{
		CaseID: "K-002", Severity: casebook.SeverityMajor, Cause: "insufficient-memory",
		Objects:  []casebook.ObjectRef{{Kind: "Pod", Namespace: "shop", Name: "web-0"}},
		Message:  "pod cannot be scheduled: " + xssPayload,
		Evidence: []casebook.Evidence{{Object: casebook.ObjectRef{Kind: "Pod", Namespace: "shop", Name: "web-0"}, Field: "event Warning FailedScheduling", Text: "0/3 nodes are available: 3 Insufficient memory."}},
		Next:     []casebook.Step{{Command: "kubectl describe pod -n shop web-0", Ref: "K-002#排查过程", StepNo: 1, Title: "查看 Pod 事件"}},
	}}, Warnings: []casebook.Warning{{Source: "snapshot", Message: "bad.yaml: not YAML"}}}
}

// snapshotDiagnoser diagnoses an uploaded directory by listing its files,
// so tests see what was extracted.
func snapshotDiagnoser(t testing.TB) *fakeDiagnoser {
	return &fakeDiagnoser{
		source: "snapshot testdata/cluster",
		current: func(context.Context) (*casebook.Report, error) {
			return sampleDiagnosis("snapshot testdata/cluster"), nil
		},
		snapshot: func(_ context.Context, dir string) (*casebook.Report, error) {
			d := sampleDiagnosis("")
			err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					d.Warnings = append(d.Warnings, casebook.Warning{Source: "file", Message: rel})
				}
				return err
			})
			return d, err
		},
	}
}

func newTestServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Library == nil {
		lib, fsys := testLibrary(t)
		opts.Library, opts.CasesFS, opts.Prefix = lib, fsys, "cases/"
	}
	if opts.AllowedHosts == nil {
		// httptest.NewRequest's host.
		opts.AllowedHosts = []string{"example.com"}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var formTokenRE = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// formSession loads the match page as a browser would, and returns the
// cookie and the form token to send a form back with.
func formSession(t testing.TB, h http.Handler) (cookie, token string) {
	t.Helper()
	res := do(t, h, "GET", "/match", nil)
	m := formTokenRE.FindStringSubmatch(res.Body)
	cs := res.Cookies()
	if m == nil || len(cs) == 0 {
		t.Fatalf("the match page has no form token (cookies %v)", cs)
	}
	return cs[0].Name + "=" + cs[0].Value, m[1]
}

// postForm posts a form the way the page does, with its token.
func postForm(t testing.TB, h http.Handler, target string, form url.Values) response {
	t.Helper()
	cookie, token := formSession(t, h)
	form.Set(tokenField, token)
	return do(t, h, "POST", target, strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded", "Cookie", cookie)
}

type response struct {
	*http.Response
	Body string
}

func do(t testing.TB, h http.Handler, method, target string, body io.Reader, header ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return response{Response: res, Body: string(b)}
}

func TestStatusCodes(t *testing.T) {
	s := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t)})
	h := s.Handler()
	tests := []struct {
		name, method, target string
		status               int
		contentType          string
		contains             string
	}{
		{"home", "GET", "/", 200, "text/html", "K3s 节点加入失败"},
		{"home head", "HEAD", "/", 200, "text/html", ""},
		{"home filtered", "GET", "/?component=k3s&severity=critical", 200, "text/html", "K-001"},
		{"home bad filter", "GET", "/?severity=urgent", 400, "text/html", "unknown severity"},
		{"case", "GET", "/cases/K-001", 200, "text/html", "K3s 节点加入失败"},
		{"case lower-case id", "GET", "/cases/k-001", 301, "", ""},
		{"case unknown", "GET", "/cases/K-009", 404, "text/html", "K-001"},
		{"case source", "GET", "/cases/K-001/source", 200, "text/plain", "id: K-001"},
		{"case source unknown", "GET", "/cases/K-404/source", 404, "text/html", ""},
		{"search", "GET", "/search?q=" + url.QueryEscape("调度失败"), 200, "text/html", "K-002"},
		{"search form", "GET", "/search", 200, "text/html", "search"},
		{"search too long", "GET", "/search?q=" + strings.Repeat("a", maxQueryBytes+1), 400, "text/html", "too long"},
		{"match form", "GET", "/match", 200, "text/html", "textarea"},
		{"diagnose", "GET", "/diagnose", 200, "text/html", "web-0"},
		{"wrong method", "POST", "/", 405, "text/plain", ""},
		{"unknown page", "GET", "/nope", 404, "text/html", ""},
		{"static css", "GET", "/static/casebook.css", 200, "text/css", "--accent"},
		{"static js", "GET", "/static/casebook.js", 200, "text/javascript", "clipboard"},
		{"static missing", "GET", "/static/nope.js", 404, "", ""},
		{"lang en", "GET", "/lang/en?next=/cases/K-001", 303, "", ""},
		{"lang unknown", "GET", "/lang/fr", 404, "text/html", ""},
		{"api cases", "GET", "/api/v1/cases", 200, "application/json", `"count": 4`},
		{"api cases bad filter", "GET", "/api/v1/cases?type=boom", 400, "application/json", `"error": "unknown fault type`},
		{"api case", "GET", "/api/v1/cases/K-002", 200, "application/json", `"id": "K-002"`},
		{"api case unknown", "GET", "/api/v1/cases/K-003", 404, "application/json", `did you mean`},
		{"api search", "GET", "/api/v1/search?q=" + url.QueryEscape("调度"), 200, "application/json", `"results"`},
		{"api search no query", "GET", "/api/v1/search", 400, "application/json", `"error"`},
		{"api search bad limit", "GET", "/api/v1/search?q=pod&limit=0", 400, "application/json", `limit must be`},
		{"api match wrong method", "GET", "/api/v1/match", 405, "application/json", `not allowed`},
		{"api cases wrong method", "DELETE", "/api/v1/cases", 405, "application/json", `"error"`},
		{"api unknown", "GET", "/api/v2/cases", 404, "application/json", `"error"`},
		{"api diagnose", "GET", "/api/v1/diagnose", 200, "application/json", `"K-002"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := do(t, h, tt.method, tt.target, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("%s %s: status %d, want %d\n%s", tt.method, tt.target, res.StatusCode, tt.status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if !strings.Contains(res.Body, tt.contains) {
				t.Errorf("body does not contain %q:\n%.600s", tt.contains, res.Body)
			}
			if strings.HasPrefix(tt.target, "/api/") {
				var v map[string]any
				if err := json.Unmarshal([]byte(res.Body), &v); err != nil {
					t.Errorf("API answer is not a JSON object: %v\n%s", err, res.Body)
				}
			}
			if tt.status == 405 && res.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	for _, target := range []string{"/", "/cases/K-001", "/api/v1/cases", "/nope", "/static/casebook.js"} {
		res := do(t, h, "GET", target, nil)
		want := map[string]string{
			"Content-Security-Policy": "default-src 'self'",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "same-origin",
		}
		for k, v := range want {
			if got := res.Header.Get(k); !strings.Contains(got, v) {
				t.Errorf("%s: %s = %q, want %q", target, k, got, v)
			}
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, d := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", target, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline or eval: %q", target, csp)
		}
	}
}

// inlineCode finds markup the CSP would block: inline scripts, event
// handler attributes, style attributes.
var inlineCode = regexp.MustCompile(`<script>|<[a-zA-Z][^<>]*\s(on[a-z]+|style)\s*=`)

// TestNoInlineScriptOrStyle keeps the pages within the CSP: no inline
// script, no event handler attributes, no style attributes.
func TestNoInlineScriptOrStyle(t *testing.T) {
	h := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t)}).Handler()
	for _, target := range []string{"/", "/cases/K-001", "/cases/S-001", "/search?q=pod", "/match", "/diagnose", "/nope"} {
		body := do(t, h, "GET", target, nil).Body
		if m := inlineCode.FindString(body); m != "" {
			t.Errorf("%s holds inline script or style: %s", target, m)
		}
		if !strings.Contains(body, `<script src="/static/casebook.js?v=`) {
			t.Errorf("%s does not load the script from a file", target)
		}
	}
}

func TestHomeFilters(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	tests := []struct {
		query string
		want  []string
		not   []string
	}{
		{"", []string{"K-001", "K-002", "N-002", "S-001"}, nil},
		{"component=k3s", []string{"K-001", "K-002"}, []string{"N-002", "S-001"}},
		{"component=k3s&severity=critical", []string{"K-001"}, []string{"K-002", "N-002"}},
		{"severity=" + url.QueryEscape("严重"), []string{"K-001", "N-002"}, []string{"K-002", "S-001"}},
		{"type=runtime-error&status=complete", []string{"K-001"}, nil},
		{"component=network&severity=minor", nil, []string{"K-001", "N-002"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			body := do(t, h, "GET", "/?"+tt.query, nil).Body
			list := body[strings.Index(body, `class="results"`):]
			for _, id := range tt.want {
				if !strings.Contains(list, `<span class="case-id">`+id+`</span>`) {
					t.Errorf("%s missing", id)
				}
			}
			for _, id := range tt.not {
				if strings.Contains(list, `<span class="case-id">`+id+`</span>`) {
					t.Errorf("%s shown, want filtered out", id)
				}
			}
		})
	}
	// Facet counts: with component=k3s, severity chips count K3s cases only,
	// and a chosen chip links to the URL without it.
	body := do(t, h, "GET", "/?component=k3s", nil).Body
	for _, want := range []string{
		`href="/?component=k3s&amp;severity=critical" data-value="critical">严重 <span class="count">1</span>`,
		`href="/?component=k3s&amp;severity=major" data-value="major">中等 <span class="count">1</span>`,
		`class="chip  active" href="/" data-value="k3s" aria-current="true">K3s <span class="count">2</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("home?component=k3s lacks %s", want)
		}
	}
}

func TestAPICases(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"K-001", "K-002", "N-002", "S-001"}},
		{"component=k3s", []string{"K-001", "K-002"}},
		{"component=K3S&severity=critical", []string{"K-001"}},
		{"severity=" + url.QueryEscape("严重") + "&type=" + url.QueryEscape("运行时错误"), []string{"K-001", "N-002"}},
		{"status=draft", []string{}},
		{"component=storage", []string{"S-001"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := do(t, h, "GET", "/api/v1/cases?"+tt.query, nil)
			var got apiCaseList
			if err := json.Unmarshal([]byte(res.Body), &got); err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, c := range got.Cases {
				ids = append(ids, c.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") || got.Count != len(tt.want) {
				t.Errorf("got %v (count %d), want %v", ids, got.Count, tt.want)
			}
		})
	}
	var one apiCaseDetail
	if err := json.Unmarshal([]byte(do(t, h, "GET", "/api/v1/cases/k-002", nil).Body), &one); err != nil {
		t.Fatal(err)
	}
	if one.ID != "K-002" || !one.Detected || one.URL != "/cases/K-002" || len(one.Sections) < 5 || one.Body == "" {
		t.Errorf("case detail: %+v", one)
	}
}

func TestCasePage(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	body := do(t, h, "GET", "/cases/K-002", nil).Body
	for _, want := range []string{
		`<h2 id="故障描述">故障描述<a class="anchor" href="#故障描述"`,                    // headings have stable IDs
		`<a href="#` + strings.ToLower(url.PathEscape("排查过程")) + `">排查过程</a>`, // table of contents
		`<button type="button" class="copy"`,                                  // copy buttons
		`<span class="code-lang">bash</span>`,
		`<a href="/cases/K-001"><span class="case-id">K-001</span>`, // related case
		`href="https://docs.k3s.io/" rel="noopener noreferrer"`,     // reference
		`<span class="badge detected"`,                              // detected badge
		`href="/cases/K-002/source" class="source-link"><code>cases/k3s-pod-scheduling.md</code>`,
		`<code>Insufficient memory</code>`,                                                      // signals
		`<span class="sig-sources">出处: <a href="https://github.com/kubernetes/kubernetes/blob/`, // a signal's source
	} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %s", want)
		}
	}
	if n := strings.Count(body, `class="copy"`); n != 3 {
		t.Errorf("%d copy buttons, want one per code block (3)", n)
	}
	// The English page swaps the titles and keeps its language in a cookie.
	res := do(t, h, "GET", "/lang/en?next=/cases/K-002", nil)
	cookie := res.Header.Get("Set-Cookie")
	if !strings.Contains(cookie, langCookie+"=en") || res.Header.Get("Location") != "/cases/K-002" {
		t.Fatalf("language toggle: Set-Cookie %q, Location %q", cookie, res.Header.Get("Location"))
	}
	en := do(t, h, "GET", "/cases/K-002", nil, "Cookie", langCookie+"=en").Body
	for _, want := range []string{`<html lang="en">`, `K3s Pod 调度失败 in English`, `>Copy</button>`, `The case text is in Chinese.`, `>中文</a>`} {
		if !strings.Contains(en, want) {
			t.Errorf("English case page lacks %s", want)
		}
	}
}

func TestLangRedirectStaysLocal(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	for next, want := range map[string]string{
		"/search?q=x":          "/search?q=x",
		"https://evil.example": "/",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"":                     "/",
	} {
		res := do(t, h, "GET", "/lang/en?next="+url.QueryEscape(next), nil)
		if got := res.Header.Get("Location"); got != want {
			t.Errorf("next=%q: Location %q, want %q", next, got, want)
		}
	}
}

// TestXSS puts script into a case file, a search query and a match text,
// and checks that none of it reaches a page unescaped.
func TestXSS(t *testing.T) {
	h := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t)}).Handler()
	// Escaped payloads are harmless text; these are payloads that became
	// markup.
	unsafe := []string{"<script>alert", "<img src=x", "<div onmouseover", `href="javascript:`, `"><script>`}
	check := func(name, body string) {
		t.Helper()
		for _, u := range unsafe {
			if strings.Contains(body, u) {
				i := strings.Index(body, u)
				t.Errorf("%s: unescaped %q: …%s…", name, u, body[max(0, i-80):min(len(body), i+80)])
			}
		}
	}
	form := url.Values{"text": {xssPayload + "\n" + `<img src=x onerror=alert(1)> 0/3 nodes are available: 3 Insufficient memory.`}}
	pages := map[string]string{
		"case page":      do(t, h, "GET", "/cases/S-001", nil).Body,
		"case page (en)": do(t, h, "GET", "/cases/S-001", nil, "Cookie", langCookie+"=en").Body,
		"home":           do(t, h, "GET", "/", nil).Body,
		"search query":   do(t, h, "GET", "/search?q="+url.QueryEscape(xssPayload), nil).Body,
		"search hits":    do(t, h, "GET", "/search?q=alert+xss+img", nil).Body,
		"match":          postForm(t, h, "/match", form).Body,
		"diagnose":       do(t, h, "GET", "/diagnose", nil).Body,
		"not found":      do(t, h, "GET", "/cases/"+url.PathEscape(xssPayload), nil).Body,
		"bad filter":     do(t, h, "GET", "/?component="+url.QueryEscape(xssPayload), nil).Body,
		"api case":       do(t, h, "GET", "/api/v1/cases/S-001", nil).Body,
		"api search":     do(t, h, "GET", "/api/v1/search?q="+url.QueryEscape(xssPayload), nil).Body,
		"api match":      do(t, h, "POST", "/api/v1/match", strings.NewReader(form.Get("text")), "Content-Type", "text/plain").Body,
	}
	for name, body := range pages {
		check(name, body)
	}
	// The payloads are there, escaped: they were not just dropped.
	if !strings.Contains(pages["search query"], "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;") {
		t.Error("search page does not show the query, escaped")
	}
	if !strings.Contains(pages["match"], "&lt;img src=x onerror=alert(1)&gt; 0/3 nodes") {
		t.Error("match page does not echo the text, escaped")
	}
	if !strings.Contains(pages["match"], `<a href="/cases/K-001"`) && !strings.Contains(pages["match"], `<a href="/cases/K-002"`) {
		t.Errorf("match page shows no match for an Insufficient memory text")
	}
	if !strings.Contains(pages["case page"], "&lt;script&gt;") {
		t.Error("case title is not shown escaped")
	}
	if !strings.Contains(pages["case page"], "<!-- raw HTML omitted -->") {
		t.Error("raw HTML in the case body was not omitted")
	}
	if !strings.Contains(pages["case page"], `<a href="/cases/K-001">K-001</a>`) {
		t.Error("a link to a case file was not pointed at its page")
	}
}

func TestSafeSnippet(t *testing.T) {
	tests := map[string]string{
		"plain &lt;b&gt; <mark>term</mark> after":   "plain &lt;b&gt; <mark>term</mark> after",
		"run `kubectl get` **now** <mark>x</mark>":  "run kubectl get now <mark>x</mark>",
		"raw <script>x</script> <mark>a</mark>":     "raw &lt;script&gt;x&lt;/script&gt; <mark>a</mark>",
		"<mark><img src=x></mark>":                  "<mark>&lt;img src=x&gt;</mark>",
		"unbalanced <mark>open":                     "unbalanced <mark>open</mark>",
		"stray </mark> close":                       "stray &lt;/mark&gt; close",
		"<mark>a</mark>&amp;<mark>b</mark></mark>c": "<mark>a</mark>&amp;<mark>b</mark>&lt;/mark&gt;c",
	}
	for in, want := range tests {
		if got := string(safeSnippet(in)); got != want {
			t.Errorf("safeSnippet(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	text := "Events:\n  Warning  FailedScheduling  default-scheduler  0/3 nodes are available: 3 Insufficient memory."
	t.Run("page", func(t *testing.T) {
		form := url.Values{"text": {text}}
		body := postForm(t, h, "/match", form).Body
		for _, want := range []string{`class="matches"`, `<code class="sig">Insufficient memory</code>`, `第 2 行`} {
			if !strings.Contains(body, want) {
				t.Errorf("match page lacks %s", want)
			}
		}
	})
	t.Run("page empty", func(t *testing.T) {
		body := postForm(t, h, "/match", url.Values{"text": {" "}}).Body
		if !strings.Contains(body, "请先粘贴") {
			t.Error("empty match text is not explained")
		}
	})
	t.Run("page no match", func(t *testing.T) {
		form := url.Values{"text": {"java.lang.NullPointerException at com.example.Foo.bar(Foo.java:42)"}}
		body := postForm(t, h, "/match", form).Body
		if !strings.Contains(body, "没有已知案例") {
			t.Error("no-match is not said")
		}
	})
	tests := []struct {
		name, body, contentType string
		status                  int
		contains                string
	}{
		{"json", `{"text": ` + mustJSON(text) + `, "top": 2}`, "application/json", 200, `"signal": "Insufficient memory"`},
		{"plain", text, "text/plain; charset=utf-8", 200, `"level"`},
		{"no match", "java.lang.NullPointerException", "text/plain", 200, `"message": "no known case matches"`},
		{"empty", `{"text": "  "}`, "application/json", 400, `empty text`},
		{"bad json", `{"text": `, "application/json", 400, `invalid JSON`},
		{"unknown field", `{"txt": "x"}`, "application/json", 400, `unknown field`},
		{"bad top", `{"text": "x", "top": 99}`, "application/json", 400, `top must be`},
		{"invalid utf-8", "\xff\xfe\xfd", "text/plain", 400, `UTF-8`},
		{"form field", url.Values{"text": {text}}.Encode(), "application/x-www-form-urlencoded", 200, `"signal": "Insufficient memory"`},
		{"curl -d raw text", text, "application/x-www-form-urlencoded", 200, `"signal": "Insufficient memory"`},
		{"other type", "x", "application/xml", 415, `unsupported content type`},
		{"too large", strings.Repeat("x", 2<<20), "text/plain", 413, `too large`},
	}
	for _, tt := range tests {
		t.Run("api "+tt.name, func(t *testing.T) {
			res := do(t, h, "POST", "/api/v1/match", strings.NewReader(tt.body), "Content-Type", tt.contentType)
			if res.StatusCode != tt.status || !strings.Contains(res.Body, tt.contains) {
				t.Errorf("status %d, want %d; body %.300s; want %q", res.StatusCode, tt.status, res.Body, tt.contains)
			}
		})
	}
	// A form larger than the body limit is refused with 413.
	big := url.Values{"text": {strings.Repeat("y", 2<<20)}}
	if res := postForm(t, h, "/match", big); res.StatusCode != 413 {
		t.Errorf("oversized match form: status %d, want 413", res.StatusCode)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// --- uploads --------------------------------------------------------------

type tarEntry struct {
	name string
	body string
	size int64 // header size when body is not written (a lying header)
	typ  byte
}

func tarGz(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typ}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if e.typ == tar.TypeSymlink {
			h.Linkname, h.Size = "/etc/passwd", 0
		}
		if e.size > 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.size > 0 {
			// The header promises more than follows: stop here, as a
			// hostile client would.
			_ = tw.Flush()
			break
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	_ = tw.Close()
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombTarGz is a small archive of one file of n zero bytes.
func bombTarGz(t testing.TB, n int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: "events.yaml", Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, zeros{}, n); err != nil {
		t.Fatal(err)
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func multipartBody(t testing.TB, field, filename string, data []byte, token ...string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("note", "hello")
	for _, tok := range token {
		_ = mw.WriteField(tokenField, tok)
	}
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestUpload(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t), Limits: Limits{MaxUpload: 64 << 10, MaxExtracted: 1 << 20, MaxFiles: 10}})
	h := s.Handler()
	cookie, token := formSession(t, h)
	good := tarGz(t, tarEntry{name: "cluster/nodes.yaml", body: "kind: NodeList\n"}, tarEntry{name: "./cluster/pods.yaml", body: "kind: PodList\n"})
	many := make([]tarEntry, 11)
	for i := range many {
		many[i] = tarEntry{name: fmt.Sprintf("f%02d.yaml", i), body: "a: 1\n"}
	}
	tests := []struct {
		name        string
		data        []byte
		field       string
		raw         bool
		status      int
		contains    string
		notContains string
	}{
		{name: "good", data: good, status: 200, contains: "cluster/pods.yaml"},
		{name: "good raw body", data: good, raw: true, status: 200, contains: "web-0"},
		{name: "not gzip", data: []byte("kind: Pod\n"), status: 400, contains: "not a gzip file"},
		{name: "truncated", data: good[:len(good)/2], status: 400, contains: "truncated"},
		{name: "path traversal", data: tarGz(t, tarEntry{name: "../../evil.yaml", body: "x"}), status: 400, contains: "unsafe path"},
		{name: "absolute path", data: tarGz(t, tarEntry{name: "/etc/cron.d/evil", body: "x"}), status: 400, contains: "unsafe path"},
		{name: "symlink skipped", data: tarGz(t, tarEntry{name: "link", typ: tar.TypeSymlink}, tarEntry{name: "a.yaml", body: "a: 1"}), status: 200, contains: "a.yaml", notContains: "passwd"},
		{name: "empty archive", data: tarGz(t), status: 400, contains: "no files"},
		{name: "too many files", data: tarGz(t, many...), status: 413, contains: "more than 10 files"},
		{name: "zip bomb", data: bombTarGz(t, 8<<20), status: 413, contains: "expands to more than 1 MiB"},
		{name: "lying header", data: tarGz(t, tarEntry{name: "huge.yaml", size: 1 << 40}), status: 413, contains: "expands to more than"},
		{name: "too large", data: append(good, make([]byte, 80<<10)...), status: 413, contains: "too large"},
		{name: "no file field", data: good, field: "other", status: 400, contains: "no snapshot in the upload"},
	}
	for _, tt := range tests {
		for _, api := range []bool{false, true} {
			name := tt.name + " page"
			target := "/diagnose"
			if api {
				name, target = tt.name+" api", "/api/v1/diagnose"
			}
			t.Run(name, func(t *testing.T) {
				var body io.Reader
				ct := "application/gzip"
				if tt.raw {
					body = bytes.NewReader(tt.data)
				} else {
					field := tt.field
					if field == "" {
						field = uploadField
					}
					body, ct = multipartBody(t, field, "bundle.tar.gz", tt.data, token)
				}
				res := do(t, h, "POST", target, body, "Content-Type", ct, "Cookie", cookie)
				if res.StatusCode != tt.status {
					t.Fatalf("status %d, want %d\n%.800s", res.StatusCode, tt.status, res.Body)
				}
				if !strings.Contains(res.Body, tt.contains) {
					t.Errorf("body lacks %q:\n%.800s", tt.contains, res.Body)
				}
				if tt.notContains != "" && strings.Contains(res.Body, tt.notContains) {
					t.Errorf("body holds %q", tt.notContains)
				}
				wantType := "text/html"
				if api {
					wantType = "application/json"
				}
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
					t.Errorf("Content-Type %q, want %s", ct, wantType)
				}
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("upload left %d entries in the temp dir", len(left))
				}
			})
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(tmp), "evil.yaml")); err == nil {
		t.Error("path traversal wrote outside the upload directory")
	}
}

// TestUploadBomb sends a real zip bomb against the default limits: 4 MiB
// of gzip that expands to 4 GiB is stopped at 512 MiB... without writing
// it: the first entry's header already says it is too large.
func TestUploadBombDefaults(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	h := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t)}).Handler()
	body, ct := multipartBody(t, uploadField, "bomb.tar.gz", tarGz(t, tarEntry{name: "events.yaml", size: 4 << 30}))
	start := time.Now()
	res := do(t, h, "POST", "/api/v1/diagnose", body, "Content-Type", ct)
	if res.StatusCode != 413 || !strings.Contains(res.Body, "expands to more than 512 MiB") {
		t.Errorf("status %d, body %s", res.StatusCode, res.Body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing the bomb took %v", d)
	}
}

func TestUploadBusy(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	d := snapshotDiagnoser(t)
	d.snapshot = func(ctx context.Context, dir string) (*casebook.Report, error) {
		close(started)
		<-release
		return sampleDiagnosis(""), nil
	}
	h := newTestServer(t, Options{Diagnoser: d, Limits: Limits{Uploads: 1}}).Handler()
	data := tarGz(t, tarEntry{name: "a.yaml", body: "a: 1"})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		do(t, h, "POST", "/api/v1/diagnose", bytes.NewReader(data), "Content-Type", "application/gzip")
	}()
	<-started
	res := do(t, h, "POST", "/api/v1/diagnose", bytes.NewReader(data), "Content-Type", "application/gzip")
	close(release)
	wg.Wait()
	if res.StatusCode != 503 {
		t.Errorf("second upload while busy: status %d, want 503", res.StatusCode)
	}
}

func TestDiagnose(t *testing.T) {
	t.Run("grouped and linked", func(t *testing.T) {
		h := newTestServer(t, Options{Diagnoser: snapshotDiagnoser(t)}).Handler()
		body := do(t, h, "GET", "/diagnose", nil).Body
		for _, want := range []string{
			`<code>snapshot testdata/cluster</code>`,
			`<article class="finding-group sev-border-major" data-case="K-002">`,
			`<a href="/cases/K-002" class="case-link">`,
			`<code>Pod shop/web-0</code>`,
			`<code>Pod shop/web-0 event Warning FailedScheduling: 0/3 nodes are available: 3 Insufficient memory.</code>`,
			`查看 Pod 事件`,
			`snapshot: bad.yaml: not YAML`,
			`enctype="multipart/form-data"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("diagnose page lacks %s", want)
			}
		}
	})
	t.Run("root causes first", func(t *testing.T) {
		pod := casebook.ObjectRef{Kind: "Pod", Namespace: "shop", Name: "web-0"}
		d := snapshotDiagnoser(t)
		d.current = func(context.Context) (*casebook.Report, error) {
			return &casebook.Report{Source: "x", Findings: []casebook.Finding{
				{ID: "f1", CaseID: "K-001", Severity: casebook.SeverityCritical, Cause: "c", Message: "storage fault", Objects: []casebook.ObjectRef{pod}, Causes: []string{"f2"}},
				{ID: "f2", CaseID: "K-002", Severity: casebook.SeverityMajor, Cause: "c", Message: "pod pending", Objects: []casebook.ObjectRef{pod}, CausedBy: []string{"f1"}, Causes: []string{"f3"}},
				{ID: "f3", CaseID: "N-002", Severity: casebook.SeverityCritical, Cause: "c", Message: "service empty", Objects: []casebook.ObjectRef{pod}, CausedBy: []string{"f2"}},
			}}, nil
		}
		body := do(t, newTestServer(t, Options{Diagnoser: d}).Handler(), "GET", "/diagnose", nil).Body
		if n := strings.Count(body, `class="finding-group`); n != 1 || !strings.Contains(body, `data-case="K-001">`) {
			t.Errorf("%d groups, want the root cause's alone (K-001)", n)
		}
		// The consequences nest: K-002 under K-001, N-002 under K-002.
		k2, n2 := strings.Index(body, `<div class="consequence" data-case="K-002">`), strings.Index(body, `<div class="consequence" data-case="N-002">`)
		if k2 < 0 || n2 < k2 || !strings.Contains(body, "<b>1</b> 个根因 · <b>3</b> 项发现") {
			t.Errorf("consequences not nested under their cause (K-002 at %d, N-002 at %d)", k2, n2)
		}
	})
	t.Run("no source", func(t *testing.T) {
		d := snapshotDiagnoser(t)
		d.source = ""
		h := newTestServer(t, Options{Diagnoser: d}).Handler()
		if body := do(t, h, "GET", "/diagnose", nil).Body; !strings.Contains(body, "没有指定数据源") || !strings.Contains(body, `name="snapshot"`) {
			t.Error("page without a source does not say so or lacks the upload form")
		}
		if res := do(t, h, "GET", "/api/v1/diagnose", nil); res.StatusCode != 404 {
			t.Errorf("API without a source: %d", res.StatusCode)
		}
	})
	t.Run("source fails", func(t *testing.T) {
		d := snapshotDiagnoser(t)
		d.current = func(context.Context) (*casebook.Report, error) { return nil, fmt.Errorf("cluster unreachable") }
		h := newTestServer(t, Options{Diagnoser: d}).Handler()
		if body := do(t, h, "GET", "/diagnose", nil).Body; !strings.Contains(body, "cluster unreachable") {
			t.Error("failure not shown")
		}
		if res := do(t, h, "GET", "/api/v1/diagnose", nil); res.StatusCode != 502 || !strings.Contains(res.Body, "cluster unreachable") {
			t.Errorf("API: %d %s", res.StatusCode, res.Body)
		}
	})
	t.Run("cached", func(t *testing.T) {
		runs := 0
		d := snapshotDiagnoser(t)
		d.current = func(context.Context) (*casebook.Report, error) { runs++; return sampleDiagnosis("x"), nil }
		h := newTestServer(t, Options{Diagnoser: d}).Handler()
		for range 3 {
			do(t, h, "GET", "/api/v1/diagnose?refresh=1", nil)
		}
		if runs != 1 {
			t.Errorf("snapshot diagnosed %d times, want once", runs)
		}
	})
	t.Run("unavailable", func(t *testing.T) {
		h := newTestServer(t, Options{}).Handler()
		if res := do(t, h, "GET", "/api/v1/diagnose", nil); res.StatusCode != 404 {
			t.Errorf("API without a diagnoser: %d", res.StatusCode)
		}
		body, ct := multipartBody(t, uploadField, "b.tar.gz", []byte("x"))
		if res := do(t, h, "POST", "/diagnose", body, "Content-Type", ct); res.StatusCode != 404 {
			t.Errorf("upload without a diagnoser: %d", res.StatusCode)
		}
	})
}

func TestAssetsCache(t *testing.T) {
	s := newTestServer(t, Options{})
	h := s.Handler()
	u := s.assets.url("casebook.css")
	res := do(t, h, "GET", u, nil)
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("versioned asset Cache-Control %q", cc)
	}
	if res := do(t, h, "GET", u, nil, "If-None-Match", res.Header.Get("ETag")); res.StatusCode != 304 {
		t.Errorf("conditional GET: %d", res.StatusCode)
	}
}

func TestExtractKeepsInside(t *testing.T) {
	dir := t.TempDir()
	data := tarGz(t, tarEntry{name: "a/b/../c.yaml", body: "ok"}, tarEntry{name: "d/", typ: tar.TypeDir})
	n, err := extractTarGz(bytes.NewReader(data), dir, extractLimits{MaxBytes: 1 << 20, MaxFiles: 10})
	if err != nil || n != 1 {
		t.Fatalf("extract: %d files, %v", n, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a", "c.yaml")); err != nil || string(b) != "ok" {
		t.Errorf("a/c.yaml: %q, %v", b, err)
	}
}
