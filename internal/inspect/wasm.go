package inspect

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	casebook "github.com/casebook-dev/casebook"
)

// DefaultMaxWasmBytes is the largest module InspectWasmFile reads. AOT
// modules in WasmEdge's universal format carry native code for every
// function and run to tens of MiB; a quarter GiB leaves room for those.
const DefaultMaxWasmBytes = 256 << 20

// WasmOptions are what the caller knows about where the module will run.
type WasmOptions struct {
	// MemoryLimit is the container's memory limit in bytes; 0 means unknown.
	MemoryLimit int64
	// Arch is the node's CPU architecture as Kubernetes labels it (amd64,
	// arm64, riscv64, arm); "" means unknown.
	Arch string
	// Network says the module is meant to open network connections.
	Network bool
	// MaxBytes bounds the module's size; 0 means DefaultMaxWasmBytes.
	MaxBytes int64
}

// WasmReport is what a module holds and which cases it would run into.
type WasmReport struct {
	File string `json:"file"`
	Size int64  `json:"size"`
	// Name is the module name from the name section, if any.
	Name           string          `json:"name,omitempty"`
	Imports        []ImportModule  `json:"imports"`
	Exports        WasmExports     `json:"exports"`
	Memories       []WasmMemory    `json:"memories"`
	CustomSections []CustomSection `json:"custom_sections"`
	// AOT describes WasmEdge's AOT section; nil when the module has none.
	AOT *AOTSection `json:"aot,omitempty"`
	// Threads is why the module needs the Threads proposal (shared memory,
	// atomic instructions), as the Wasm validator put it; "" when it does not.
	Threads  string             `json:"threads,omitempty"`
	Findings []casebook.Finding `json:"findings"`
	Notes    []Note             `json:"notes"`
}

// ImportModule is the imports of a module from one host module.
type ImportModule struct {
	Module    string   `json:"module"`
	Functions []string `json:"functions,omitempty"`
	Memories  []string `json:"memories,omitempty"`
	// Provider says who provides the host module on WasmEdge: "WASI",
	// "WASI (WasmEdge socket extension)", a plugin's name, or "" for unknown.
	Provider string `json:"provider,omitempty"`
}

// WasmExports is what the module exports (functions and memories; wazero
// does not list exported globals and tables).
type WasmExports struct {
	Functions []string `json:"functions"`
	Memories  []string `json:"memories"`
}

// WasmMemory is one linear memory, imported or exported; a memory that is
// neither is not visible through wazero's API.
type WasmMemory struct {
	Index  uint32   `json:"index"`
	Import string   `json:"import,omitempty"`
	Export []string `json:"export,omitempty"`
	Min    uint32   `json:"min_pages"`
	// Max is the declared maximum in 64 KiB pages; nil when unbounded.
	Max    *uint32 `json:"max_pages,omitempty"`
	Shared bool    `json:"shared"`
}

// CustomSection is a custom section's name and size in bytes. wazero keeps
// the "name" section apart, as Name.
type CustomSection struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

// AOTSection is the header of the "wasmedge" custom section that
// `wasmedge compile` adds to a module in its universal Wasm format.
type AOTSection struct {
	// Version is WasmEdge's AOT binary version; a runtime with another one
	// ignores the section ("AOT binary version unmatched").
	Version uint32 `json:"version"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	// Malformed is set when the header does not decode; the fields are then unset.
	Malformed bool `json:"malformed,omitempty"`
}

// InspectWasmFile reads the module at path and inspects it.
func InspectWasmFile(ctx context.Context, path string, opts WasmOptions) (*WasmReport, error) {
	max := opts.MaxBytes
	if max <= 0 {
		max = DefaultMaxWasmBytes
	}
	bin, err := readRegular(ctx, path, max)
	if err != nil {
		return nil, err
	}
	return InspectWasm(ctx, path, bin, opts)
}

// allFeatures is every Wasm feature wazero knows: the facts compile must
// accept any module WasmEdge might, so that a missing proposal in wazero is
// not mistaken for a broken module.
const allFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesThreads | experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst | experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// InspectWasm inspects the module bin, named file in the report.
func InspectWasm(ctx context.Context, file string, bin []byte, opts WasmOptions) (*WasmReport, error) {
	if err := sniffWasm(file, bin); err != nil {
		return nil, err
	}
	r := &WasmReport{File: file, Size: int64(len(bin)), Imports: []ImportModule{}, Memories: []WasmMemory{},
		Exports: WasmExports{Functions: []string{}, Memories: []string{}}, CustomSections: []CustomSection{},
		Findings: []casebook.Finding{}, Notes: []Note{}}

	mod, closeMod, err := compileWasm(ctx, bin, allFeatures)
	if err != nil {
		// wazero applies the wasm32 limit of 65536 pages as WasmEdge's
		// validator does; that is the module's problem, not bad input.
		if strings.Contains(err.Error(), "over limit of 65536 pages") {
			r.add(casebook.SeverityCritical, "W-002", "memory-over-4gib",
				"declares a linear memory larger than 65536 pages (4 GiB), the wasm32 ceiling: WasmEdge rejects it at validation",
				[]string{"wazero: " + err.Error(), "WasmEdge: validation failed: memory size must be at most 65536 pages (4GiB), Code: 0x218"},
				"relink with a maximum below 4 GiB (wasm-ld --max-memory=<bytes>)")
			r.Notes = append(r.Notes, Note{Message: "the module did not compile, so its imports, exports and memories are not listed"})
			sortFindings(r.Findings)
			return r, nil
		}
		return nil, inputErrorf(file, "not a valid Wasm module: %v", err)
	}
	defer closeMod()

	r.Name = mod.Name()
	r.collectImports(mod)
	r.collectExports(mod)
	r.collectMemories(mod)
	for _, s := range mod.CustomSections() {
		r.CustomSections = append(r.CustomSections, CustomSection{Name: s.Name(), Size: len(s.Data())})
		if s.Name() == "wasmedge" && r.AOT == nil {
			r.AOT = decodeAOTHeader(s.Data())
		}
	}

	// The Threads proposal is the one feature WasmEdge leaves off by
	// default that a real toolchain emits; compiling again without it and
	// reading the validator's reason says whether the module needs it.
	if _, close2, err := compileWasm(ctx, bin, allFeatures&^experimental.CoreFeaturesThreads); err != nil {
		if !strings.Contains(err.Error(), "threads") {
			return nil, fmt.Errorf("inspect %s: compile without threads: %w", file, err)
		}
		r.Threads = err.Error()
		if strings.Contains(err.Error(), "shared memory") && len(r.Memories) == 1 {
			r.Memories[0].Shared = true
		}
	} else {
		close2()
	}

	r.checkThreads()
	r.checkPlugins()
	r.checkNetwork(opts)
	r.checkMemory(opts)
	r.checkAOT(opts)
	r.checkStart()
	sortFindings(r.Findings)
	return r, nil
}

// sniffWasm rejects, with a reason a person can act on, inputs that are
// not core Wasm modules, before wazero says only "invalid magic number".
func sniffWasm(file string, bin []byte) error {
	switch {
	case len(bin) == 0:
		return inputErrorf(file, "is empty")
	case bytes.HasPrefix(bin, []byte("\x7fELF")):
		return inputErrorf(file, "is an ELF file, not a Wasm module (WasmEdge's shared-library AOT output? inspect the .wasm it was compiled from)")
	case bytes.HasPrefix(bytes.TrimSpace(bin), []byte("(module")) || bytes.HasPrefix(bytes.TrimSpace(bin), []byte("(component")):
		return inputErrorf(file, "is WebAssembly text (.wat), not a binary module; compile it first (wat2wasm, wasm-tools parse)")
	case len(bin) < 8:
		return inputErrorf(file, "is %d bytes, too short to be a Wasm module (truncated?)", len(bin))
	case !bytes.HasPrefix(bin, []byte("\x00asm")):
		return inputErrorf(file, "is not a Wasm module: it does not start with the \\0asm magic (starts with % x)", bin[:4])
	case bytes.Equal(bin[4:8], []byte{0x0d, 0x00, 0x01, 0x00}):
		return inputErrorf(file, "is a WebAssembly component (component model), not a core module; casebook inspects core modules, which WasmEdge, crun and runwasi run")
	case !bytes.Equal(bin[4:8], []byte{0x01, 0x00, 0x00, 0x00}):
		return inputErrorf(file, "has Wasm binary version % x; core modules have 01 00 00 00", bin[4:8])
	}
	return nil
}

// compileWasm decodes and validates bin with wazero's interpreter, which
// compiles nothing to native code, so inspecting stays cheap. The returned
// function releases the runtime.
func compileWasm(ctx context.Context, bin []byte, features api.CoreFeatures) (wazero.CompiledModule, func(), error) {
	cfg := wazero.NewRuntimeConfigInterpreter().
		WithCoreFeatures(features).
		WithCustomSections(true).
		WithDebugInfoEnabled(false)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	mod, err := rt.CompileModule(ctx, bin)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, nil, err
	}
	return mod, func() { _ = rt.Close(ctx) }, nil
}

func (r *WasmReport) collectImports(mod wazero.CompiledModule) {
	index := map[string]int{}
	group := func(module string) *ImportModule {
		i, ok := index[module]
		if !ok {
			i = len(r.Imports)
			index[module] = i
			r.Imports = append(r.Imports, ImportModule{Module: module, Provider: provider(module)})
		}
		return &r.Imports[i]
	}
	seen := map[string]bool{}
	for _, fn := range mod.ImportedFunctions() {
		// Toolchains may import one function more than once (Go's wasip1
		// port does); the host provides it once.
		module, name, _ := fn.Import()
		if key := module + "\x00" + name; !seen[key] {
			seen[key] = true
			g := group(module)
			g.Functions = append(g.Functions, name)
		}
	}
	for _, mem := range mod.ImportedMemories() {
		module, name, _ := mem.Import()
		g := group(module)
		g.Memories = append(g.Memories, name)
	}
	for i := range r.Imports {
		if r.Imports[i].Module == "wasi_snapshot_preview1" && len(socketExtension(r.Imports[i].Functions)) > 0 {
			r.Imports[i].Provider = "WASI (with WasmEdge's socket extension)"
		}
	}
}

func (r *WasmReport) collectExports(mod wazero.CompiledModule) {
	for name := range mod.ExportedFunctions() {
		r.Exports.Functions = append(r.Exports.Functions, name)
	}
	sort.Strings(r.Exports.Functions)
	for name := range mod.ExportedMemories() {
		r.Exports.Memories = append(r.Exports.Memories, name)
	}
	sort.Strings(r.Exports.Memories)
}

func (r *WasmReport) collectMemories(mod wazero.CompiledModule) {
	byIndex := map[uint32]*WasmMemory{}
	var order []uint32
	add := func(d api.MemoryDefinition) *WasmMemory {
		if m, ok := byIndex[d.Index()]; ok {
			return m
		}
		m := &WasmMemory{Index: d.Index(), Min: d.Min()}
		if max, ok := d.Max(); ok {
			m.Max = &max
		}
		if module, name, ok := d.Import(); ok {
			m.Import = module + "." + name
		}
		byIndex[d.Index()] = m
		order = append(order, d.Index())
		return m
	}
	for _, d := range mod.ImportedMemories() {
		add(d)
	}
	names := make([]string, 0, len(mod.ExportedMemories()))
	for name := range mod.ExportedMemories() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := add(mod.ExportedMemories()[name])
		m.Export = append(m.Export, name)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, i := range order {
		r.Memories = append(r.Memories, *byIndex[i])
	}
}

// decodeAOTHeader reads the start of WasmEdge's "wasmedge" section as
// WasmEdge's loader does (lib/loader/ast/section.cpp): a LEB128 u32 binary
// version, then one byte each for the OS and the CPU architecture.
func decodeAOTHeader(data []byte) *AOTSection {
	v, n := binary.Uvarint(data)
	if n <= 0 || v > 1<<32-1 || len(data) < n+2 {
		return &AOTSection{Malformed: true}
	}
	return &AOTSection{Version: uint32(v), OS: aotOS(data[n]), Arch: aotArch(data[n+1])}
}

func aotOS(b byte) string {
	switch b {
	case 1:
		return "linux"
	case 2:
		return "darwin"
	case 3:
		return "windows"
	}
	return fmt.Sprintf("unknown (%d)", b)
}

// aotArch names WasmEdge's architecture codes as Kubernetes labels nodes.
func aotArch(b byte) string {
	switch b {
	case 1:
		return "amd64"
	case 2:
		return "arm64"
	case 3:
		return "riscv64"
	case 4:
		return "arm"
	}
	return fmt.Sprintf("unknown (%d)", b)
}

// NormalizeArch maps the spellings of a CPU architecture to the one
// Kubernetes uses in kubernetes.io/arch, or returns an error.
func NormalizeArch(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return "", nil
	case "amd64", "x86_64", "x86-64":
		return "amd64", nil
	case "arm64", "aarch64":
		return "arm64", nil
	case "riscv64":
		return "riscv64", nil
	case "arm", "armv7", "armv7l", "armhf":
		return "arm", nil
	}
	return "", fmt.Errorf("unknown architecture %q (want amd64, arm64, riscv64 or arm)", s)
}

// add records a finding against the module.
func (r *WasmReport) add(sev casebook.Severity, caseID, cause, msg string, evidence []string, next string) {
	obj := casebook.ObjectRef{Kind: "WasmModule", Name: r.File}
	r.Findings = append(r.Findings, casebook.Finding{CaseID: caseID, Severity: sev, Cause: cause,
		Objects: []casebook.ObjectRef{obj}, Message: msg, Evidence: quotes(obj, evidence), NextStep: next})
}

// quotes turns the evidence lines of a finding into evidence on its object.
func quotes(obj casebook.ObjectRef, lines []string) []casebook.Evidence {
	out := make([]casebook.Evidence, 0, len(lines))
	for _, l := range lines {
		out = append(out, casebook.Evidence{Object: obj, Text: l})
	}
	return out
}

func (r *WasmReport) note(caseID, msg string) {
	r.Notes = append(r.Notes, Note{CaseID: caseID, Message: msg})
}

func (r *WasmReport) imports(module string) *ImportModule {
	for i := range r.Imports {
		if r.Imports[i].Module == module {
			return &r.Imports[i]
		}
	}
	return nil
}

// checkThreads: WasmEdge does not implement wasi-threads, and its Threads
// proposal is off unless --enable-threads is given, which neither crun's
// handler nor the runwasi shim can do (W-005).
func (r *WasmReport) checkThreads() {
	var spawn []string
	for _, g := range r.Imports {
		for _, fn := range g.Functions {
			if (g.Module == "wasi" && fn == "thread-spawn") || fn == "thread_spawn" || fn == "wasi_thread_spawn" {
				spawn = append(spawn, "import "+g.Module+"."+fn)
			}
		}
	}
	if len(spawn) > 0 {
		ev := append([]string{}, spawn...)
		for _, m := range r.Memories {
			if m.Import != "" {
				ev = append(ev, "import memory "+m.Import+" (the host must provide it)")
			}
		}
		r.add(casebook.SeverityMajor, "W-005", "wasi-threads",
			"spawns threads through wasi-threads (thread-spawn), which WasmEdge does not implement: instantiation fails with unknown import, Code: 0x302, under every runtime path",
			ev, "rebuild for wasm32-wasip1 without threads (async on a current_thread runtime) and scale with replicas")
	}
	if r.Threads != "" {
		what := "atomic instructions"
		if strings.Contains(r.Threads, "shared memory") {
			what = "a shared memory"
		}
		r.add(casebook.SeverityMajor, "W-005", "threads-proposal",
			"uses "+what+" from the Threads proposal, which WasmEdge leaves off by default: the CLI needs --enable-threads (at AOT compile time too); crun's handler and the runwasi shim do not turn it on",
			[]string{"validator without threads: " + r.Threads},
			"rebuild without atomics and shared memory (no -C target-feature=+atomics, no wasm32-wasip1-threads)")
	}
}

type pluginInfo struct {
	name, caseID string
}

// plugins are the host modules WasmEdge provides only through a plugin, by
// the module names in WasmEdge's plugins/ sources.
func plugin(module string) (pluginInfo, bool) {
	switch {
	case module == "wasi_ephemeral_nn":
		return pluginInfo{"WASI-NN plugin", "W-008"}, true
	case strings.HasPrefix(module, "wasi_ephemeral_crypto"):
		return pluginInfo{"WASI-Crypto plugin", "W-008"}, true
	case module == "rustls_client":
		return pluginInfo{"Rustls (TLS) plugin", "W-003"}, true
	case strings.HasPrefix(module, "wasi:logging/") || module == "wasi_logging":
		return pluginInfo{"WASI-Logging plugin", "W-008"}, true
	case module == "wasmedge_httpsreq" || module == "httpsreq":
		return pluginInfo{"HTTPS request plugin", "W-003"}, true
	case module == "wasmedge_process":
		return pluginInfo{"wasmedge_process plugin", "W-008"}, true
	case strings.HasPrefix(module, "wasmedge_"):
		return pluginInfo{module + " plugin", "W-008"}, true
	}
	return pluginInfo{}, false
}

func provider(module string) string {
	switch module {
	case "wasi_snapshot_preview1":
		return "WASI"
	}
	if p, ok := plugin(module); ok {
		return "WasmEdge " + p.name
	}
	return ""
}

// checkPlugins: a host module that only a plugin provides fails to link
// where the plugin is not loaded; crun's handler loads none.
func (r *WasmReport) checkPlugins() {
	for _, g := range r.Imports {
		p, ok := plugin(g.Module)
		if !ok {
			continue
		}
		var ev []string
		for _, fn := range g.Functions {
			ev = append(ev, fmt.Sprintf("import %s.%s", g.Module, fn))
		}
		for _, m := range g.Memories {
			ev = append(ev, fmt.Sprintf("import memory %s.%s", g.Module, m))
		}
		first := ""
		if len(g.Functions) > 0 {
			first = g.Functions[0]
		}
		ev = append(ev, fmt.Sprintf(`without the plugin: instantiation failed: unknown import, Code: 0x302 / When linking module: "%s" , function name: "%s"`, g.Module, first))
		next := "install the " + p.name + " on every node that runs the module and verify with the wasmedge CLI there; on Kubernetes use a runtime path that loads it"
		msg := fmt.Sprintf("needs the WasmEdge %s (imports %q): crun's WasmEdge handler loads no plugin, and the runwasi shim registers only wasi_nn, and only when built with plugin support", p.name, g.Module)
		if g.Module == "rustls_client" || g.Module == "wasmedge_httpsreq" || g.Module == "httpsreq" {
			next = "on Kubernetes terminate TLS outside the module (a sidecar or an egress proxy), or install the plugin and run through a path that loads it"
		}
		r.add(casebook.SeverityMajor, p.caseID, "plugin-"+g.Module, msg, ev, next)
	}
	for _, g := range r.Imports {
		if g.Module == "wasi_snapshot_preview1" || g.Provider != "" || g.Module == "wasi" {
			continue
		}
		r.note("", fmt.Sprintf("imports from %q, which neither WasmEdge's WASI nor a known plugin provides: it links only where the host registers that module", g.Module))
	}
}

// standardSockets are the socket functions of WASI preview 1 itself; the
// other sock_* functions on wasi_snapshot_preview1 are WasmEdge's extension.
var standardSockets = map[string]bool{"sock_accept": true, "sock_recv": true, "sock_send": true, "sock_shutdown": true}

func socketExtension(fns []string) []string {
	var ext []string
	for _, fn := range fns {
		if strings.HasPrefix(fn, "sock_") && !standardSockets[fn] {
			ext = append(ext, fn)
		}
	}
	return ext
}

// checkNetwork: a WASI preview 1 module can open sockets only through
// WasmEdge's socket extension (W-003).
func (r *WasmReport) checkNetwork(opts WasmOptions) {
	var ext []string
	if g := r.imports("wasi_snapshot_preview1"); g != nil {
		ext = socketExtension(g.Functions)
	}
	if len(ext) > 0 {
		r.note("W-003", fmt.Sprintf("opens sockets through WasmEdge's socket extension (%s): it runs on WasmEdge only, in the pod's network namespace, so Services, NetworkPolicies and DNS apply as to any pod", strings.Join(ext, ", ")))
		return
	}
	if !opts.Network {
		return
	}
	for _, g := range r.Imports {
		if g.Module == "rustls_client" || g.Module == "wasmedge_httpsreq" || g.Module == "httpsreq" {
			return
		}
	}
	var std []string
	if g := r.imports("wasi_snapshot_preview1"); g != nil {
		for _, fn := range g.Functions {
			if standardSockets[fn] {
				std = append(std, fn)
			}
		}
	}
	ev := []string{"no import of sock_open, sock_connect, sock_bind, sock_listen or sock_getaddrinfo from wasi_snapshot_preview1"}
	if len(std) > 0 {
		ev = append(ev, "only WASI preview 1's own "+strings.Join(std, ", ")+", which work on sockets the host pre-opens")
	}
	r.add(casebook.SeverityMajor, "W-003", "no-socket-support",
		"is meant to use the network but imports no WasmEdge socket functions, so it cannot open connections (Rust's std::net on wasm32-wasip1 fails with \"operation not supported on this platform\")",
		ev, "build with WasmEdge's socket support: the wasmedge_wasi_socket crate or the patched tokio/hyper/reqwest crates")
}

// checkMemory: the linear memory's maximum decides whether a runaway
// allocation fails inside Wasm or gets the container OOMKilled (W-002).
func (r *WasmReport) checkMemory(opts WasmOptions) {
	if len(r.Memories) == 0 {
		if len(r.Exports.Functions) > 0 {
			r.note("W-002", "no memory is imported or exported, so its limits are not visible here (WASI modules export \"memory\")")
		}
		return
	}
	m := r.Memories[0]
	desc := fmt.Sprintf("memory[%d] min %d pages (%s)", m.Index, m.Min, sizeString(int64(m.Min)*pages64K))
	if m.Max != nil {
		desc += fmt.Sprintf(", max %d pages (%s)", *m.Max, sizeString(int64(*m.Max)*pages64K))
	} else {
		desc += ", no max"
	}
	limit := opts.MemoryLimit
	next := "link with a maximum below the container limit (Rust: -C link-arg=--max-memory=<bytes>), so growth fails inside Wasm with a log line instead of an OOMKill, and set RuntimeClass overhead for WasmEdge itself"
	switch {
	case limit > 0 && int64(m.Min)*pages64K > limit:
		r.add(casebook.SeverityCritical, "W-002", "initial-memory-over-limit",
			fmt.Sprintf("starts with more linear memory than the container limit of %s: the container is OOMKilled as soon as the module uses it", sizeString(limit)),
			[]string{desc, "limits.memory: " + sizeString(limit)}, "raise limits.memory above the initial memory plus WasmEdge's own overhead, or shrink the module's initial memory")
	case limit > 0 && m.Max == nil:
		r.add(casebook.SeverityMajor, "W-002", "memory-unbounded",
			fmt.Sprintf("has no memory maximum, so it may grow to 4 GiB: the %s container limit, not the module, stops it (OOMKilled, exit 137)", sizeString(limit)),
			[]string{desc, "limits.memory: " + sizeString(limit)}, next)
	case limit > 0 && int64(*m.Max)*pages64K > limit:
		r.add(casebook.SeverityMajor, "W-002", "memory-max-over-limit",
			fmt.Sprintf("may grow its memory beyond the %s container limit: the container is OOMKilled (exit 137) before an allocation fails inside Wasm", sizeString(limit)),
			[]string{desc, "limits.memory: " + sizeString(limit)}, next)
	case m.Max == nil:
		r.add(casebook.SeverityMinor, "W-002", "memory-unbounded",
			"has no memory maximum, so it may grow to 4 GiB: in a pod the memory limit stops it (OOMKilled, exit 137) instead of a failed allocation inside Wasm",
			[]string{desc}, next)
	}
}

// checkAOT: WasmEdge runs a module without its AOT section in the
// interpreter (W-001, W-006).
func (r *WasmReport) checkAOT(opts WasmOptions) {
	aotNext := "wasmedge compile --optimize 3 app.wasm app_aot.wasm with the WasmEdge version and CPU architecture of the nodes; on WasmEdge 0.17+ run it with --run-mode=aot"
	a := r.AOT
	switch {
	case a == nil:
		r.add(casebook.SeverityMinor, "W-001", "no-aot",
			"has no WasmEdge AOT section: WasmEdge runs it in the interpreter, often an order of magnitude slower to start and to run (cold start W-001, latency W-006)",
			[]string{"custom sections: " + r.customSectionNames()}, aotNext)
		return
	case a.Malformed:
		r.add(casebook.SeverityMinor, "W-001", "aot-malformed",
			"has a \"wasmedge\" AOT section whose header does not decode: WasmEdge logs a load error and runs the module in the interpreter",
			[]string{"custom section \"wasmedge\""}, aotNext)
		return
	}
	if a.OS != "linux" {
		r.add(casebook.SeverityMinor, "W-001", "aot-os",
			fmt.Sprintf("carries AOT code for %s: on a Linux node WasmEdge ignores it (\"AOT OS type unmatched.\") and interprets the module", a.OS),
			[]string{fmt.Sprintf("AOT section: version %d, %s/%s", a.Version, a.OS, a.Arch)}, aotNext)
	}
	if opts.Arch != "" && a.Arch != opts.Arch {
		r.add(casebook.SeverityMinor, "W-001", "aot-arch",
			fmt.Sprintf("carries AOT code for %s, not for %s nodes: WasmEdge ignores it there (\"AOT arch type unmatched.\") and interprets the module", a.Arch, opts.Arch),
			[]string{fmt.Sprintf("AOT section: version %d, %s/%s", a.Version, a.OS, a.Arch), "node architecture: " + opts.Arch}, aotNext)
	}
	r.note("W-006", fmt.Sprintf("carries a WasmEdge AOT section (binary version %d, %s/%s): WasmEdge 0.14–0.16 use it by themselves; from 0.17 the CLI uses it only with --run-mode=aot, and whether crun and the runwasi shim on 0.17+ do is unconfirmed; a runtime with another AOT binary version falls back to the interpreter", a.Version, a.OS, a.Arch))
}

func (r *WasmReport) customSectionNames() string {
	if len(r.CustomSections) == 0 {
		return "none"
	}
	names := make([]string, len(r.CustomSections))
	for i, s := range r.CustomSections {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// checkStart: crun's WasmEdge handler runs _start.
func (r *WasmReport) checkStart() {
	for _, fn := range r.Exports.Functions {
		if fn == "_start" {
			return
		}
	}
	msg := "exports no _start: crun's WasmEdge handler runs _start, so it cannot be a container's entrypoint there; the CLI runs such a module only with --reactor and a function name"
	for _, fn := range r.Exports.Functions {
		if fn == "_initialize" {
			msg += " (it exports _initialize: a WASI reactor)"
		}
	}
	r.note("", msg)
}
