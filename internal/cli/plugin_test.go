package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// runAs runs casebook under the program name argv0.
func runAs(t *testing.T, argv0 string, args ...string) (int, string, string) {
	t.Helper()
	io, _, out, errOut := TestStreams()
	f := &Factory{IO: io, Version: "v1.2.3", Commit: "abc1234", Date: "2026-12-08T01:00:00Z", Program: argv0}
	code := Run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

func TestPluginHelpReadsAsKubectl(t *testing.T) {
	tests := []struct {
		name, argv0 string
		want        []string
		wantNot     []string
	}{
		{"plugin diagnose", "/usr/local/bin/kubectl-casebook", []string{
			"kubectl casebook diagnose [--snapshot PATH",
			"  kubectl casebook diagnose --context edge-1 -A",
			"or kubectl casebook collect write it",
		}, []string{"kubectl kubectl", "\n  casebook "}},
		{"plugin on windows", `C:\krew\bin\kubectl-casebook.exe`, []string{"kubectl casebook diagnose [--snapshot PATH"}, nil},
		{"plain binary", "/usr/local/bin/casebook", []string{"  casebook diagnose [--snapshot PATH", "  casebook diagnose --context edge-1 -A"}, []string{"kubectl casebook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := runAs(t, tt.argv0, "diagnose", "--help")
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("help has %q:\n%s", w, out)
				}
			}
		})
	}
	// A piped example keeps the command before the pipe.
	_, out, _ := runAs(t, "kubectl-casebook", "match", "--help")
	if !strings.Contains(out, "kubectl describe pod web-0 | kubectl casebook match") {
		t.Errorf("match help:\n%s", out)
	}
	// Errors that name the command path name the plugin too.
	code, _, errOut := runAs(t, "kubectl-casebook", "show")
	if code != ExitUsage || !strings.Contains(errOut, "'kubectl casebook show --help'") {
		t.Errorf("show without an ID: exit %d, %q", code, errOut)
	}
}

func TestPluginCompletionExecutable(t *testing.T) {
	// kubectl runs kubectl_complete-casebook with the words typed so far
	// and an empty last word, and reads cobra's directive on the last line.
	code, out, _ := runAs(t, "/usr/local/bin/kubectl_complete-casebook", "show", "")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "W-001\tWasm 应用冷启动超时 (Wasm application cold start timeout)") {
		t.Errorf("first completion %q", lines[0])
	}
	if last := lines[len(lines)-1]; last != ":4" {
		t.Errorf("directive line %q, want :4 (no file completion)", last)
	}
}

func TestCompletion(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantNot []string
	}{
		{"case IDs with titles", []string{"show", ""}, []string{"K-006\t", "O-001\t", "W-001\tWasm 应用冷启动超时 (Wasm application cold start timeout)"}, nil},
		{"case IDs by prefix, any case", []string{"show", "k-"}, []string{"K-001\t"}, []string{"W-001"}},
		{"one ID only", []string{"show", "W-001", ""}, nil, []string{"W-00"}},
		{"components", []string{"list", "--component", ""}, []string{"wasmedge", "opa-gatekeeper", "storage"}, nil},
		{"fault types", []string{"list", "--type", ""}, []string{"startup-failure", "misconfiguration"}, nil},
		{"status", []string{"list", "--status", ""}, []string{"complete", "draft"}, nil},
		{"new component", []string{"new", "--component", ""}, []string{"k3s"}, nil},
		{"new severity", []string{"new", "--severity", ""}, []string{"critical", "minor"}, nil},
		{"new types", []string{"new", "--type", ""}, []string{"security"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := run(t, append([]string{"__complete"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("completions lack %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("completions have %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestVersionStamped(t *testing.T) {
	code, out, _ := runAs(t, "casebook", "version")
	if code != 0 || !strings.HasPrefix(out, "casebook v1.2.3 (commit abc1234, built 2026-12-08T01:00:00Z)\ngo1.") {
		t.Errorf("version: %d %q", code, out)
	}
	code, out, _ = runAs(t, "casebook", "version", "-o", "json")
	var v VersionInfo
	if err := json.Unmarshal([]byte(out), &v); code != 0 || err != nil {
		t.Fatalf("version -o json: %d %v %q", code, err, out)
	}
	if v.Version != "v1.2.3" || v.Commit != "abc1234" || v.Date == "" || !strings.HasPrefix(v.GoVersion, "go1.") || !strings.Contains(v.Platform, "/") {
		t.Errorf("version -o json: %+v", v)
	}
}
