// Package progress shows how far a long read of a cluster has come: kinds
// listed, objects read, detectors done, on one line of a terminal that it
// rewrites in place. The work reports to an Observer through wrappers
// around its Source and Detectors, so neither the engine nor the live
// source knows about it; a nil Observer adds nothing.
package progress

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
)

// Observer is told about the work as it happens. Implementations must be
// safe for concurrent use: detectors and lists run in parallel.
type Observer interface {
	// Listed reports that a kind was read, with how many objects.
	Listed(kind casebook.Kind, objects int)
	// DetectorDone reports that the detector of a case finished.
	DetectorDone(caseID string)
	// Done ends the display.
	Done()
}

// Source wraps src so that every List reports to o; with a nil o it is src.
func Source(src casebook.Source, o Observer) casebook.Source {
	if o == nil {
		return src
	}
	return &source{src: src, o: o}
}

type source struct {
	src casebook.Source
	o   Observer
}

// Unwrap returns the source underneath, for its optional interfaces (a
// live source also reads logs and metrics).
func (s *source) Unwrap() casebook.Source { return s.src }

func (s *source) List(ctx context.Context, kind casebook.Kind, ns string) ([]runtime.Object, error) {
	objs, err := s.src.List(ctx, kind, ns)
	if err == nil {
		s.o.Listed(kind, len(objs))
	}
	return objs, err
}

// DetectorDone returns the engine hook that tells o a detector is done; nil
// for a nil o. (A hook rather than a wrapper: a wrapper would hide the
// optional interfaces the engine looks for on a detector.)
func DetectorDone(o Observer) func(caseID string) {
	if o == nil {
		return nil
	}
	return o.DetectorDone
}

// Done ends o's display; a nil o is fine.
func Done(o Observer) {
	if o != nil {
		o.Done()
	}
}

// Terminal is an Observer that rewrites one status line on a terminal,
// at most every Interval, and erases it when done.
type Terminal struct {
	w         io.Writer
	what      string
	kinds     int // kinds to list, 0 if not known ahead
	detectors int // detectors to run, 0 for none
	// Interval is the least time between two redraws (default 100ms).
	Interval time.Duration
	now      func() time.Time

	mu       sync.Mutex
	listed   int
	objects  int
	done     int
	last     time.Time
	drawn    bool
	finished bool
}

// NewTerminal returns a Terminal that writes to w, which must be a
// terminal, about what ("diagnose", "collect"). kinds and detectors are the
// totals when known ahead, 0 otherwise.
func NewTerminal(w io.Writer, what string, kinds, detectors int) *Terminal {
	return &Terminal{w: w, what: what, kinds: kinds, detectors: detectors, Interval: 100 * time.Millisecond, now: time.Now}
}

var _ Observer = (*Terminal)(nil)

// Listed implements Observer.
func (t *Terminal) Listed(_ casebook.Kind, objects int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.listed++
	t.objects += objects
	t.draw()
}

// DetectorDone implements Observer.
func (t *Terminal) DetectorDone(string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done++
	t.draw()
}

// Done erases the status line; later reports draw nothing.
func (t *Terminal) Done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.drawn && !t.finished {
		fmt.Fprint(t.w, "\r\x1b[K")
	}
	t.finished = true
}

// Line is the status as it is drawn, without the control characters.
func (t *Terminal) Line() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.line()
}

func (t *Terminal) line() string {
	s := fmt.Sprintf("%s: %d", t.what, t.listed)
	if t.kinds > 0 {
		s += fmt.Sprintf("/%d", t.kinds)
	}
	s += fmt.Sprintf(" kinds listed, %d objects read", t.objects)
	if t.detectors > 0 {
		s += fmt.Sprintf(", %d/%d detectors done", t.done, t.detectors)
	}
	return s
}

// draw rewrites the line: the first report at once, later ones when
// Interval has passed, so that a fast run costs a line or two, not one
// write per object kind.
func (t *Terminal) draw() {
	if t.finished {
		return
	}
	now := t.now()
	if t.drawn && now.Sub(t.last) < t.Interval {
		return
	}
	t.last, t.drawn = now, true
	// \r and erase-to-end-of-line: the line shrinks cleanly.
	fmt.Fprintf(t.w, "\r\x1b[K%s", t.line())
}
