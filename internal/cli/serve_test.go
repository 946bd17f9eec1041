package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServeFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantAddr string
		wantSnap string
		wantLive bool
		wantCode int
	}{
		{"defaults", []string{"serve"}, "127.0.0.1:8080", "", false, 0},
		{"addr and snapshot", []string{"serve", "--addr", "127.0.0.1:9000", "--snapshot", "bundle.tar.gz"}, "127.0.0.1:9000", "bundle.tar.gz", false, 0},
		{"live", []string{"serve", "--live", "--refresh", "1m"}, "127.0.0.1:8080", "", true, 0},
		{"arguments", []string{"serve", "extra"}, "", "", false, ExitUsage},
		{"unknown flag", []string{"serve", "--port", "80"}, "", "", false, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, errOut := TestStreams()
			f := &Factory{IO: ios, Version: "test"}
			var got *ServeOptions
			root := NewRootCmd(f)
			for i, c := range root.Commands() {
				if c.Name() == "serve" {
					root.RemoveCommand(root.Commands()[i])
					break
				}
			}
			root.AddCommand(NewCmdServe(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil }))
			root.SetArgs(tt.args)
			err := root.Execute()
			if code := exitCode(err); code != tt.wantCode && !(tt.wantCode == ExitUsage && isCobraUsageError(err)) {
				t.Fatalf("exit %d (%v), want %d; stderr %s", code, err, tt.wantCode, errOut)
			}
			if tt.wantCode != 0 {
				return
			}
			if got.Addr != tt.wantAddr || got.Snapshot != tt.wantSnap || got.Live != tt.wantLive {
				t.Errorf("options %+v", got)
			}
		})
	}
}

func TestServeBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad addr", []string{"serve", "--addr", "8080"}, "want HOST:PORT"},
		{"missing snapshot", []string{"serve", "--addr", "127.0.0.1:0", "--snapshot", "no/such/bundle.tar.gz"}, "cannot read"},
		{"snapshot and cluster", []string{"serve", "--addr", "127.0.0.1:0", "--snapshot", "x", "--context", "edge-1"}, "reads no cluster"},
		{"bad config", []string{"serve", "--addr", "127.0.0.1:0", "--config", "no/such/config.yaml"}, "--config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.args...)
			if code != ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, ExitUsage, tt.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe to write from the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServe runs serve on a free loopback port over the test snapshot,
// with set (when not nil) changing its options first. It returns the
// server's URL, the cancel that stops it, the channel of its end and its
// stderr.
func startServe(t *testing.T, set func(*ServeOptions)) (string, context.CancelFunc, chan error, *syncBuffer) {
	t.Helper()
	errOut := &syncBuffer{}
	ios := &IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: errOut}
	f := &Factory{IO: ios, Version: "test"}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	opts := &ServeOptions{IO: ios, Library: f.Library, CasesFS: f.CasesFS, Addr: "127.0.0.1:0",
		Snapshot: "../web/testdata/snapshot", Timeout: time.Minute, Ready: func(u string) { ready <- u }}
	if set != nil {
		set(opts)
	}
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, opts) }()
	select {
	case base := <-ready:
		return base, cancel, done, errOut
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped: %v; stderr %s", err, errOut)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	return "", cancel, done, errOut
}

// TestServeRun starts the server on a free loopback port with a snapshot,
// reads a page and the diagnose API, and stops it by cancelling.
func TestServeRun(t *testing.T) {
	base, cancel, done, errOut := startServe(t, nil)
	defer cancel()
	for path, want := range map[string]string{
		"cases/K-006":     "K3s 证书过期问题",
		"api/v1/diagnose": `"case": "K-002"`,
	} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, res.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(errOut.String(), " cases on "+base) {
		t.Errorf("stderr %q does not say where it serves", errOut)
	}
}
