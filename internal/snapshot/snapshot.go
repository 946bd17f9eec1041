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
	"syscall"

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

// Load reads the snapshot at path within DefaultLimits; see LoadContext.
func Load(path string) (*Snapshot, error) {
	return LoadContext(context.Background(), path, Limits{})
}

// LoadContext reads the snapshot at path: a directory, a .tar.gz (or .tgz),
// or a single YAML or JSON file. A file that does not parse becomes a
// warning with its path, and the rest still loads, as do special files
// (pipes, devices, sockets), which are never opened. An unreadable path, a
// snapshot beyond lim (a *LimitError) or the end of ctx is an error.
func LoadContext(ctx context.Context, path string, lim Limits) (*Snapshot, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
		}
		return nil, err
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read snapshot %s: not a directory or a regular file (%s)", path, FileType(st.Mode()))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s := &Snapshot{Path: path, kinds: map[casebook.Kind]*kindObjects{}}
	l := newLoader(ctx, cancel, newBudget(ctx, lim))
	switch {
	case st.IsDir():
		err = l.readDir(path)
	case strings.HasSuffix(path, ".tar.gz") || strings.HasSuffix(path, ".tgz"):
		err = l.readTarGz(path)
	default:
		err = l.readFile(path, filepath.Base(path))
	}
	results, waited := l.wait()
	if !waited {
		// A worker is still decoding a large document: it cannot be
		// interrupted, and its result is not needed.
		err = context.Cause(ctx)
	} else if cause := context.Cause(ctx); cause != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = cause
	}
	var le *LimitError
	switch {
	case errors.As(err, &le):
		return nil, fmt.Errorf("read snapshot %s: %w", path, le)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("read snapshot %s: %w", path, context.Cause(ctx))
	case err != nil:
		return nil, err
	}
	s.Warnings = append(s.Warnings, l.skipped...)
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

// maxWorkers bounds the files decoded at once, and with them the memory
// that decoding takes beside what it keeps (a YAML file's parse tree).
const maxWorkers = 4

// loader decodes files on a few workers while they are still being read.
// A limit reached by a worker, or the end of ctx, stops the reading.
type loader struct {
	ctx     context.Context
	stop    context.CancelCauseFunc
	budget  *budget
	files   chan file
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []result
	n       int
	skipped []casebook.Warning
}

func newLoader(ctx context.Context, stop context.CancelCauseFunc, b *budget) *loader {
	workers := min(max(1, runtime.GOMAXPROCS(0)), maxWorkers)
	// As many files wait as are decoded: read ahead, not all at once.
	l := &loader{ctx: ctx, stop: stop, budget: b, files: make(chan file, workers)}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for f := range l.files {
				if ctx.Err() != nil {
					continue
				}
				es, notes, err := decodeFile(f.data, b)
				if errors.Is(err, ErrLimit) {
					stop(err)
					continue
				}
				l.mu.Lock()
				l.results[f.index] = result{name: f.name, entries: es, notes: notes, err: err}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *loader) add(name string, data []byte) error {
	l.mu.Lock()
	idx := l.n
	l.n++
	l.results = append(l.results, result{})
	l.mu.Unlock()
	select {
	case l.files <- file{index: idx, name: name, data: data}:
		return nil
	case <-l.ctx.Done():
		return context.Cause(l.ctx)
	}
}

// wait waits for the workers to finish, or for the context to end: then
// it returns false at once, and the workers end on their own.
func (l *loader) wait() ([]result, bool) {
	close(l.files)
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return l.results, true
	case <-l.ctx.Done():
		return nil, false
	}
}

// skip records a file that is not read because it is not a regular file.
func (l *loader) skip(name string, mode fs.FileMode) {
	l.skipped = append(l.skipped, casebook.Warning{Source: "snapshot",
		Message: fmt.Sprintf("%s: %s, not a regular file (skipped)", name, FileType(mode))})
}

// FileType names what a file that is not a regular file is ("a named pipe
// (FIFO)"), for messages that say why it was not read.
func FileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
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
		if err := l.ctx.Err(); err != nil {
			return context.Cause(l.ctx)
		}
		if p != root && hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && snapshotFile(p) {
			if err := l.budget.entry(); err != nil {
				return err
			}
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

// readFile reads one file. It stats the file first and opens only a
// regular one (a symbolic link is followed): opening a FIFO would wait for
// a writer for ever.
func (l *loader) readFile(path, name string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read snapshot file %s: %w", name, err)
	}
	if !st.Mode().IsRegular() {
		l.skip(name, st.Mode())
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("read snapshot file %s: %w", name, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		// Replaced between the two looks.
		l.skip(name, st.Mode())
		return nil
	}
	data, err := l.budget.readAll(l.ctx, f, name)
	if err != nil {
		return fmt.Errorf("read snapshot file %s: %w", name, err)
	}
	return l.add(name, data)
}

// readTarGz streams the archive: each entry is checked against the limits
// by its header before it is read, and read through the budget.
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
		if err := l.ctx.Err(); err != nil {
			return context.Cause(l.ctx)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read snapshot %s: %w", path, err)
		}
		if err := l.budget.entry(); err != nil {
			return err
		}
		keep := snapshotFile(h.Name) && !hiddenPath(h.Name)
		if keep && h.Typeflag != tar.TypeReg {
			if h.Typeflag != tar.TypeDir {
				l.skip(path+":"+h.Name, h.FileInfo().Mode())
			}
			keep = false
		}
		if !keep {
			// Skipping an entry still decompresses its data: it counts.
			if err := l.budget.readBytes(max(h.Size, 0)); err != nil {
				return err
			}
			continue
		}
		if err := l.budget.fits(h.Name, h.Size); err != nil {
			return err
		}
		data, err := l.budget.readAll(l.ctx, tr, h.Name)
		if err != nil {
			var le *LimitError
			if errors.As(err, &le) {
				return err
			}
			return fmt.Errorf("read snapshot %s: %s: %w", path, h.Name, err)
		}
		if err := l.add(path+":"+h.Name, data); err != nil {
			return err
		}
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

// Objects returns how many objects the snapshot holds.
func (s *Snapshot) Objects() int {
	n := 0
	for _, ko := range s.kinds {
		n += len(ko.all)
	}
	return n
}

// ErrEmpty is returned by RequireObjects for a snapshot of no objects.
var ErrEmpty = errors.New("nothing was read")

// RequireObjects returns an error wrapping ErrEmpty when the snapshot holds
// no object: an empty directory, or files that are all broken or not
// Kubernetes objects. A diagnosis of it would find nothing, which is not the
// same as finding a healthy cluster. The error says why, from the warnings.
func (s *Snapshot) RequireObjects() error {
	if s.Objects() > 0 {
		return nil
	}
	var why string
	switch skipped := len(s.Warnings); {
	case s.Files == 0 && skipped == 0:
		why = "no .yaml, .yml or .json files"
	case skipped > 0:
		why = fmt.Sprintf("%d files read, %d problems; the first: %s", s.Files, skipped, s.Warnings[0].Message)
	default:
		why = fmt.Sprintf("%d files read", s.Files)
	}
	return fmt.Errorf("%w from snapshot %s: it holds no Kubernetes objects (%s)", ErrEmpty, s.Path, why)
}
