package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/casebook-dev/casebook/internal/cli"
	"github.com/casebook-dev/casebook/internal/detectors"
)

// TestDiagnoseProgressOnTerminal runs a live diagnosis with standard error
// on a pseudo-terminal: the status line (kinds listed, objects read,
// detectors done) is drawn there and erased, and the report on standard
// output is untouched; with --quiet nothing is drawn.
func TestDiagnoseProgressOnTerminal(t *testing.T) {
	c := connect(t)
	c.load(t, "../internal/detectors/testdata/N-002/broken")
	kc := writeKubeconfig(t, c.readerConfig(t, "reader", readOnlyRules))
	for _, quiet := range []bool{false, true} {
		ptmx, pts, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		read := make(chan string, 1)
		go func() {
			var b bytes.Buffer
			_, _ = io.Copy(&b, ptmx)
			read <- b.String()
		}()
		out, err := os.Create(filepath.Join(t.TempDir(), "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"diagnose", "--kubeconfig", kc, "-A", "-o", "json"}
		if quiet {
			args = append(args, "--quiet")
		}
		f := &cli.Factory{IO: cli.Streams(os.Stdin, out, pts), DetectedCases: detectors.IDs}
		code := cli.Run(context.Background(), f, args)
		_ = pts.Close()
		stderr := <-read
		_ = ptmx.Close()
		_ = out.Close()
		if code != cli.ExitFindings {
			t.Fatalf("quiet=%v: exit %d; stderr %q", quiet, code, stderr)
		}
		report, _ := os.ReadFile(out.Name())
		if !json.Valid(report) {
			t.Errorf("quiet=%v: the report is not JSON:\n%s", quiet, report)
		}
		drawn := strings.Contains(stderr, "\r\x1b[Kdiagnose: ") && strings.Contains(stderr, "detectors done")
		if drawn == quiet {
			t.Errorf("quiet=%v: progress drawn %v:\n%q", quiet, drawn, stderr)
		}
		if !quiet && strings.LastIndex(stderr, "\r\x1b[K") < strings.LastIndex(stderr, "diagnose: ") {
			t.Errorf("the status line is left on the terminal:\n%q", stderr)
		}
	}
}
