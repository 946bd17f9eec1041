package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
)

var (
	wasmTestdata = filepath.Join("..", "inspect", "testdata", "wasm")
	regoTestdata = filepath.Join("..", "inspect", "testdata", "rego")
)

func TestInspectWasm(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"clean module", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello_aot.wasm")}, ExitOK,
			[]string{"AOT      WasmEdge AOT section, binary version 3, linux/amd64", "No known case found"}, ""},
		{"minor finding passes the default gate", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello.wasm")}, ExitOK,
			[]string{"W-001", "casebook show W-001"}, ""},
		{"minor finding fails --fail-on minor", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello.wasm"), "--fail-on", "minor"}, ExitFindings,
			[]string{"W-001"}, ""},
		{"threads", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "threads.wasm")}, ExitFindings,
			[]string{"W-005  Wasm 多线程问题", "thread-spawn", "casebook show W-005"}, ""},
		{"--fail-on none", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "threads.wasm"), "--fail-on", "none"}, ExitOK, []string{"W-005"}, ""},
		{"memory limit", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "bigmem.wasm"), "--memory-limit", "64Mi"}, ExitFindings,
			[]string{"W-002", "container limit of 64 MiB"}, ""},
		{"arch", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello_aot.wasm"), "--arch", "aarch64", "--fail-on", "minor"}, ExitFindings,
			[]string{"not for arm64 nodes"}, ""},
		{"network", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello.wasm"), "--network"}, ExitFindings, []string{"W-003"}, ""},
		{"not wasm", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "notwasm.wasm")}, ExitUsage, nil, "notwasm.wasm: is not a Wasm module"},
		{"truncated", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "truncated.wasm")}, ExitUsage, nil, "truncated.wasm: not a valid Wasm module"},
		{"missing file", []string{"inspect", "wasm", "nope.wasm"}, ExitUsage, nil, "nope.wasm: no such file"},
		{"bad memory limit", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello.wasm"), "--memory-limit", "lots"}, ExitUsage, nil, "--memory-limit"},
		{"bad arch", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello.wasm"), "--arch", "sparc"}, ExitUsage, nil, "--arch"},
		{"bad fail-on", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello.wasm"), "--fail-on", "urgent"}, ExitUsage, nil, "--fail-on"},
		{"bad output", []string{"inspect", "wasm", filepath.Join(wasmTestdata, "hello.wasm"), "-o", "yaml"}, ExitUsage, nil, "unknown output format"},
		{"no file", []string{"inspect", "wasm"}, ExitUsage, nil, "takes one Wasm module"},
		{"no artefact", []string{"inspect"}, ExitUsage, nil, "needs an artefact: wasm"},
		{"unknown artefact", []string{"inspect", "jar", "x.jar"}, ExitUsage, nil, `unknown artefact "jar"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s\nstdout: %s", code, tt.wantCode, errOut, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if tt.wantErr != "" && !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestInspectWasmJSON(t *testing.T) {
	code, out, errOut := run(t, "inspect", "wasm", filepath.Join(wasmTestdata, "plugins.wasm"), "-o", "json", "--memory-limit", "128Mi")
	if code != ExitFindings {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	var got struct {
		Imports []struct {
			Module   string `json:"module"`
			Provider string `json:"provider"`
		} `json:"imports"`
		Findings []struct {
			Case     string `json:"case"`
			Severity string `json:"severity"`
		} `json:"findings"`
		Summary struct {
			Findings int `json:"findings"`
			Objects  int `json:"objects"`
		} `json:"summary"`
		Cases map[string]struct {
			TitleEN string `json:"title_en"`
		} `json:"cases"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out)
	}
	if len(got.Imports) != 4 || got.Imports[1].Provider != "WasmEdge Rustls (TLS) plugin" {
		t.Errorf("imports = %+v", got.Imports)
	}
	if got.Summary.Findings != len(got.Findings) || got.Summary.Objects != 1 || got.Findings[0].Case != "W-002" {
		t.Errorf("summary %+v, findings %+v", got.Summary, got.Findings)
	}
	if got.Cases["W-008"].TitleEN != "Wasm log output abnormal" {
		t.Errorf("cases = %+v", got.Cases)
	}
}

func TestCheckRego(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"broken policies", []string{"check", "rego", filepath.Join(regoTestdata, "broken")}, ExitFindings,
			[]string{"O-002  OPA 策略评估失败", "missing required rules: [violation]", "undefined function http.send", "casebook show O-002, casebook show O-004"}, ""},
		{"fixed policies", []string{"check", "rego", filepath.Join(regoTestdata, "fixed")}, ExitOK,
			[]string{"Checked 3 Rego file(s) and 8 ConstraintTemplate(s)", "No known case found"}, ""},
		{"minor only passes the default gate", []string{"check", "rego", filepath.Join(regoTestdata, "broken", "inventory-scan.yaml")}, ExitOK,
			[]string{"O-004"}, ""},
		{"minor fails --fail-on minor", []string{"check", "rego", filepath.Join(regoTestdata, "broken", "inventory-scan.yaml"), "--fail-on", "minor"}, ExitFindings,
			[]string{"O-004"}, ""},
		{"several paths", []string{"check", "rego", filepath.Join(regoTestdata, "fixed", "compile.rego"), filepath.Join(regoTestdata, "broken", "name-kind.yaml")}, ExitFindings,
			[]string{"Checked 1 Rego file(s) and 1 ConstraintTemplate(s)", "required-labels"}, ""},
		{"rego version v0", []string{"check", "rego", filepath.Join(regoTestdata, "broken", "v0-only.rego"), "--rego-version", "v0", "--fail-on", "minor"}, ExitOK, nil, ""},
		{"rego version v1", []string{"check", "rego", filepath.Join(regoTestdata, "broken", "v0-only.rego"), "--rego-version", "v1"}, ExitFindings, []string{"is written in Rego v0 but is meant for v1"}, ""},
		{"bad rego version", []string{"check", "rego", regoTestdata, "--rego-version", "v2"}, ExitUsage, nil, "--rego-version"},
		{"missing path", []string{"check", "rego", "no/such/dir"}, ExitUsage, nil, "no/such/dir: no such file or directory"},
		{"no policies", []string{"check", "rego", wasmTestdata}, ExitUsage, nil, "has no .rego files and no ConstraintTemplates"},
		{"wrong file type", []string{"check", "rego", filepath.Join(wasmTestdata, "hello.wasm")}, ExitUsage, nil, "is neither a .rego file nor YAML"},
		{"no path", []string{"check", "rego"}, ExitUsage, nil, "takes one or more paths"},
		{"no language", []string{"check"}, ExitUsage, nil, "needs a policy language: rego"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s\nstdout: %s", code, tt.wantCode, errOut, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			if tt.wantErr != "" && !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestCheckRegoJSON(t *testing.T) {
	code, out, errOut := run(t, "check", "rego", filepath.Join(regoTestdata, "broken", "missing-violation.yaml"), "-o", "json")
	if code != ExitFindings {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	var got struct {
		OPAVersion string `json:"opa_version"`
		Templates  []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"templates"`
		Findings []struct {
			Case     string              `json:"case"`
			Cause    string              `json:"cause"`
			Evidence []casebook.Evidence `json:"evidence"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out)
	}
	if got.OPAVersion == "" || len(got.Templates) != 1 || got.Templates[0].Version != "v0" || len(got.Findings) != 1 ||
		got.Findings[0].Cause != "missing-violation" || !strings.Contains(got.Findings[0].Evidence[0].Text, "missing-violation.yaml:14:") {
		t.Errorf("got %+v", got)
	}
}

// TestInspectFlagsParse checks flag parsing alone, through runF.
func TestInspectFlagsParse(t *testing.T) {
	io, _, _, _ := TestStreams()
	f := &Factory{IO: io}
	var wasm *InspectWasmOptions
	cmd := NewCmdInspect(f, func(o *InspectWasmOptions) error { wasm = o; return nil })
	cmd.SetArgs([]string{"wasm", "app.wasm", "--memory-limit", "256Mi", "--arch", "arm64", "--network", "-o", "json", "--fail-on", "minor"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if wasm.File != "app.wasm" || wasm.MemoryLimit != "256Mi" || wasm.Arch != "arm64" || !wasm.Network || wasm.Output != "json" || wasm.FailOn != "minor" {
		t.Errorf("options = %+v", wasm)
	}
	var rego *CheckRegoOptions
	cmd = NewCmdCheck(f, func(o *CheckRegoOptions) error { rego = o; return nil })
	cmd.SetArgs([]string{"rego", "a.rego", "templates/", "--rego-version", "v0"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rego.Paths, ",") != "a.rego,templates/" || rego.RegoVersion != "v0" || rego.FailOn != "major" || rego.Output != "table" {
		t.Errorf("options = %+v", rego)
	}
}
