package inspect

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
)

// causes lists "CASE/cause/severity" for each finding, in report order.
func causes(fs []casebook.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.CaseID+"/"+f.Cause+"/"+string(f.Severity))
	}
	return out
}

func inspectTestModule(t *testing.T, name string, opts WasmOptions) *WasmReport {
	t.Helper()
	r, err := InspectWasmFile(context.Background(), filepath.Join("testdata", "wasm", name), opts)
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return r
}

// TestWasmChecks runs each check in both directions: the module that
// reproduces the case is flagged, the one built the case's way is not.
func TestWasmChecks(t *testing.T) {
	const mi = 1 << 20
	tests := []struct {
		name   string
		module string
		opts   WasmOptions
		want   []string
	}{
		{"plain module: only the missing AOT section", "hello.wasm", WasmOptions{}, []string{"W-001/no-aot/minor"}},
		{"AOT section for the node's architecture", "hello_aot.wasm", WasmOptions{Arch: "amd64"}, []string{}},
		{"AOT section for another architecture", "hello_aot.wasm", WasmOptions{Arch: "arm64"}, []string{"W-001/aot-arch/minor"}},
		{"wasm32-wasip1-threads build", "threads.wasm", WasmOptions{},
			[]string{"W-005/wasi-threads/major", "W-005/threads-proposal/major", "W-001/no-aot/minor"}},
		{"atomics without wasi-threads", "atomics.wasm", WasmOptions{}, []string{"W-005/threads-proposal/major", "W-001/no-aot/minor"}},
		{"plugins and no memory maximum", "plugins.wasm", WasmOptions{},
			[]string{"W-003/plugin-rustls_client/major", "W-008/plugin-wasi_ephemeral_nn/major",
				"W-008/plugin-wasi:logging/logging/major", "W-008/plugin-wasmedge_process/major",
				"W-001/no-aot/minor", "W-002/memory-unbounded/minor"}},
		{"no maximum under a known limit", "plugins.wasm", WasmOptions{MemoryLimit: 128 * mi},
			[]string{"W-002/memory-unbounded/major", "W-003/plugin-rustls_client/major", "W-008/plugin-wasi_ephemeral_nn/major",
				"W-008/plugin-wasi:logging/logging/major", "W-008/plugin-wasmedge_process/major", "W-001/no-aot/minor"}},
		{"maximum above the limit", "bigmem.wasm", WasmOptions{MemoryLimit: 192 * mi}, []string{"W-002/memory-max-over-limit/major", "W-001/no-aot/minor"}},
		{"initial memory above the limit", "bigmem.wasm", WasmOptions{MemoryLimit: 64 * mi}, []string{"W-002/initial-memory-over-limit/critical", "W-001/no-aot/minor"}},
		{"maximum within the limit", "bigmem.wasm", WasmOptions{MemoryLimit: 512 * mi}, []string{"W-001/no-aot/minor"}},
		{"memory over 4 GiB", "overmax.wasm", WasmOptions{}, []string{"W-002/memory-over-4gib/critical"}},
		{"network module with WasmEdge sockets", "net.wasm", WasmOptions{Network: true}, []string{"W-001/no-aot/minor"}},
		{"network module without sockets", "hello.wasm", WasmOptions{Network: true}, []string{"W-003/no-socket-support/major", "W-001/no-aot/minor"}},
		{"TLS plugin counts as networking", "plugins.wasm", WasmOptions{Network: true},
			[]string{"W-003/plugin-rustls_client/major", "W-008/plugin-wasi_ephemeral_nn/major", "W-008/plugin-wasi:logging/logging/major",
				"W-008/plugin-wasmedge_process/major", "W-001/no-aot/minor", "W-002/memory-unbounded/minor"}},
		{"reactor", "reactor.wasm", WasmOptions{}, []string{"W-001/no-aot/minor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := inspectTestModule(t, tt.module, tt.opts)
			if got := causes(r.Findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings\n got  %q\n want %q", got, tt.want)
			}
			for _, f := range r.Findings {
				if len(f.Objects) != 1 || f.Objects[0].Name != filepath.Join("testdata", "wasm", tt.module) || f.Message == "" || f.NextStep == "" {
					t.Errorf("finding %s/%s is incomplete: %+v", f.CaseID, f.Cause, f)
				}
			}
		})
	}
}

func TestWasmFacts(t *testing.T) {
	r := inspectTestModule(t, "threads.wasm", WasmOptions{})
	if len(r.Imports) != 3 || r.Imports[1].Module != "wasi" || !slices.Equal(r.Imports[1].Functions, []string{"thread-spawn"}) ||
		!slices.Equal(r.Imports[2].Memories, []string{"memory"}) || r.Imports[0].Provider != "WASI" {
		t.Errorf("imports = %+v", r.Imports)
	}
	if !slices.Equal(r.Exports.Functions, []string{"_start", "wasi_thread_start"}) {
		t.Errorf("exports = %+v", r.Exports)
	}
	if len(r.Memories) != 1 || r.Memories[0].Import != "env.memory" || r.Memories[0].Min != 17 ||
		r.Memories[0].Max == nil || *r.Memories[0].Max != 16384 || !r.Memories[0].Shared {
		t.Errorf("memories = %+v", r.Memories)
	}
	if !strings.Contains(r.Threads, "shared memory requested but threads feature not enabled") {
		t.Errorf("threads = %q", r.Threads)
	}
	// The exact message ties the finding to the case's log line.
	for _, f := range r.Findings {
		if f.Cause == "wasi-threads" && !strings.Contains(f.Message, "unknown import, Code: 0x302") {
			t.Errorf("wasi-threads message = %q", f.Message)
		}
	}

	aot := inspectTestModule(t, "hello_aot.wasm", WasmOptions{})
	if aot.AOT == nil || aot.AOT.Version != 3 || aot.AOT.OS != "linux" || aot.AOT.Arch != "amd64" {
		t.Errorf("aot = %+v", aot.AOT)
	}
	if got := []string{aot.CustomSections[0].Name, aot.CustomSections[1].Name}; !slices.Equal(got, []string{"producers", "wasmedge"}) {
		t.Errorf("custom sections = %+v", aot.CustomSections)
	}
	if !hasNote(aot.Notes, "W-006", "--run-mode=aot") {
		t.Errorf("no 0.17 run-mode note: %+v", aot.Notes)
	}

	net := inspectTestModule(t, "net.wasm", WasmOptions{})
	if !hasNote(net.Notes, "W-003", "sock_open, sock_connect, sock_getaddrinfo") || net.Imports[0].Provider != "WASI (with WasmEdge's socket extension)" {
		t.Errorf("socket extension not reported: %+v %+v", net.Notes, net.Imports)
	}
	reactor := inspectTestModule(t, "reactor.wasm", WasmOptions{})
	if !hasNote(reactor.Notes, "", "exports no _start") {
		t.Errorf("no _start note: %+v", reactor.Notes)
	}
	if hasNote(inspectTestModule(t, "hello.wasm", WasmOptions{}).Notes, "", "_start") {
		t.Error("a module with _start got the _start note")
	}
}

func hasNote(notes []Note, caseID, text string) bool {
	for _, n := range notes {
		if n.CaseID == caseID && strings.Contains(n.Message, text) {
			return true
		}
	}
	return false
}

func TestWasmBadInput(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"truncated.wasm", "not a valid Wasm module: section custom"},
		{"notwasm.wasm", "does not start with the \\0asm magic"},
		{"app_aot.so", "is an ELF file"},
		{"component.wasm", "is a WebAssembly component"},
		{"hello.wat", "is WebAssembly text"},
		{"empty.wasm", "is empty"},
		{"missing.wasm", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "wasm", tt.file)
			_, err := InspectWasmFile(context.Background(), path, WasmOptions{})
			if err == nil || !IsInputError(err) {
				t.Fatalf("err = %v, want an input error", err)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to name %s and say %q", err, path, tt.want)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := InspectWasmFile(context.Background(), filepath.Join("testdata", "wasm", "hello.wasm"), WasmOptions{MaxBytes: 100})
		if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "larger than the 100 B casebook inspects") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := InspectWasmFile(context.Background(), t.TempDir(), WasmOptions{})
		if err == nil || !IsInputError(err) || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestAOTHeader(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want AOTSection
	}{
		{"linux arm64", aotHeader(3, 1, 2), AOTSection{Version: 3, OS: "linux", Arch: "arm64"}},
		{"multi-byte version", aotHeader(300, 2, 1), AOTSection{Version: 300, OS: "darwin", Arch: "amd64"}},
		{"truncated", []byte{0x03, 0x01}, AOTSection{Malformed: true}},
		{"empty", nil, AOTSection{Malformed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeAOTHeader(tt.data); *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
	// A module with a darwin AOT section: the OS check fires on its own.
	m := *testModules["hello.wasm"]
	m.customs = []wasmCustom{{"wasmedge", aotHeader(3, 2, 2)}}
	r, err := InspectWasm(context.Background(), "mac.wasm", m.bytes(), WasmOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := causes(r.Findings); !slices.Equal(got, []string{"W-001/aot-os/minor"}) {
		t.Errorf("findings = %q", got)
	}
}

func TestNormalizeArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "AArch64": "arm64", "armv7l": "arm", "": "", "riscv64": "riscv64"} {
		if got, err := NormalizeArch(in); err != nil || got != want {
			t.Errorf("NormalizeArch(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeArch("sparc"); err == nil {
		t.Error("sparc accepted")
	}
}

// TestCaseIDsExist checks every case this package reports against the
// library, so a renamed case cannot leave the checks pointing nowhere.
func TestCaseIDsExist(t *testing.T) {
	ids := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join("..", "..", "cases"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		data, err := os.ReadFile(filepath.Join("..", "..", "cases", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if id, ok := strings.CutPrefix(line, "id: "); ok {
				ids[strings.TrimSpace(id)] = true
				break
			}
		}
	}
	for _, id := range CaseIDs {
		if !ids[id] {
			t.Errorf("case %s is reported by inspect but not in cases/", id)
		}
	}
	// And every finding the fixtures produce uses a listed ID.
	listed := map[string]bool{}
	for _, id := range CaseIDs {
		listed[id] = true
	}
	for name := range testModules {
		for _, f := range inspectTestModule(t, name, WasmOptions{MemoryLimit: 64 << 20, Network: true, Arch: "arm64"}).Findings {
			if !listed[f.CaseID] {
				t.Errorf("%s: finding for %s, which CaseIDs does not list", name, f.CaseID)
			}
		}
	}
}

// TestRealToolchainModule inspects a module from a real compiler, Go's
// wasip1 port, which is on every machine that runs these tests: WASI
// imports, _start, a memory with no maximum, no AOT section.
func TestRealToolchainModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasip1 binary")
	}
	dir := t.TempDir()
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from wasip1\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "hello.wasm")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	r, err := InspectWasmFile(context.Background(), out, WasmOptions{MemoryLimit: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Imports) != 1 || r.Imports[0].Module != "wasi_snapshot_preview1" || !slices.Contains(r.Imports[0].Functions, "fd_write") {
		t.Errorf("imports = %+v", r.Imports)
	}
	if !slices.Contains(r.Exports.Functions, "_start") || len(r.Memories) != 1 || r.Memories[0].Max != nil {
		t.Errorf("exports %+v, memories %+v", r.Exports, r.Memories)
	}
	if got := causes(r.Findings); !slices.Equal(got, []string{"W-002/memory-unbounded/major", "W-001/no-aot/minor"}) {
		t.Errorf("findings = %q", got)
	}
}
