package cli

import (
	"errors"
	"fmt"
)

// Exit codes of the casebook command, documented in the README.
const (
	// ExitOK: success; for diagnose, inspect wasm and check rego, nothing at or above --fail-on was found.
	ExitOK = 0
	// ExitError: the command failed (I/O, cluster unreachable, a stale index for `index --check`).
	ExitError = 1
	// ExitUsage: bad usage or bad input (unknown flag or case ID, case files that fail lint, an unreadable snapshot,
	// a file that is not a Wasm module, no policies found).
	ExitUsage = 2
	// ExitFindings: diagnose, inspect wasm or check rego found cases at or above --fail-on.
	ExitFindings = 3
)

// exitError carries the exit code a command wants. A nil Err with a code
// means the command has already said what it had to say.
type exitError struct {
	Code int
	Err  error
}

func (e *exitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *exitError) Unwrap() error { return e.Err }

// usageErrorf is an error in how casebook was called or in what it was given.
func usageErrorf(format string, args ...any) error {
	return &exitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// silentExit ends the command with code, printing nothing more.
func silentExit(code int) error { return &exitError{Code: code} }

// exitCode maps an error to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitError
}
