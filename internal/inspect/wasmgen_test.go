package inspect

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata modules and golden files")

// wasmModule is a small Wasm binary encoder for the test modules: there is
// no wat2wasm in CI, so the modules in testdata/wasm are written by this
// code (go test ./internal/inspect -update) and each one's WAT equivalent
// is in its comment. Every function has the type () -> (); inspection does
// not look at signatures.
type wasmModule struct {
	imports []wasmImport
	funcs   [][]byte // bodies of defined functions, without locals and end
	memory  *wasmLimits
	exports []wasmExport
	customs []wasmCustom
}

type wasmImport struct {
	module, name string
	memory       *wasmLimits // nil for a function import
}

type wasmLimits struct {
	min    uint32
	max    *uint32
	shared bool
}

type wasmExport struct {
	name  string
	kind  byte // 0 function, 2 memory
	index uint32
}

type wasmCustom struct {
	name string
	data []byte
}

func u32(n uint32) *uint32 { return &n }

func leb(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func wname(s string) []byte { return append(leb(uint64(len(s))), s...) }

func (l *wasmLimits) encode() []byte {
	var b []byte
	switch {
	case l.shared:
		b = append(b, 0x03)
	case l.max != nil:
		b = append(b, 0x01)
	default:
		b = append(b, 0x00)
	}
	b = append(b, leb(uint64(l.min))...)
	if l.max != nil {
		b = append(b, leb(uint64(*l.max))...)
	}
	return b
}

func section(id byte, items ...[]byte) []byte {
	var body []byte
	body = append(body, leb(uint64(len(items)))...)
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, leb(uint64(len(body)))...), body...)
}

func (m *wasmModule) bytes() []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, section(1, []byte{0x60, 0x00, 0x00})...) // type 0: () -> ()
	if len(m.imports) > 0 {
		var items [][]byte
		for _, im := range m.imports {
			it := append(wname(im.module), wname(im.name)...)
			if im.memory != nil {
				it = append(append(it, 0x02), im.memory.encode()...)
			} else {
				it = append(it, 0x00, 0x00)
			}
			items = append(items, it)
		}
		b = append(b, section(2, items...)...)
	}
	if len(m.funcs) > 0 {
		var items [][]byte
		for range m.funcs {
			items = append(items, []byte{0x00})
		}
		b = append(b, section(3, items...)...)
	}
	if m.memory != nil {
		b = append(b, section(5, m.memory.encode())...)
	}
	if len(m.exports) > 0 {
		var items [][]byte
		for _, e := range m.exports {
			items = append(items, append(append(wname(e.name), e.kind), leb(uint64(e.index))...))
		}
		b = append(b, section(7, items...)...)
	}
	if len(m.funcs) > 0 {
		var items [][]byte
		for _, body := range m.funcs {
			code := append(append([]byte{0x00}, body...), 0x0b) // no locals, body, end
			items = append(items, append(leb(uint64(len(code))), code...))
		}
		b = append(b, section(10, items...)...)
	}
	for _, c := range m.customs {
		body := append(wname(c.name), c.data...)
		b = append(b, append(append([]byte{0x00}, leb(uint64(len(body)))...), body...)...)
	}
	return b
}

func fn(module, name string) wasmImport { return wasmImport{module: module, name: name} }

// aotHeader is the start of a "wasmedge" section as `wasmedge compile`
// writes it: LEB128 binary version, OS byte, architecture byte; the rest
// (addresses and native code) is not read by casebook.
func aotHeader(version uint64, os, arch byte) []byte {
	return append(append(leb(version), os, arch), make([]byte, 16)...)
}

var producers = wasmCustom{"producers", []byte("\x01\x08language\x01\x04Rust\x061.83.0")}

// testModules are the modules in testdata/wasm, by file name.
var testModules = map[string]*wasmModule{
	// (module
	//   (import "wasi_snapshot_preview1" "fd_write" (func))
	//   (import "wasi_snapshot_preview1" "proc_exit" (func))
	//   (memory (export "memory") 17 256)
	//   (func (export "_start")))   + a "producers" section
	"hello.wasm": {
		imports: []wasmImport{fn("wasi_snapshot_preview1", "fd_write"), fn("wasi_snapshot_preview1", "proc_exit")},
		funcs:   [][]byte{{}},
		memory:  &wasmLimits{min: 17, max: u32(256)},
		exports: []wasmExport{{"_start", 0, 2}, {"memory", 2, 0}},
		customs: []wasmCustom{producers},
	},
	// hello.wasm after `wasmedge compile`: a "wasmedge" section for linux/amd64.
	"hello_aot.wasm": {
		imports: []wasmImport{fn("wasi_snapshot_preview1", "fd_write"), fn("wasi_snapshot_preview1", "proc_exit")},
		funcs:   [][]byte{{}},
		memory:  &wasmLimits{min: 17, max: u32(256)},
		exports: []wasmExport{{"_start", 0, 2}, {"memory", 2, 0}},
		customs: []wasmCustom{producers, {"wasmedge", aotHeader(3, 1, 1)}},
	},
	// What rustc emits for wasm32-wasip1-threads:
	// (module
	//   (import "wasi_snapshot_preview1" "fd_write" (func))
	//   (import "wasi" "thread-spawn" (func))
	//   (import "env" "memory" (memory 17 16384 shared))
	//   (func (export "_start")) (func (export "wasi_thread_start")))
	"threads.wasm": {
		imports: []wasmImport{fn("wasi_snapshot_preview1", "fd_write"), fn("wasi", "thread-spawn"),
			{module: "env", name: "memory", memory: &wasmLimits{min: 17, max: u32(16384), shared: true}}},
		funcs:   [][]byte{{}, {}},
		exports: []wasmExport{{"_start", 0, 2}, {"wasi_thread_start", 0, 3}},
	},
	// Atomics on an ordinary memory, as with -C target-feature=+atomics:
	// (module (memory (export "memory") 1 16)
	//   (func (export "_start") (drop (i32.atomic.load (i32.const 0)))))
	"atomics.wasm": {
		funcs:   [][]byte{{0x41, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x1a}},
		memory:  &wasmLimits{min: 1, max: u32(16)},
		exports: []wasmExport{{"_start", 0, 0}, {"memory", 2, 0}},
	},
	// A module that needs four plugins and has no memory maximum:
	// (module
	//   (import "wasi_ephemeral_nn" "load" (func)) (import "wasi_ephemeral_nn" "compute" (func))
	//   (import "rustls_client" "default_config" (func))
	//   (import "wasi:logging/logging" "log" (func))
	//   (import "wasmedge_process" "wasmedge_process_start" (func))
	//   (memory (export "memory") 17)
	//   (func (export "_start")))
	"plugins.wasm": {
		imports: []wasmImport{fn("wasi_ephemeral_nn", "load"), fn("wasi_ephemeral_nn", "compute"),
			fn("rustls_client", "default_config"), fn("wasi:logging/logging", "log"),
			fn("wasmedge_process", "wasmedge_process_start")},
		funcs:   [][]byte{{}},
		memory:  &wasmLimits{min: 17},
		exports: []wasmExport{{"_start", 0, 5}, {"memory", 2, 0}},
	},
	// A server built with wasmedge_wasi_socket:
	// (module
	//   (import "wasi_snapshot_preview1" "sock_open" (func))
	//   (import "wasi_snapshot_preview1" "sock_connect" (func))
	//   (import "wasi_snapshot_preview1" "sock_getaddrinfo" (func))
	//   (import "wasi_snapshot_preview1" "sock_recv" (func))
	//   (memory (export "memory") 17 1024)
	//   (func (export "_start")))
	"net.wasm": {
		imports: []wasmImport{fn("wasi_snapshot_preview1", "sock_open"), fn("wasi_snapshot_preview1", "sock_connect"),
			fn("wasi_snapshot_preview1", "sock_getaddrinfo"), fn("wasi_snapshot_preview1", "sock_recv")},
		funcs:   [][]byte{{}},
		memory:  &wasmLimits{min: 17, max: u32(1024)},
		exports: []wasmExport{{"_start", 0, 4}, {"memory", 2, 0}},
	},
	// (module (memory (export "memory") 2048 4096) (func (export "_start")))
	// 128 MiB initial, 256 MiB maximum.
	"bigmem.wasm": {
		funcs:   [][]byte{{}},
		memory:  &wasmLimits{min: 2048, max: u32(4096)},
		exports: []wasmExport{{"_start", 0, 0}, {"memory", 2, 0}},
	},
	// (module (memory (export "memory") 1 65537) (func (export "_start")))
	"overmax.wasm": {
		funcs:   [][]byte{{}},
		memory:  &wasmLimits{min: 1, max: u32(65537)},
		exports: []wasmExport{{"_start", 0, 0}, {"memory", 2, 0}},
	},
	// A WASI reactor:
	// (module (memory (export "memory") 1 16) (func (export "_initialize")) (func (export "handle")))
	"reactor.wasm": {
		funcs:   [][]byte{{}, {}},
		memory:  &wasmLimits{min: 1, max: u32(16)},
		exports: []wasmExport{{"_initialize", 0, 0}, {"handle", 0, 1}, {"memory", 2, 0}},
	},
}

// badInputs are files that are not core Wasm modules.
func badInputs() map[string][]byte {
	hello := testModules["hello.wasm"].bytes()
	return map[string][]byte{
		"truncated.wasm": hello[:len(hello)-20],
		"notwasm.wasm":   []byte("#!/bin/sh\necho hello\n"),
		"app_aot.so":     append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 57)...),
		"component.wasm": []byte("\x00asm\x0d\x00\x01\x00"),
		"hello.wat":      []byte("(module\n  (func (export \"_start\")))\n"),
		"empty.wasm":     {},
	}
}

// TestTestdataModules checks that testdata/wasm holds what the encoder
// writes, and rewrites it with -update.
func TestTestdataModules(t *testing.T) {
	all := badInputs()
	for name, m := range testModules {
		all[name] = m.bytes()
	}
	for name, want := range all {
		path := filepath.Join("testdata", "wasm", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./internal/inspect -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the encoder writes (go test ./internal/inspect -update)", path)
		}
	}
}
