package web

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/browsertest"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/search"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// chromium finds the browser: $CASEBOOK_CHROMIUM, else Debian's chromium.
func chromium() string { return browsertest.Find() }

// artifactDir is testdata/artifacts/web at the repository root, where the
// screenshots go (it is gitignored).
func artifactDir(t *testing.T) string { return browsertest.ArtifactDir(t, "web") }

// viewport is a screen the pages are checked and photographed on.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var viewports = []viewport{{"laptop", 1366, 900, false}, {"phone", 390, 844, true}}

// TestBrowser drives the UI in a real headless Chromium: home, filters,
// Chinese search, a case page and its copy button, match, diagnose with an
// upload, the language toggle; it saves a screenshot of every page at
// laptop and phone width. It skips when there is no Chromium, unless
// CASEBOOK_REQUIRE_BROWSER is set, as scripts/test does.
func TestBrowser(t *testing.T) {
	path := chromium()
	if path == "" {
		if os.Getenv("CASEBOOK_REQUIRE_BROWSER") != "" {
			t.Fatal("CASEBOOK_REQUIRE_BROWSER is set but there is no chromium (apt-get install -y chromium, or set CASEBOOK_CHROMIUM)")
		}
		t.Skip("no chromium; install it (apt-get install -y chromium) or set CASEBOOK_CHROMIUM")
	}
	lib := embeddedLibrary(t)
	snap, err := snapshot.Load("testdata/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	diag := &EngineDiagnoser{Library: lib, Detectors: detectors.All(), Name: "snapshot testdata/snapshot", Src: snap}
	srv := newTestServer(t, Options{Library: lib, CasesFS: cases.FS(), Prefix: "cases/", Diagnoser: diag})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	shots := artifactDir(t)
	bundle := filepath.Join(t.TempDir(), "edge-bundle.tar.gz")
	writeTarGz(t, os.DirFS("testdata/snapshot"), bundle)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
	)...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	// Console errors (a CSP violation, a script exception) fail the test.
	var mu sync.Mutex
	var problems []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if expectedError(m.URL, m.Text) {
				continue
			}
			if m.IsException() || m.Type == "error" || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s", m.URL, m.Text))
				mu.Unlock()
			}
		}
	}()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true},
			Setting:    browser.PermissionSettingGranted, Origin: ts.URL,
		}); err != nil {
			t.Logf("grant %s: %v (the copied state is checked instead)", name, err)
		}
	}

	run := func(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(t *testing.T, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	location := func(t *testing.T) *url.URL {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// shoot saves, for each viewport, the first screen as a reader sees it
	// (scrolled to the top unless keepScroll) and the whole page.
	shootAt := func(t *testing.T, name string, keepScroll bool) {
		t.Helper()
		for _, vp := range viewports {
			opts := []chromedp.EmulateViewportOption{}
			if vp.mobile {
				opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
			}
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.width, vp.height, opts...), chromedp.Sleep(150*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if !keepScroll {
				run(t, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
			}
			for _, full := range []bool{false, true} {
				act := chromedp.CaptureScreenshot()
				suffix := ""
				if full {
					act, suffix = chromedp.FullScreenshot(100), "-full"
				}
				png, err := chromedp.Run(ctx, act)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, vp.name+"-"+name+suffix+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		run(t, chromedp.EmulateViewport(viewports[0].width, viewports[0].height))
	}
	shoot := func(t *testing.T, name string) { t.Helper(); shootAt(t, name, false) }
	run(t, chromedp.EmulateViewport(viewports[0].width, viewports[0].height))

	t.Run("home", func(t *testing.T) {
		run(t, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".case-list")))
		if n := eval(t, `String(document.querySelectorAll(".case-item").length)`); n != fmt.Sprint(len(lib.Cases)) {
			t.Errorf("home lists %s cases, want %d", n, len(lib.Cases))
		}
		if l := eval(t, `document.documentElement.lang`); l != "zh-CN" {
			t.Errorf("default language %q, want zh-CN", l)
		}
		shoot(t, "home")
	})

	t.Run("filter by component and severity", func(t *testing.T) {
		run(t, chromedp.Click(chromedp.CSS(`.facet[data-axis=component] a[data-value=k3s]`)),
			chromedp.WaitVisible(chromedp.CSS(`.facet[data-axis=component] a.active[data-value=k3s]`)),
			chromedp.Click(chromedp.CSS(`.facet[data-axis=severity] a[data-value=critical]`)),
			chromedp.WaitVisible(chromedp.CSS(`.facet[data-axis=severity] a.active[data-value=critical]`)))
		q := location(t).Query()
		if q.Get("component") != "k3s" || q.Get("severity") != "critical" {
			t.Fatalf("filters not in the URL: %v", q)
		}
		want := 0
		for _, c := range lib.Cases {
			if c.Component == "k3s" && c.Severity == "critical" {
				want++
			}
		}
		ids := eval(t, `Array.from(document.querySelectorAll(".case-item .case-id")).map(e => e.textContent).join(",")`)
		got := strings.Split(ids, ",")
		if ids == "" || len(got) != want {
			t.Fatalf("filtered list %q, want %d K3s critical cases", ids, want)
		}
		for _, id := range got {
			if c, _ := lib.Get(id); c == nil || c.Component != "k3s" || c.Severity != "critical" {
				t.Errorf("%s is not a critical K3s case", id)
			}
		}
		shoot(t, "home-filtered")
	})

	t.Run("search in Chinese", func(t *testing.T) {
		run(t, chromedp.SendKeys(chromedp.CSS(`.top-search input[name=q]`), "证书过期\n"),
			chromedp.WaitVisible(chromedp.CSS(`.hits`)))
		if q := location(t).Query().Get("q"); q != "证书过期" {
			t.Errorf("search URL q=%q", q)
		}
		ix, err := search.NewIndex(lib.Cases)
		if err != nil {
			t.Fatal(err)
		}
		defer ix.Close()
		hits, _ := ix.Search("证书过期", searchLimit)
		first := eval(t, `(document.querySelector(".hit .case-id")||{}).textContent||""`)
		if len(hits) == 0 || first != hits[0].Case.ID {
			t.Errorf("first hit %q, want the index's first", first)
		}
		if !strings.Contains(eval(t, `Array.from(document.querySelectorAll(".hit .case-id")).map(e => e.textContent).join(",")`), "K-006") {
			t.Error("K-006 (K3s 证书过期) is not among the hits")
		}
		if eval(t, `String(document.querySelectorAll(".snippet mark").length > 0)`) != "true" {
			t.Error("no highlighted snippet")
		}
		shoot(t, "search")
	})

	t.Run("case page and copy", func(t *testing.T) {
		run(t, chromedp.Click(chromedp.CSS(`.hit a.case-link[href="/cases/K-006"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.case-body`)))
		if p := location(t).Path; p != "/cases/K-006" {
			t.Fatalf("at %s, want /cases/K-006", p)
		}
		if n := eval(t, `String(document.querySelectorAll(".toc a").length)`); n == "0" {
			t.Error("no table of contents")
		}
		// The first bash block: copy it and read the clipboard back.
		sel := `.case-body .code:has(code.language-bash) button.copy`
		want := eval(t, `document.querySelector(".case-body .code:has(code.language-bash) pre code").textContent`)
		run(t, chromedp.ScrollIntoView(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		// The clipboard is the proof; the button's "copied" state lasts two
		// seconds, which a loaded machine may miss, so it is the fallback.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		switch {
		case err == nil && got != want:
			t.Errorf("clipboard holds %q, want the code block %q", got, want)
		case err != nil:
			t.Logf("cannot read the clipboard back (%v); checking the copied state", err)
			run(t, chromedp.WaitVisible(chromedp.CSS(sel+`.copied`)))
			if label := eval(t, `document.querySelector(".case-body button.copy.copied").textContent`); label != "已复制" {
				t.Errorf("copy button says %q after copying, want 已复制", label)
			}
		}
		shootAt(t, "case-copied", true)
		shoot(t, "case")
		// A TOC link moves to its section.
		run(t, chromedp.Click(chromedp.CSS(`.toc a[href$="%e8%a7%a3%e5%86%b3%e6%96%b9%e6%a1%88"]`)))
		if h := location(t).Fragment; h != "解决方案" {
			t.Errorf("TOC link went to #%s", h)
		}
	})

	t.Run("match a pasted error", func(t *testing.T) {
		text := "Events:\n  Type     Reason            Age   From               Message\n" +
			"  ----     ------            ----  ----               -------\n" +
			"  Warning  FailedScheduling  12s   default-scheduler  0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
		m := search.NewMatcher(lib.Cases)
		res := m.Match(text, search.MatchOptions{Limit: matchLimit})
		if len(res) == 0 {
			t.Fatal("the matcher finds no case for a FailedScheduling event")
		}
		run(t, chromedp.Click(chromedp.CSS(`.nav a[href="/match"]`)), chromedp.WaitVisible(chromedp.CSS(`#match-text`)),
			chromedp.SetValue(chromedp.CSS(`#match-text`), text), chromedp.Click(chromedp.CSS(`#match-submit`)),
			chromedp.WaitVisible(chromedp.CSS(`.matches`)))
		if first := eval(t, `document.querySelector(".match .case-id").textContent`); first != res[0].Case.ID {
			t.Errorf("first match %s, want %s", first, res[0].Case.ID)
		}
		if eval(t, `String(document.querySelectorAll(".match .evidence code, .match .terms mark").length > 0)`) != "true" {
			t.Error("the match shows no evidence")
		}
		if got := eval(t, `document.querySelector("#match-text").value`); got != text {
			t.Error("the text area does not keep the pasted text")
		}
		shoot(t, "match")
	})

	t.Run("diagnose and upload", func(t *testing.T) {
		run(t, chromedp.Click(chromedp.CSS(`.nav a[href="/diagnose"]`)), chromedp.WaitVisible(chromedp.CSS(`#diagnosis`)))
		if ids := eval(t, `Array.from(document.querySelectorAll(".finding-group")).map(e => e.dataset.case).join(",")`); ids != "K-002" {
			t.Errorf("current source findings %q, want K-002", ids)
		}
		shoot(t, "diagnose")
		run(t, chromedp.SetUploadFiles(chromedp.CSS(`#snapshot-file`), []string{bundle}),
			chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`.source-line.uploaded code`)))
		if name := eval(t, `document.querySelector(".source-line.uploaded code").textContent`); name != "edge-bundle.tar.gz" {
			t.Errorf("upload result names %q", name)
		}
		if href := eval(t, `document.querySelector(".finding-group a.case-link").getAttribute("href")`); href != "/cases/K-002" {
			t.Errorf("finding links to %q", href)
		}
		if objs := eval(t, `document.querySelector(".finding .objects").textContent`); !strings.Contains(objs, "Pod shop/analytics-0") {
			t.Errorf("finding objects %q", objs)
		}
		shoot(t, "diagnose-upload")
		// A bad upload gets a clear error page.
		bad := filepath.Join(t.TempDir(), "notes.tar.gz")
		if err := os.WriteFile(bad, []byte("these are not the files you are looking for"), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, chromedp.Navigate(ts.URL+"/diagnose"), chromedp.WaitVisible(chromedp.CSS(`#snapshot-file`)),
			chromedp.SetUploadFiles(chromedp.CSS(`#snapshot-file`), []string{bad}),
			chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`.error-page`)))
		if msg := eval(t, `document.querySelector(".error-msg").textContent`); !strings.Contains(msg, "not a gzip file") {
			t.Errorf("bad upload says %q", msg)
		}
		shoot(t, "upload-error")
	})

	t.Run("English sticks", func(t *testing.T) {
		run(t, chromedp.Navigate(ts.URL+"/cases/K-006"), chromedp.WaitVisible(chromedp.CSS(`#lang-toggle`)),
			chromedp.Click(chromedp.CSS(`#lang-toggle`)), chromedp.WaitVisible(chromedp.CSS(`html[lang=en] .case-body`)))
		if p := location(t).Path; p != "/cases/K-006" {
			t.Errorf("the toggle went to %s", p)
		}
		shoot(t, "case-en")
		run(t, chromedp.Navigate(ts.URL+"/?severity=critical"), chromedp.WaitVisible(chromedp.CSS(`.case-list`)))
		if l := eval(t, `document.documentElement.lang`); l != "en" {
			t.Errorf("next page is %q, want en", l)
		}
		shoot(t, "home-en")
		run(t, chromedp.Click(chromedp.CSS(`#lang-toggle`)), chromedp.WaitVisible(chromedp.CSS(`html[lang=zh-CN] .case-list`)))
	})

	t.Run("not found", func(t *testing.T) {
		run(t, chromedp.Navigate(ts.URL+"/cases/K-060"), chromedp.WaitVisible(chromedp.CSS(`.error-page`)))
		shoot(t, "not-found")
	})

	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
	t.Logf("screenshots in %s", shots)
}

// expectedError is a console error the test causes on purpose: the
// status of a page that is an error page.
func expectedError(pageURL, text string) bool {
	u, err := url.Parse(pageURL)
	if err != nil || !strings.HasPrefix(text, "Failed to load resource: the server responded with a status of 4") {
		return false
	}
	return u.Path == "/diagnose" || u.Path == "/cases/K-060"
}

// writeTarGz archives fsys as a .tar.gz at path, as `casebook collect` would.
func writeTarGz(t *testing.T, fsys fs.FS, path string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.AddFS(fsys); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
