package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runIn runs casebook with args and stdin over test streams.
func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	io, in, out, errOut := TestStreams()
	in.WriteString(stdin)
	f := &Factory{IO: io, Version: "test"}
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestMatchParsing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want MatchOptions
	}{
		{"words", []string{"match", "证书过期", "kubectl"}, MatchOptions{Text: "证书过期 kubectl", Top: 3, Output: "text"}},
		{"file", []string{"match", "--file", "x.log", "--top", "5"}, MatchOptions{File: "x.log", Top: 5, Output: "text"}},
		{"stdin json", []string{"match", "-f", "-", "-o", "json"}, MatchOptions{File: "-", Top: 3, Output: "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _, _ := TestStreams()
			f := &Factory{IO: io}
			var got *MatchOptions
			cmd := NewCmdMatch(f, func(o *MatchOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args[1:])
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.Text != tt.want.Text || got.File != tt.want.File || got.Top != tt.want.Top || got.Output != tt.want.Output {
				t.Errorf("got text %q file %q top %d output %q, want %+v", got.Text, got.File, got.Top, got.Output, tt.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	log := filepath.Join(t.TempDir(), "agent.log")
	agentLog := `Jan 12 09:14:03 edge-03 k3s[1432]: time="2025-01-12T09:14:03Z" level=info msg="Starting k3s agent v1.31.4+k3s1"
Jan 12 09:14:08 edge-03 k3s[1432]: time="2025-01-12T09:14:08Z" level=info msg="Waiting to retrieve agent configuration; server is not ready: Node password rejected, duplicate hostname or contents of '/etc/rancher/node/password' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag"
`
	if err := os.WriteFile(log, []byte(agentLog), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantOut  []string // substrings of stdout
		wantErr  string   // substring of stderr
	}{
		{"stdin", "Warning  FailedScheduling  default-scheduler  0/3 nodes are available: 3 Insufficient memory.\n", []string{"match"},
			0, []string{"1. K-002", "signal   line 1:", "«0/3 nodes are available: 3 Insufficient memory»"}, "casebook show K-002"},
		{"arguments", "", []string{"match", "x509: certificate has expired or is not yet valid"},
			0, []string{"K-006"}, ""},
		{"file", "", []string{"match", "--file", log, "--top", "1"},
			0, []string{"1. K-001", "line 2:"}, ""},
		{"chinese", "", []string{"match", "k3s", "的", "NetworkPolicy", "不生效，建了", "deny-all", "策略以后", "pod", "之间还是能互相访问"},
			0, []string{"K-004"}, ""},
		// Issue 14: descriptions that name a case's subject find it.
		{"description k3s", "", []string{"match", "network policy not working k3s"}, 0, []string{"1. K-004"}, ""},
		{"description wasm", "", []string{"match", "wasm cold start slow"}, 0, []string{"1. W-001"}, ""},
		{"description wasi", "", []string{"match", "Operation not permitted cannot open file wasmedge"}, 0, []string{"1. W-004"}, ""},
		{"no case", "Exception in thread \"main\" java.lang.NullPointerException\n\tat com.example.Main.main(Main.java:11)\n", []string{"match"},
			ExitError, []string{"no known case matches this input"}, "casebook search"},
		{"empty", " \n\n", []string{"match"}, ExitUsage, nil, "the input is empty"},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\x00", []string{"match"}, ExitUsage, nil, "binary data"},
		{"missing file", "", []string{"match", "--file", "/nonexistent/x.log"}, ExitUsage, nil, "read /nonexistent/x.log"},
		{"text and file", "", []string{"match", "x", "--file", log}, ExitUsage, nil, "not both"},
		{"bad top", "x", []string{"match", "--top", "0"}, ExitUsage, nil, "--top"},
		{"bad output", "x", []string{"match", "-o", "yaml"}, ExitUsage, nil, "unknown output format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runIn(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, errOut)
			}
		})
	}
}

func TestMatchJSON(t *testing.T) {
	code, out, errOut := runIn(t, "[2025-03-02 10:11:12.345] [error] execution failed: out of bounds memory access, Code: 0x408\n", "match", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got matchJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out)
	}
	if len(got.Matches) == 0 || got.Matches[0].ID != "W-002" {
		t.Fatalf("matches %+v, want W-002 first", got.Matches)
	}
	m := got.Matches[0]
	if m.Confidence < 0.5 || m.Level == "" || len(m.Signals) == 0 || m.Signals[0].Line != 1 || !strings.Contains(m.Signals[0].Match, "out of bounds memory access") {
		t.Errorf("first match %+v: want a confident hit with the signal quoted from line 1", m)
	}

	code, out, _ = runIn(t, "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree\n", "match", "-o", "json")
	if code != ExitError || !strings.Contains(out, `"matches": []`) {
		t.Errorf("no case: exit %d, output %s; want exit %d and an empty list", code, out, ExitError)
	}
}

// TestMatchBoundedRead feeds more than the limit: the command reads only
// the limit, says so, and still answers.
func TestMatchBoundedRead(t *testing.T) {
	io, in, out, errOut := TestStreams()
	in.WriteString(strings.Repeat("level=info msg=\"Tunnel server egress proxy mode: agent\"\n", 2000))
	in.WriteString("x509: certificate has expired or is not yet valid: current time 2026-03-01T08:12:33Z is after 2026-02-27T11:04:10Z\n")
	opts := &MatchOptions{IO: io, Library: (&Factory{IO: io}).Library, Top: 3, Output: "text", MaxBytes: 64 << 10}
	err := matchRun(opts)
	if code := exitCode(err); code != ExitError {
		t.Errorf("exit %d, want %d (the expiry line is past the limit)", code, ExitError)
	}
	if !strings.Contains(errOut.String(), "input is longer than 64 KiB") {
		t.Errorf("stderr lacks the truncation warning:\n%s", errOut)
	}
	if !strings.Contains(out.String(), "no known case matches") {
		t.Errorf("stdout: %s", out)
	}
}

func TestMatchTTYWithoutInput(t *testing.T) {
	io, _, _, _ := TestStreams()
	io.InIsTTY = true
	err := matchRun(&MatchOptions{IO: io, Library: (&Factory{IO: io}).Library, Top: 3, Output: "text"})
	if code := exitCode(err); code != ExitUsage || !strings.Contains(err.Error(), "match needs text") {
		t.Errorf("exit %d, error %v; want a usage error asking for text", code, err)
	}
}
