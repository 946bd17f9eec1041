// Package snapshot is cluster state read from files: a directory or a
// .tar.gz of YAML or JSON, as kubectl, `kubectl cluster-info dump` or
// `casebook collect` write it. It implements casebook.Source, and writes the
// bundles `casebook collect` makes.
package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/kube"
)

// Snapshot is cluster state loaded from files.
type Snapshot struct {
	// Path is where the snapshot was loaded from.
	Path string
	// Files is the number of YAML and JSON files read.
	Files int
	// Warnings name the files that did not load, and why.
	Warnings []casebook.Warning
	// Namespace, when set, limits AllNamespaces lists to that namespace.
	Namespace string

	kinds map[casebook.Kind]*kindObjects
}

type kindObjects struct {
	all  []k8sruntime.Object
	byNS map[string][]k8sruntime.Object
}

var _ casebook.Source = (*Snapshot)(nil)

// ErrNotFound is returned by Load when the path does not exist.
var ErrNotFound = errors.New("snapshot not found")

// Load reads the snapshot at path: a directory, a .tar.gz (or .tgz), or a
// single YAML or JSON file. A file that does not parse becomes a warning
// with its path, and the rest still loads; only an unreadable path is an
// error.
func Load(path string) (*Snapshot, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		return nil, err
	}
	s := &Snapshot{Path: path, kinds: map[casebook.Kind]*kindObjects{}}
	l := newLoader()
	switch {
	case st.IsDir():
		err = l.readDir(path)
	case strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz"):
		err = l.readTarGz(path)
	default:
		err = l.readFile(path, filepath.Base(path))
	}
	results := l.wait()
	if err != nil {
		return nil, err
	}
	s.merge(results)
	return s, nil
}

// file is one snapshot file to decode, in the order it was found.
type file struct {
	index int
	name  string
	data  []byte
}

type result struct {
	name    string
	entries []entry
	notes   []string
	err     error
}

// loader decodes files on a few workers while they are still being read.
type loader struct {
	files   chan file
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []result
	n       int
}

func newLoader() *loader {
	l := &loader{files: make(chan file, 16)}
	for range max(1, runtime.GOMAXPROCS(0)) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for f := range l.files {
				es, notes, err := decodeFile(f.data)
				l.mu.Lock()
				l.results[f.index] = result{name: f.name, entries: es, notes: notes, err: err}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *loader) add(name string, data []byte) {
	l.mu.Lock()
	idx := l.n
	l.n++
	l.results = append(l.results, result{})
	l.mu.Unlock()
	l.files <- file{index: idx, name: name, data: data}
}

func (l *loader) wait() []result {
	close(l.files)
	l.wg.Wait()
	return l.results
}

// snapshotFile reports whether a file name is one a snapshot holds; a
// bundle's redaction-report.json is about the bundle, not the cluster.
func snapshotFile(name string) bool {
	if filepath.Base(name) == ReportFile {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml" || ext == ".json"
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") && name != "." && name != ".." }

func (l *loader) readDir(root string) error {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && snapshotFile(p) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", root, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := l.readFile(p, filepath.ToSlash(p)); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) readFile(path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read snapshot file %s: %w", name, err)
	}
	l.add(name, data)
	return nil
}

func (l *loader) readTarGz(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read snapshot %s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg || !snapshotFile(h.Name) || hiddenPath(h.Name) {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("read snapshot %s: %s: %w", path, h.Name, err)
		}
		l.add(path+":"+h.Name, data)
	}
}

func hiddenPath(name string) bool {
	for _, part := range strings.Split(filepath.ToSlash(name), "/") {
		if hidden(part) {
			return true
		}
	}
	return false
}

// objectKey identifies an object within its kind.
type objectKey struct{ namespace, name string }

// merge adds the decoded files in the order they were found. An object
// that appears twice (a dump and a separate export of it) keeps its last
// copy, in the place of its first.
func (s *Snapshot) merge(results []result) {
	seen := map[casebook.Kind]map[objectKey]int{}
	for _, r := range results {
		if r.err != nil {
			s.Warnings = append(s.Warnings, casebook.Warning{Source: "snapshot", Message: fmt.Sprintf("%s: %v (file skipped)", r.name, r.err)})
			continue
		}
		s.Files++
		for _, n := range r.notes {
			s.Warnings = append(s.Warnings, casebook.Warning{Source: "snapshot", Message: r.name + ": " + n})
		}
		for _, e := range r.entries {
			ko := s.kinds[e.kind]
			if ko == nil {
				ko = &kindObjects{}
				s.kinds[e.kind] = ko
				seen[e.kind] = map[objectKey]int{}
			}
			key := objectKey{e.meta.GetNamespace(), e.meta.GetName()}
			if i, dup := seen[e.kind][key]; dup {
				ko.all[i] = e.obj
				continue
			}
			seen[e.kind][key] = len(ko.all)
			ko.all = append(ko.all, e.obj)
		}
	}
	for _, ko := range s.kinds {
		ko.byNS = map[string][]k8sruntime.Object{}
		for _, o := range ko.all {
			ns := o.(metav1.Object).GetNamespace()
			ko.byNS[ns] = append(ko.byNS[ns], o)
		}
	}
}

// List returns the snapshot's objects of kind in namespace. Kinds the
// snapshot does not hold are simply empty: a snapshot cannot tell a kind
// that was not collected from one that had no objects.
func (s *Snapshot) List(_ context.Context, kind casebook.Kind, namespace string) ([]k8sruntime.Object, error) {
	ko := s.kinds[kind]
	if ko == nil {
		return nil, nil
	}
	if info := kube.Lookup(kind); info != nil && !info.Namespaced {
		return ko.all, nil
	}
	if namespace == casebook.AllNamespaces {
		namespace = s.Namespace
	}
	if namespace == casebook.AllNamespaces {
		return ko.all, nil
	}
	return ko.byNS[namespace], nil
}

// Kinds returns the kinds the snapshot holds and how many objects of each.
func (s *Snapshot) Kinds() map[casebook.Kind]int {
	out := make(map[casebook.Kind]int, len(s.kinds))
	for k, ko := range s.kinds {
		out[k] = len(ko.all)
	}
	return out
}
