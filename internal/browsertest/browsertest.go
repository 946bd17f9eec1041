// Package browsertest finds the headless Chromium that the browser tests
// drive (the web UI's and the HTML report's) and the folder their
// screenshots go to.
package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Find returns the browser: $CASEBOOK_CHROMIUM, else Debian's chromium;
// "" when there is none.
func Find() string {
	if p := os.Getenv("CASEBOOK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Require returns the browser, or skips the test when there is none,
// unless CASEBOOK_REQUIRE_BROWSER is set (as scripts/test sets it), which
// fails it instead.
func Require(t testing.TB) string {
	t.Helper()
	path := Find()
	if path == "" {
		if os.Getenv("CASEBOOK_REQUIRE_BROWSER") != "" {
			t.Fatal("CASEBOOK_REQUIRE_BROWSER is set but there is no chromium (apt-get install -y chromium, or set CASEBOOK_CHROMIUM)")
		}
		t.Skip("no chromium; install it (apt-get install -y chromium) or set CASEBOOK_CHROMIUM")
	}
	return path
}

// ArtifactDir is testdata/artifacts/<name> at the repository root, where
// screenshots go (it is gitignored); it is created if need be.
func ArtifactDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
	out := filepath.Join(dir, "testdata", "artifacts", name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}
