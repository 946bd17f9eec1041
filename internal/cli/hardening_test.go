package cli

import (
	"github.com/casebook-dev/casebook/internal/snapshot/snapshottest"
	"strings"

	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/casebook-dev/casebook/internal/detectors"
)

// TestMain lets a test run the command line in a child process, as main
// does (signals end the context), to send it real signals.
func TestMain(m *testing.M) {
	if args := os.Getenv("CASEBOOK_TEST_CHILD"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		f := &Factory{IO: System(), DetectedCases: detectors.IDs}
		code := Run(ctx, f, strings.Split(args, "\x1f"))
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestDiagnoseNothingRead: a snapshot from which nothing loads is not a
// healthy cluster: diagnose says so and exits 2.
func TestDiagnoseNothingRead(t *testing.T) {
	empty := t.TempDir()
	garbage := t.TempDir()
	os.WriteFile(filepath.Join(garbage, "a.yaml"), []byte("{{{ not yaml"), 0o644)
	os.WriteFile(filepath.Join(garbage, "b.json"), []byte(`{"just": "data"}`), 0o644)
	for _, tc := range []struct {
		name, dir, why string
	}{
		{"empty directory", empty, "no .yaml, .yml or .json files"},
		{"all garbage", garbage, "2 problems"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runDiagnoseCLI(t, "diagnose", "--snapshot", tc.dir)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d", code, ExitUsage)
			}
			if strings.Contains(out, "No known case found") {
				t.Errorf("an empty snapshot reads as a healthy cluster:\n%s", out)
			}
			if !strings.Contains(errOut, "nothing was read from snapshot") || !strings.Contains(errOut, tc.why) {
				t.Errorf("stderr does not say nothing was read (%s):\n%s", tc.why, errOut)
			}
		})
	}
}

// TestDiagnoseUnpackLimit: a small archive that unpacks beyond
// --max-unpacked-bytes is refused (exit 2) before it is decompressed, and
// the defaults are generous.
func TestDiagnoseUnpackLimit(t *testing.T) {
	bomb := filepath.Join(t.TempDir(), "bomb.tar.gz")
	snapshottest.WriteBomb(t, bomb, 128<<20)
	st, _ := os.Stat(bomb)
	t.Logf("the bomb: %d KiB unpacking to 128 MiB", st.Size()>>10)
	start := time.Now()
	code, _, errOut := runDiagnoseCLI(t, "diagnose", "--snapshot", bomb, "--max-unpacked-bytes", "64Mi")
	if code != ExitUsage || !strings.Contains(errOut, "more than 64 MiB in all, unpacked (--max-unpacked-bytes raises the limit)") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing took %v", d)
	}
	code, _, errOut = runDiagnoseCLI(t, "diagnose", "--snapshot", bomb, "--max-file-bytes", "1Mi")
	if code != ExitUsage || !strings.Contains(errOut, "more than 1 MiB in the file bomb.yaml") {
		t.Errorf("--max-file-bytes: exit %d, stderr:\n%s", code, errOut)
	}
	// Within the defaults it is read through: comments only, nothing loaded.
	code, _, errOut = runDiagnoseCLI(t, "diagnose", "--snapshot", bomb)
	if code != ExitUsage || !strings.Contains(errOut, "nothing was read") {
		t.Errorf("defaults: exit %d, stderr:\n%s", code, errOut)
	}
	_, out, _ := runDiagnoseCLI(t, "diagnose", "--help")
	for _, want := range []string{"--max-unpacked-bytes SIZE", "(default 1Gi)", "--max-objects N", "(default 2000000)"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// bigList writes a YAML kind: List of n Pods: seconds of decoding.
func bigList(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range n {
		fmt.Fprintf(&b, "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: pod-%d\n    namespace: shop\n    labels: {app: web}\n  spec:\n    containers:\n    - name: c\n      image: nginx\n", i)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pods.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSignalStopsDiagnose sends SIGINT to a diagnose reading a large
// snapshot in a child process: it stops within a second, exit 1.
func TestSignalStopsDiagnose(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a large snapshot")
	}
	dir := bigList(t, 200_000)
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CASEBOOK_TEST_CHILD="+strings.Join([]string{"diagnose", "--snapshot", dir}, "\x1f"))
			var errOut strings.Builder
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(700 * time.Millisecond)
			sent := time.Now()
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 10 s after %v", sig)
			}
			took := time.Since(sent)
			t.Logf("stopped %v after %v", took, sig)
			if took > time.Second {
				t.Errorf("took %v to stop after %v", took, sig)
			}
			if code := cmd.ProcessState.ExitCode(); code != ExitError || !strings.Contains(errOut.String(), "interrupted") {
				t.Errorf("exit %d, stderr:\n%s", code, errOut.String())
			}
		})
	}
}

// TestServeRefusesOtherHosts: serve answers to its address, localhost and
// --allowed-hosts, and refuses any other Host (DNS rebinding).
func TestServeRefusesOtherHosts(t *testing.T) {
	base, cancel, done, _ := startServe(t, func(o *ServeOptions) { o.AllowedHosts = []string{"casebook.example.com"} })
	defer cancel()
	for host, want := range map[string]int{"evil.example": 421, "casebook.example.com.evil.example": 421, "": 200, "localhost:8080": 200, "casebook.example.com": 200} {
		req, _ := http.NewRequest("GET", base+"api/v1/diagnose", nil)
		if host != "" {
			req.Host = host
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, res.StatusCode, want)
		}
	}
	cancel()
	<-done
}

func TestClusterDomain(t *testing.T) {
	for conf, want := range map[string]string{
		"search casebook.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.43.0.10\noptions ndots:5\n": "cluster.local",
		"nameserver 10.0.0.10\nsearch casebook.svc.edge.internal. svc.edge.internal edge.internal\n":                  "edge.internal",
		"search example.com\n": "",
	} {
		if got := clusterDomain([]byte(conf), "casebook"); got != want {
			t.Errorf("%q: %q, want %q", conf, got, want)
		}
	}
}

// runUntil runs the command line with ctx and fails the test when it has
// not returned within limit.
func runUntil(t *testing.T, ctx context.Context, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	ios, _, _, errOut := TestStreams()
	f := &Factory{IO: ios, DetectedCases: detectors.IDs}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, f, args) }()
	select {
	case code := <-done:
		return code, errOut.String()
	case <-time.After(limit):
		t.Fatalf("%v still running after %v", args, limit)
		return 0, ""
	}
}

// TestSpecialFilesNeverHang: a FIFO given to inspect wasm, match --file or
// check rego, or inside a rego directory, is refused or skipped at once.
func TestSpecialFilesNeverHang(t *testing.T) {
	dir := t.TempDir()
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		return p
	}
	wasm, txt, rego := fifo("app.wasm"), fifo("log.txt"), fifo("policy.rego")
	policies := filepath.Join(dir, "policies")
	os.MkdirAll(policies, 0o755)
	os.WriteFile(filepath.Join(policies, "ok.rego"), []byte("package ok\n\nallow if input.x == 1\n"), 0o644)
	if err := syscall.Mkfifo(filepath.Join(policies, "stuck.rego"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect", "wasm", wasm}, ExitUsage, "is a named pipe (FIFO), not a regular file"},
		{[]string{"match", "--file", txt}, ExitUsage, "a named pipe (FIFO), not a regular file"},
		{[]string{"check", "rego", rego}, ExitUsage, "is a named pipe (FIFO), not a regular file"},
		{[]string{"check", "rego", "-o", "json", policies}, ExitOK, ""},
	} {
		code, errOut := runUntil(t, ctx, 10*time.Second, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	ios, _, out, _ := TestStreams()
	Run(ctx, &Factory{IO: ios}, []string{"check", "rego", "-o", "json", policies})
	if !strings.Contains(out.String(), "stuck.rego") || !strings.Contains(out.String(), "a named pipe (FIFO), not a regular file (skipped)") {
		t.Errorf("check rego does not say it skipped the FIFO:\n%s", out)
	}
}

// TestCancelledCommandsStop: lint, check rego and inspect wasm return
// within a second of their context ending.
func TestCancelledCommandsStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"lint", "../../cases"},
		{"check", "rego", "../inspect/testdata/rego"},
		{"inspect", "wasm", "../inspect/testdata/wasm/hello.wasm"},
	} {
		code, errOut := runUntil(t, ctx, time.Second, args...)
		if code != ExitError || !strings.Contains(errOut, "interrupted") {
			t.Errorf("%v: exit %d, stderr %q; want %d, interrupted", args, code, errOut, ExitError)
		}
	}
}

// gbkRefused is "错误：连接被拒绝" in GBK (checked against the encoder in
// internal/search).
var gbkRefused = []byte{0xB4, 0xED, 0xCE, 0xF3, 0xA3, 0xBA, 0xC1, 0xAC, 0xBD, 0xD3, 0xB1, 0xBB, 0xBE, 0xDC, 0xBE, 0xF8}

// TestMatchGBK: GBK text given to match is decoded, with a note, and matched.
func TestMatchGBK(t *testing.T) {
	text := append([]byte("0/3 nodes are available: 3 Insufficient memory.\n"), gbkRefused...)
	file := filepath.Join(t.TempDir(), "gbk.log")
	os.WriteFile(file, append(append([]byte{}, gbkRefused...), append([]byte("\n"), text...)...), 0o644)
	for _, args := range [][]string{{"match", "--file", file, "-o", "json"}} {
		code, out, errOut := runDiagnoseCLI(t, args...)
		if code != ExitOK || !strings.Contains(errOut, "note: input is GB18030 (GBK) text, not UTF-8; decoded to UTF-8") ||
			!strings.Contains(out, `"encoding": "GB18030"`) || !strings.Contains(out, `"id": "K-002"`) {
			t.Errorf("%v: exit %d\nstdout %.600s\nstderr %s", args, code, out, errOut)
		}
	}
	// Alone, GBK was refused as binary data (exit 2); now it is read and
	// matched (exit 0 or 1, as the library has a case for it or not).
	ios, in, out, errOut := TestStreams()
	in.Write(bytes.Repeat(append(append([]byte{}, gbkRefused...), '\n'), 4))
	if code := Run(context.Background(), &Factory{IO: ios}, []string{"match"}); code == ExitUsage || !strings.Contains(errOut.String(), "GB18030") || strings.Contains(errOut.String(), "binary") {
		t.Errorf("stdin GBK: exit %d, stdout %.300s, stderr %s", code, out, errOut)
	}
}
