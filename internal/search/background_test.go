package search

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate background.txt from the Go standard library's source")

// TestBackground checks the embedded background statistics, and with
// -update makes them again: document frequencies of terms over the source
// of the Go standard library (GOROOT/src, test data left out), a large,
// freely licensed body of general software text in English, tokenised as
// the matcher tokenises.
func TestBackground(t *testing.T) {
	if *update {
		writeBackground(t)
	}
	bg := parseBackground(backgroundData)
	if bg.files < 1000 || len(bg.df) < 1000 {
		t.Fatalf("background.txt: %v files, %d terms; regenerate it with -update", bg.files, len(bg.df))
	}
	for _, tc := range []struct {
		term    string
		generic bool
	}{
		{"error", true}, {"file", true}, {"return", true},
		{"wasmedg", false}, {"flannel", false}, {"kubelet", false}, {"gatekeep", false},
	} {
		if got := bg.specificity(tc.term) < 0.5; got != tc.generic {
			t.Errorf("specificity(%q) = %.2f; generic = %v, want %v", tc.term, bg.specificity(tc.term), got, tc.generic)
		}
	}
}

func writeBackground(t *testing.T) {
	root := filepath.Join(runtime.GOROOT(), "src")
	df := map[string]int{}
	files := 0
	st := stemmer{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		seen := map[string]bool{}
		tokenize(string(data), st, func(tok token) {
			if !tok.cjk && !seen[tok.term] {
				seen[tok.term] = true
				df[tok.term]++
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Terms in fewer files than this weigh 1 anyway.
	minDF := int(float64(files)*0.004) + 1
	var terms []string
	for term, n := range df {
		if n >= minDF {
			terms = append(terms, term)
		}
	}
	sort.Strings(terms)
	var b strings.Builder
	fmt.Fprintf(&b, "# Document frequencies of terms in general software text: the Go %s standard\n", runtime.Version())
	b.WriteString("# library's source (GOROOT/src without testdata and vendor), tokenised as the\n")
	b.WriteString("# matcher tokenises. Regenerate with: go test ./internal/search -run TestBackground -update\n")
	fmt.Fprintf(&b, "#files %d\n", files)
	for _, term := range terms {
		fmt.Fprintf(&b, "%s %d\n", term, df[term])
	}
	if err := os.WriteFile("background.txt", []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	backgroundData = b.String()
	t.Logf("background.txt: %d files, %d terms", files, len(terms))
}
