package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	casebook "github.com/casebook-dev/casebook"
)

// Limits bound what one Load reads and holds, so that a small archive or a
// list of a million tiny objects cannot take the memory of the process that
// reads it. A zero field takes its value from DefaultLimits; a negative one
// turns that bound off.
type Limits struct {
	// MaxUnpackedBytes caps the bytes read: the snapshot files, and in a
	// .tar.gz every entry's uncompressed size, kept or skipped.
	MaxUnpackedBytes int64
	// MaxFileBytes caps one file.
	MaxFileBytes int64
	// MaxFiles caps the entries of a .tar.gz, and the files of a directory.
	MaxFiles int
	// MaxObjects caps the decoded objects, MaxObjectsPerKind those of one kind.
	MaxObjects        int
	MaxObjectsPerKind int
	// MaxDecodedBytes caps the estimated memory of the decoded objects (see
	// decodedCost).
	MaxDecodedBytes int64
}

// DefaultLimits are generous: what a command line reading a bundle of a
// large cluster on a workstation may hold. A server reading uploads sets
// tighter ones.
var DefaultLimits = Limits{
	MaxUnpackedBytes:  1 << 30,
	MaxFileBytes:      256 << 20,
	MaxFiles:          1 << 20,
	MaxObjects:        2_000_000,
	MaxObjectsPerKind: 1_000_000,
	MaxDecodedBytes:   4 << 30,
}

func (l Limits) withDefaults() Limits {
	pick := func(v, d int64) int64 {
		switch {
		case v == 0:
			return d
		case v < 0:
			return 1<<63 - 1
		}
		return v
	}
	d := DefaultLimits
	return Limits{
		MaxUnpackedBytes:  pick(l.MaxUnpackedBytes, d.MaxUnpackedBytes),
		MaxFileBytes:      pick(l.MaxFileBytes, d.MaxFileBytes),
		MaxFiles:          int(pick(int64(l.MaxFiles), int64(d.MaxFiles))),
		MaxObjects:        int(pick(int64(l.MaxObjects), int64(d.MaxObjects))),
		MaxObjectsPerKind: int(pick(int64(l.MaxObjectsPerKind), int64(d.MaxObjectsPerKind))),
		MaxDecodedBytes:   pick(l.MaxDecodedBytes, d.MaxDecodedBytes),
	}
}

// ErrLimit is matched by every *LimitError.
var ErrLimit = errors.New("snapshot limit exceeded")

// LimitError is a snapshot that goes beyond one of its Limits. Loading stops
// at the first one: what was read so far is dropped.
type LimitError struct {
	// What names the limit ("objects of kind Pod"), Limit its value and
	// Unit how it counts ("objects", "bytes").
	What  string
	Limit int64
	Unit  string
	// Flag is the command-line flag that raises it, when there is one.
	Flag string
}

func (e *LimitError) Error() string {
	n := fmt.Sprintf("%d %s", e.Limit, e.Unit)
	if e.Unit == "bytes" {
		n = byteSize(e.Limit)
	}
	msg := fmt.Sprintf("the snapshot holds more than %s %s", n, e.What)
	if e.Flag != "" {
		msg += " (" + e.Flag + " raises the limit)"
	}
	return msg
}

func (e *LimitError) Is(target error) bool { return target == ErrLimit }

func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// budget is what one Load may still read and hold; the decoding workers
// share it.
type budget struct {
	ctx context.Context
	lim Limits

	mu      sync.Mutex
	read    int64
	entries int
	objects int
	decoded int64
	perKind map[casebook.Kind]int
}

func newBudget(ctx context.Context, l Limits) *budget {
	return &budget{ctx: ctx, lim: l.withDefaults(), perKind: map[casebook.Kind]int{}}
}

// entry counts one archive entry or directory file.
func (b *budget) entry() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries++; b.entries > b.lim.MaxFiles {
		return &LimitError{What: "in all", Limit: int64(b.lim.MaxFiles), Unit: "files or archive entries", Flag: "--max-files"}
	}
	return nil
}

// readBytes takes n bytes read from the unpacked budget.
func (b *budget) readBytes(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.lim.MaxUnpackedBytes-b.read {
		b.read = b.lim.MaxUnpackedBytes
		return &LimitError{What: "in all, unpacked", Limit: b.lim.MaxUnpackedBytes, Unit: "bytes", Flag: "--max-unpacked-bytes"}
	}
	b.read += n
	return nil
}

// fits refuses, before it is read, a file whose announced size is beyond
// the file limit or what is left of the unpacked budget.
func (b *budget) fits(name string, size int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if size > b.lim.MaxFileBytes {
		return &LimitError{What: "in the file " + name, Limit: b.lim.MaxFileBytes, Unit: "bytes", Flag: "--max-file-bytes"}
	}
	if size > b.lim.MaxUnpackedBytes-b.read {
		return &LimitError{What: "in all, unpacked", Limit: b.lim.MaxUnpackedBytes, Unit: "bytes", Flag: "--max-unpacked-bytes"}
	}
	return nil
}

// reserve takes n bytes of the decoded budget for a while: the memory a
// conversion takes until it ends, when release gives them back.
func (b *budget) reserve(n int64) error {
	if b == nil {
		return nil
	}
	if err := b.ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.lim.MaxDecodedBytes-b.decoded {
		return &LimitError{What: "of decoded objects", Limit: b.lim.MaxDecodedBytes, Unit: "bytes", Flag: "--max-decoded-bytes"}
	}
	b.decoded += n
	return nil
}

func (b *budget) release(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.decoded -= n
	b.mu.Unlock()
}

// object takes one decoded object of kind, whose JSON is doc.
func (b *budget) object(kind casebook.Kind, doc []byte) error {
	if b == nil {
		return nil
	}
	// Checked per object, so that a long list stops with the load.
	if err := b.ctx.Err(); err != nil {
		return err
	}
	cost := decodedCost(doc)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.objects++; b.objects > b.lim.MaxObjects {
		return &LimitError{What: "in all", Limit: int64(b.lim.MaxObjects), Unit: "objects", Flag: "--max-objects"}
	}
	if b.perKind[kind]++; b.perKind[kind] > b.lim.MaxObjectsPerKind {
		return &LimitError{What: "of kind " + string(kind), Limit: int64(b.lim.MaxObjectsPerKind), Unit: "objects", Flag: "--max-objects"}
	}
	if cost > b.lim.MaxDecodedBytes-b.decoded {
		return &LimitError{What: "of decoded objects", Limit: b.lim.MaxDecodedBytes, Unit: "bytes", Flag: "--max-decoded-bytes"}
	}
	b.decoded += cost
	return nil
}

// Per-object and per-value costs of decodedCost, measured on Go 1.26 with
// TestDecodedCostCovers: a typed Pod with nothing set holds about 1.2 KiB,
// and a field of an unstructured object about 50 bytes (map entry, boxed
// value, key string).
const (
	objectCost = 1536
	valueCost  = 48
)

// decodedCost estimates the memory an object decoded from the JSON doc
// holds: its bytes, plus a fixed cost per object and per value (every ':'
// and ',' is one at most). Punctuation inside strings counts too, so the
// estimate errs high.
func decodedCost(doc []byte) int64 {
	values := bytes.Count(doc, []byte{':'}) + bytes.Count(doc, []byte{','})
	return int64(len(doc)) + objectCost + valueCost*int64(values)
}

// boundedReader reads a file within the budget and stops when ctx is done.
type boundedReader struct {
	ctx  context.Context
	r    io.Reader
	b    *budget
	left int64 // of the file limit
	name string
}

func (r *boundedReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if r.left <= 0 {
		// One byte more tells a file of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := r.r.Read(one[:]); n > 0 {
			return 0, &LimitError{What: "in the file " + r.name, Limit: r.b.lim.MaxFileBytes, Unit: "bytes", Flag: "--max-file-bytes"}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.left -= int64(n)
	if berr := r.b.readBytes(int64(n)); berr != nil {
		return n, berr
	}
	return n, err
}

// readAll reads r within the budget, growing the buffer as data comes so
// that a size announced by a header is never allocated up front.
func (b *budget) readAll(ctx context.Context, r io.Reader, name string) ([]byte, error) {
	return io.ReadAll(&boundedReader{ctx: ctx, r: r, b: b, left: b.lim.MaxFileBytes, name: name})
}
