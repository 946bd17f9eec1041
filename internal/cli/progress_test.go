package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// collectOn runs casebook collect over the example snapshot (standing in
// for a live cluster) with standard error on a pseudo-terminal, or on a
// plain file when tty is false, and returns what reached standard error.
func collectOn(t *testing.T, tty, quiet bool) string {
	t.Helper()
	dir := t.TempDir()
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var (
		errFile *os.File
		read    = make(chan string, 1)
	)
	if tty {
		ptmx, pts, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptmx.Close()
		go func() {
			var b bytes.Buffer
			_, _ = io.Copy(&b, ptmx) // ends (EIO) once pts is closed
			read <- b.String()
		}()
		errFile = pts
	} else if errFile, err = os.Create(filepath.Join(dir, "stderr")); err != nil {
		t.Fatal(err)
	}
	streams := Streams(in, out, errFile)
	if streams.ErrIsTTY != tty {
		t.Fatalf("ErrIsTTY = %v, want %v", streams.ErrIsTTY, tty)
	}
	snap, err := snapshot.Load("../../examples/edge-cluster")
	if err != nil {
		t.Fatal(err)
	}
	f := &Factory{IO: streams, Version: "test", Quiet: quiet}
	cmd := NewCmdCollect(f, func(o *CollectOptions) error {
		o.Source = func(context.Context) (casebook.Source, string, error) { return snap, "the example", nil }
		return collectRun(context.Background(), o)
	})
	cmd.SetArgs([]string{"-o", filepath.Join(dir, "bundle.tar.gz")})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	_ = errFile.Close()
	if !tty {
		b, err := os.ReadFile(errFile.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return <-read
}

func TestCollectProgressOnTerminal(t *testing.T) {
	got := collectOn(t, true, false)
	// The status line is drawn and erased before the summary line.
	if !strings.Contains(got, "\r\x1b[Kcollect: 1 kinds listed, ") {
		t.Errorf("no progress on the terminal:\n%q", got)
	}
	i, j := strings.LastIndex(got, "\r\x1b[K"), strings.Index(got, "wrote ")
	if i < 0 || j < i {
		t.Errorf("the status line is not erased before the summary:\n%q", got)
	}
}

func TestCollectNoProgress(t *testing.T) {
	tests := []struct {
		name       string
		tty, quiet bool
	}{
		{"not a terminal", false, false},
		{"--quiet on a terminal", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collectOn(t, tt.tty, tt.quiet)
			if strings.Contains(got, "kinds listed") || strings.Contains(got, "\x1b[K") {
				t.Errorf("progress shown:\n%q", got)
			}
			if !strings.Contains(got, "wrote ") {
				t.Errorf("the summary line is missing:\n%q", got)
			}
		})
	}
}
