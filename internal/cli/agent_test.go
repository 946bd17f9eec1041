package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// runAgentCmd runs `casebook <args>` with the agent command's options
// passed to run.
func runAgentCmd(t *testing.T, ctx context.Context, args []string, run func(context.Context, *AgentOptions) error) (error, string, string) {
	t.Helper()
	ios, _, out, errOut := TestStreams()
	f := &Factory{IO: ios, Version: "test", DetectedCases: detectors.IDs}
	root := NewRootCmd(f)
	for _, c := range root.Commands() {
		if c.Name() == "agent" {
			root.RemoveCommand(c)
			break
		}
	}
	root.AddCommand(NewCmdAgent(f, run))
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return err, out.String(), errOut.String()
}

func TestAgentHelpAndFlags(t *testing.T) {
	ios, _, out, _ := TestStreams()
	f := &Factory{IO: ios, Version: "test"}
	if code := Run(context.Background(), f, []string{"agent", "--help"}); code != 0 {
		t.Fatalf("agent --help: exit %d", code)
	}
	for _, want := range []string{"0.0.0.0:8080", "/metrics", "/readyz", "--interval", "in-cluster", "--kubeconfig"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("agent --help does not mention %q", want)
		}
	}

	var got *AgentOptions
	err, _, _ := runAgentCmd(t, context.Background(), []string{"agent"}, func(_ context.Context, o *AgentOptions) error { got = o; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Addr != "0.0.0.0:8080" || got.Interval != 5*time.Minute || got.RunTimeout != 5*time.Minute {
		t.Errorf("defaults: addr %s interval %s diagnose-timeout %s", got.Addr, got.Interval, got.RunTimeout)
	}

	for _, args := range [][]string{
		{"agent", "--interval", "10ms"},
		{"agent", "--addr", "8080"},
		{"agent", "--config", "/does/not/exist.yaml"},
		{"agent", "extra"},
	} {
		ios, _, _, errOut := TestStreams()
		f := &Factory{IO: ios, Version: "test"}
		if code := Run(context.Background(), f, args); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d; stderr %s", args, code, ExitUsage, errOut)
		}
	}
}

// TestAgentServes runs the agent command over a snapshot in place of the
// cluster: it diagnoses at once and again after --interval, serves the UI,
// /metrics, /healthz and /readyz, and stops when its context ends.
func TestAgentServes(t *testing.T) {
	snap, err := snapshot.Load("../../examples/edge-cluster")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urls := make(chan string, 1)
	connects := make(chan struct{}, 100)
	done := make(chan error, 1)
	var stderr string
	go func() {
		var err error
		err, _, stderr = runAgentCmd(t, ctx, []string{"agent", "--addr", "127.0.0.1:0", "--interval", "1s"}, func(ctx context.Context, o *AgentOptions) error {
			o.Ready = func(url string) { urls <- url }
			o.Connect = func(context.Context) (casebook.Source, string, error) {
				connects <- struct{}{}
				return snap, "snapshot edge-cluster", nil
			}
			return agentRun(ctx, o)
		})
		done <- err
	}()
	var base string
	select {
	case base = <-urls:
	case err := <-done:
		t.Fatalf("the agent stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the agent does not listen")
	}
	base = strings.TrimSuffix(base, "/")
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := get("/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A second diagnosis follows after the interval.
	for n := 0; n < 2; n++ {
		select {
		case <-connects:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d diagnoses in 10s at --interval 1s", n)
		}
	}
	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	if !regexp.MustCompile(`(?m)^casebook_findings\{case="K-002",severity="[a-z]+"\} [1-9]`).MatchString(body) {
		t.Errorf("/metrics has no K-002 findings:\n%s", body)
	}
	for _, want := range []string{"casebook_diagnose_errors_total 0", "casebook_diagnose_duration_seconds_count", "casebook_last_diagnose_timestamp_seconds"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if code, body := get("/api/v1/diagnose"); code != http.StatusOK || !strings.Contains(body, `"K-002"`) {
		t.Errorf("/api/v1/diagnose: %d %.300s", code, body)
	}
	if code, body := get("/"); code != http.StatusOK || !strings.Contains(body, "<html") {
		t.Errorf("/: %d %.100s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("agent: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop")
	}
	if !strings.Contains(stderr, "diagnosed snapshot edge-cluster") {
		t.Errorf("stderr does not log the diagnosis:\n%s", stderr)
	}
}

// TestAgentNeedsACluster: outside a pod and without a kubeconfig the agent
// stops at once instead of reading http://localhost:8080 for ever.
func TestAgentNeedsACluster(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ios, _, _, errOut := TestStreams()
	f := &Factory{IO: ios, Version: "test"}
	if code := Run(ctx, f, []string{"agent", "--addr", "127.0.0.1:0"}); code != ExitError || !strings.Contains(errOut.String(), "not in a pod") {
		t.Errorf("exit %d, stderr %q; want 1 and 'not in a pod'", code, errOut)
	}
	if ctx.Err() != nil {
		t.Error("the agent ran until the test's deadline")
	}
}
