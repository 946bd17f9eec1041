package progress

import (
	"bytes"
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	casebook "github.com/casebook-dev/casebook"
)

type fakeSource map[casebook.Kind]int

func (f fakeSource) List(_ context.Context, kind casebook.Kind, _ string) ([]runtime.Object, error) {
	n, ok := f[kind]
	if !ok {
		return nil, casebook.ErrNotServed
	}
	return make([]runtime.Object, n), nil
}

func TestTerminal(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	term := NewTerminal(&buf, "diagnose", 0, 2)
	term.now = func() time.Time { return clock }
	src := Source(fakeSource{"Pod": 3, "Node": 2}, term)
	done := DetectorDone(term)
	// detect stands for a detector: it lists pods, then reports done.
	detect := func(id string) {
		_, _ = src.List(context.Background(), "Pod", "")
		done(id)
	}

	_, _ = src.List(context.Background(), "Node", "")
	_, _ = src.List(context.Background(), "Secret", "") // not served: not counted
	detect("K-001")                                     // within the interval: not drawn
	clock = clock.Add(time.Second)
	detect("N-002")
	term.Done()
	term.Done()
	_, _ = src.List(context.Background(), "Pod", "") // after Done: nothing

	want := "\r\x1b[Kdiagnose: 1 kinds listed, 2 objects read, 0/2 detectors done" +
		"\r\x1b[Kdiagnose: 3 kinds listed, 8 objects read, 1/2 detectors done" + // the last report falls within the interval
		"\r\x1b[K"
	if got := buf.String(); got != want {
		t.Errorf("terminal output\n got %q\nwant %q", got, want)
	}
}

func TestCollectLine(t *testing.T) {
	term := NewTerminal(&bytes.Buffer{}, "collect", 25, 0)
	term.Listed("Pod", 7)
	if got := term.Line(); got != "collect: 1/25 kinds listed, 7 objects read" {
		t.Errorf("line %q", got)
	}
}

func TestNilObserverAddsNothing(t *testing.T) {
	src := fakeSource{"Pod": 1}
	if got, ok := Source(src, nil).(fakeSource); !ok || got["Pod"] != 1 {
		t.Errorf("Source(src, nil) = %T, want src itself", got)
	}
	if DetectorDone(nil) != nil {
		t.Error("DetectorDone(nil) should be nil: the engine then calls nothing")
	}
	Done(nil)
}
