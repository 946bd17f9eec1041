package snapshot

import (
	"github.com/casebook-dev/casebook/internal/snapshot/snapshottest"
	"strings"

	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	casebook "github.com/casebook-dev/casebook"
)

// podList is a kind: List of n minimal Pods in JSON.
func podList(n int) string {
	var b strings.Builder
	b.WriteString(`{"apiVersion":"v1","kind":"List","items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p%d","namespace":"x"}}`, i)
	}
	b.WriteString("]}")
	return b.String()
}

// TestLimits: a snapshot beyond one of its limits is refused with a
// LimitError naming that limit; within them it loads.
func TestLimits(t *testing.T) {
	wide := `{"apiVersion":"example.com/v1","kind":"Wide","metadata":{"name":"w"},"spec":{` +
		strings.Repeat(`"k":1,`, 20000) + `"end":1}}`
	for _, tc := range []struct {
		name  string
		files map[string]string
		lim   Limits
		want  string // "" loads
	}{
		{"objects per kind", map[string]string{"pods.json": podList(101)}, Limits{MaxObjectsPerKind: 100}, "more than 100 objects of kind Pod"},
		{"objects per kind, at the limit", map[string]string{"pods.json": podList(100)}, Limits{MaxObjectsPerKind: 100}, ""},
		{"objects in all", map[string]string{"a.json": podList(60), "b.yaml": "apiVersion: v1\nkind: List\nitems:\n" +
			strings.Repeat("- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n", 60)}, Limits{MaxObjects: 100}, "more than 100 objects in all"},
		{"decoded bytes", map[string]string{"wide.json": wide}, Limits{MaxDecodedBytes: 1 << 20}, "more than 1 MiB of decoded objects"},
		{"file bytes", map[string]string{"big.yaml": strings.Repeat("# padding\n", 20000)}, Limits{MaxFileBytes: 100 << 10}, "more than 100 KiB in the file"},
		{"unpacked bytes", map[string]string{"a.yaml": strings.Repeat("#\n", 40000), "b.yaml": strings.Repeat("#\n", 40000)}, Limits{MaxUnpackedBytes: 100 << 10}, "more than 100 KiB in all, unpacked"},
		{"files", map[string]string{"a.yaml": "", "b.yaml": "", "c.yaml": ""}, Limits{MaxFiles: 2}, "more than 2 files or archive entries in all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := LoadContext(context.Background(), dir, tc.lim)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("within the limits: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("loaded beyond the limit, want %q", tc.want)
			case !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %v, want an ErrLimit with %q", err, tc.want)
			}
		})
	}
}

// TestDecodedCostCovers checks the estimate of decodedCost against the heap
// that decoded objects really hold: typed objects with nothing set (where
// the per-object cost dominates) and unstructured ones of many small values.
func TestDecodedCostCovers(t *testing.T) {
	wide := `{"apiVersion":"example.com/v1","kind":"Wide","metadata":{"name":"w%d"},"spec":{` +
		strings.Repeat(`"k%d":1,`, 200) + `"end":1}}`
	keys := make([]any, 201)
	for _, tc := range []struct {
		name string
		doc  func(i int) string
	}{
		{"typed pods", func(i int) string {
			return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p%d"}}`, i)
		}},
		{"unstructured, many values", func(i int) string {
			keys[0] = i
			for k := 1; k < len(keys); k++ {
				keys[k] = k
			}
			return fmt.Sprintf(wide, keys...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 2000
			docs := make([][]byte, n)
			var estimate int64
			for i := range docs {
				docs[i] = []byte(tc.doc(i))
				estimate += decodedCost(docs[i])
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			kept := make([]entry, 0, n)
			for _, d := range docs {
				es, _, err := decodeDocument(d, nil)
				if err != nil {
					t.Fatal(err)
				}
				kept = append(kept, es...)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			runtime.KeepAlive(kept)
			t.Logf("%d objects: hold %d KiB, estimated %d KiB", n, held>>10, estimate>>10)
			if held > estimate {
				t.Errorf("decoded objects hold %d bytes, more than the estimate %d", held, estimate)
			}
		})
	}
}

// TestSpecialFilesAreSkipped: a FIFO in a snapshot directory (or a symbolic
// link to one) is named in a warning and never opened; opening it would
// block until a writer came.
func TestSpecialFilesAreSkipped(t *testing.T) {
	dir := writeFiles(t, map[string]string{"node.yaml": "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n"})
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yaml"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Symlink("pipe.yaml", filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	type loaded struct {
		s   *Snapshot
		err error
	}
	done := make(chan loaded, 1)
	go func() {
		s, err := Load(dir)
		done <- loaded{s, err}
	}()
	var got loaded
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked on a FIFO")
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	if n := got.s.Kinds()[casebook.KindNode]; n != 1 {
		t.Errorf("nodes: %d, want 1", n)
	}
	var msgs []string
	for _, w := range got.s.Warnings {
		msgs = append(msgs, w.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"pipe.yaml: a named pipe (FIFO), not a regular file (skipped)", "link.json: a named pipe (FIFO)"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q do not say %q", all, want)
		}
	}

	// Given as the snapshot itself, a FIFO is an error, not a hang.
	go func() {
		_, err := Load(filepath.Join(dir, "pipe.yaml"))
		done <- loaded{nil, err}
	}()
	select {
	case got = <-done:
		if got.err == nil || !strings.Contains(got.err.Error(), "named pipe") {
			t.Errorf("a FIFO as the snapshot: %v", got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Load blocked on a FIFO given as the snapshot")
	}
}

// TestLoadStopsWithTheContext: a cancelled context stops a load, even one
// reading a stream that never ends.
func TestLoadStopsWithTheContext(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pods.json": podList(2000), "more.json": podList(10)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LoadContext(ctx, dir, Limits{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: got %v, want context.Canceled", err)
	}

	// An endless entry (a slow mount that never ends) stops within a
	// second of the cancel.
	b := newBudget(context.Background(), Limits{MaxFileBytes: -1, MaxUnpackedBytes: -1})
	ctx, cancel = context.WithCancel(context.Background())
	var cancelled time.Time
	time.AfterFunc(200*time.Millisecond, func() { cancelled = time.Now(); cancel() })
	_, err := b.readAll(ctx, slow{}, "endless")
	if !errors.Is(err, context.Canceled) || time.Since(cancelled) > time.Second {
		t.Fatalf("endless read: %v %v after the cancel", err, time.Since(cancelled))
	}
}

// slow is an endless reader of 4 KiB a millisecond.
type slow struct{}

func (slow) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	p = p[:min(len(p), 4096)]
	clear(p)
	return len(p), nil
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	p = p[:min(len(p), 4096)]
	clear(p)
	return len(p), nil
}

// TestTarBomb: a small archive that unpacks to more than the limit stops at
// the entry's header, before anything is decompressed; an entry whose header
// lies about its size stops at the limit while it is read.
func TestTarBomb(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.tar.gz")
	snapshottest.WriteBomb(t, path, 64<<20)
	st, _ := os.Stat(path)
	t.Logf("%s unpacks to 64 MiB", byteSize(st.Size()))
	start := time.Now()
	_, err := LoadContext(context.Background(), path, Limits{MaxUnpackedBytes: 16 << 20})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "more than 16 MiB in all, unpacked") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing the bomb took %v", d)
	}
	// Stream readers never hold more than they were given.
	b := newBudget(context.Background(), Limits{MaxFileBytes: 1 << 20})
	_, err = b.readAll(context.Background(), io.LimitReader(endless{}, 2<<20), "liar.yaml")
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "1 MiB in the file liar.yaml") {
		t.Fatalf("got %v", err)
	}
}
