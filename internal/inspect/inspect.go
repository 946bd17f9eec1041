// Package inspect checks artefacts before they ship, the way the cases say
// they fail in a cluster: a Wasm module (through wazero, a real Wasm
// implementation) against what WasmEdge, crun and the runwasi shim support,
// and Rego policies and Gatekeeper ConstraintTemplates (through the OPA
// library) against how OPA 1.x and Gatekeeper parse and compile them.
//
// Every check that maps to a case is a casebook.Finding carrying the case
// ID; its Severity is the check's own (how sure and how bad this artefact's
// problem is), not the case's, so that `--fail-on` gates on the artefact.
// Facts worth knowing that are not problems are Notes.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"

	casebook "github.com/casebook-dev/casebook"
)

// Note is a fact about an artefact that is worth knowing but is not a
// problem by itself, with the case it relates to when there is one.
type Note struct {
	CaseID  string `json:"case,omitempty"`
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
}

// InputError is an artefact casebook cannot inspect at all: a missing file,
// a file that is not what it claims to be, one that is too large.
type InputError struct {
	File string
	Err  error
}

func (e *InputError) Error() string { return fmt.Sprintf("%s: %v", e.File, e.Err) }

func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(file, format string, args ...any) error {
	return &InputError{File: file, Err: fmt.Errorf(format, args...)}
}

// IsInputError reports whether err is about the input rather than casebook.
func IsInputError(err error) bool {
	var e *InputError
	return errors.As(err, &e)
}

// CaseIDs lists every case the checks of this package report, so a test can
// check that each exists in the library.
var CaseIDs = []string{"W-001", "W-002", "W-003", "W-005", "W-006", "W-008", "O-002", "O-004"}

// sortFindings orders findings most severe first, then by case and object,
// keeping the order in which checks found them otherwise.
func sortFindings(fs []casebook.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.CaseID != b.CaseID {
			return a.CaseID < b.CaseID
		}
		return objectKey(a) < objectKey(b)
	})
}

func objectKey(f casebook.Finding) string {
	if len(f.Objects) == 0 {
		return ""
	}
	return f.Objects[0].String()
}

// pages64K is the size of a Wasm memory page.
const pages64K = 64 << 10

// sizeString renders a byte count in binary units, as Kubernetes writes them.
func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// fileKind names what a file that is not a regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return "a special file"
}

// readRegular reads at most max bytes of the regular file at path. It
// looks before it opens: opening a FIFO waits for a writer, for ever if none
// comes. The read stops when ctx ends.
func readRegular(ctx context.Context, path string, max int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, inputErrorf(path, "no such file")
		}
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, inputErrorf(path, "is %s, not a regular file", fileKind(st.Mode()))
	}
	if st.Size() > max {
		return nil, inputErrorf(path, "is %s, larger than the %s casebook inspects", sizeString(st.Size()), sizeString(max))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, f}, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, inputErrorf(path, "is larger than the %s casebook inspects", sizeString(max))
	}
	return data, nil
}

// ctxReader stops reading when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
