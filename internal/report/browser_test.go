package report

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/casebook-dev/casebook/internal/browsertest"
)

// TestHTMLInBrowser opens the HTML report from a file in a real headless
// Chromium, as someone opens a ticket's attachment: the inline stylesheet
// applies under the page's CSP (a tampered hash does not, which proves the
// check), nothing else is fetched, no console error, the consequences sit
// inside their root cause's box. Screenshots at laptop and phone width go
// to testdata/artifacts/report at the repository root (gitignored). It
// skips without Chromium unless CASEBOOK_REQUIRE_BROWSER is set.
func TestHTMLInBrowser(t *testing.T) {
	path := browsertest.Require(t)
	dir := t.TempDir()
	var good bytes.Buffer
	if err := HTML(&good, linkedReport(), testMeta(ZH), testCSS(t)); err != nil {
		t.Fatal(err)
	}
	goodPath := filepath.Join(dir, "report.html")
	tampered := regexp.MustCompile(`sha256-[A-Za-z0-9+/=]+`).ReplaceAllString(good.String(), "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	badPath := filepath.Join(dir, "tampered.html")
	if err := os.WriteFile(goodPath, good.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badPath, []byte(tampered), 0o644); err != nil {
		t.Fatal(err)
	}

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
	)...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	var mu sync.Mutex
	var console []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, fmt.Sprintf("%s %s", m.Type, m.Text))
			mu.Unlock()
		}
	}()
	drain := func() []string {
		time.Sleep(300 * time.Millisecond) // the console events trail the load
		mu.Lock()
		defer mu.Unlock()
		out := console
		console = nil
		return out
	}

	open := func(t *testing.T, file string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file)); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(t *testing.T, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	const border = `getComputedStyle(document.querySelector('.finding-group')).borderLeftWidth`

	// A tampered hash: the browser refuses the style and says so.
	open(t, badPath)
	if b := eval(t, border); b == "4px" || !strings.Contains(strings.Join(drain(), "\n"), "Content Security Policy") {
		t.Fatalf("a wrong style hash still applies (border %s) or raises no CSP error: the checks below prove nothing", b)
	}

	open(t, goodPath)
	if b := eval(t, border); b != "4px" {
		t.Errorf("the web UI's stylesheet does not apply (.finding-group border-left %q)", b)
	}
	if n := eval(t, `String(performance.getEntriesByType('resource').length)`); n != "0" {
		t.Errorf("the page fetched %s resource(s); it must be self-contained", n)
	}
	if eval(t, `String(!!document.querySelector('article[data-case="S-001"] .consequence[data-case="N-002"] .consequence[data-case="N-003"]'))`) != "true" {
		t.Error("N-002 and N-003 are not nested in S-001's box")
	}
	for _, m := range drain() {
		if strings.HasPrefix(m, "error") || strings.Contains(m, "Content Security Policy") {
			t.Errorf("browser console: %s", m)
		}
	}

	shots := browsertest.ArtifactDir(t, "report")
	for _, vp := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"laptop", 1366, 900, false}, {"phone", 390, 844, true}} {
		var opts []chromedp.EmulateViewportOption
		if vp.mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(2))
		}
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(vp.width, vp.height, opts...)); err != nil {
			t.Fatal(err)
		}
		open(t, goodPath)
		if eval(t, `String(document.documentElement.scrollWidth > window.innerWidth + 1)`) != "false" {
			t.Errorf("%s: the page is wider than the screen", vp.name)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, "report-"+vp.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
