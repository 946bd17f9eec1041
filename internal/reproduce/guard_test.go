package reproduce

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// clientPackages build a client that can send any verb.
var clientPackages = map[string]bool{
	"k8s.io/client-go/kubernetes": true,
	"k8s.io/client-go/dynamic":    true,
	"k8s.io/client-go/metadata":   true,
	"k8s.io/client-go/discovery":  true,
	"k8s.io/client-go/rest":       true,
}

// TestOnlyReproduceWrites proves the read-only rule at the source: in the
// whole module (tests and the e2e module aside), a file that builds a
// cluster client either is internal/reproduce, the one writer, or wraps
// the config in live.ReadOnly or live.ReadOnlyAt (a file that only reads a config, as
// rest.InClusterConfig, builds no client), the guard internal/live's tests prove
// refuses every verb but GET and every Secret read.
func TestOnlyReproduceWrites(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "e2e" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		var clients []string
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if clientPackages[p] {
				clients = append(clients, p)
			}
		}
		if len(clients) == 0 {
			return nil
		}
		checked++
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir == "internal/reproduce" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		builds := false
		for _, ctor := range []string{"NewForConfig", "RESTClientFor", "NewDiscoveryClientForConfig", "HTTPClientFor", "NewForConfigAndClient"} {
			builds = builds || strings.Contains(string(src), ctor+"(")
		}
		if builds && !strings.Contains(string(src), "Wrap(ReadOnly") && !strings.Contains(string(src), "Wrap(live.ReadOnly") {
			t.Errorf("%s builds a cluster client (%s) without the read-only guard; only internal/reproduce may write", rel, strings.Join(clients, ", "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 2 {
		t.Fatalf("only %d files with cluster clients found; the walk is broken", checked)
	}
}
