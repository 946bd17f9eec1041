package cli

import (
	"context"
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

// untilDone runs f and returns what it returns, or ctx's error as soon as
// ctx ends (Ctrl-C, SIGTERM): a stage that cannot be interrupted (parsing
// one large file) is left to end with the process instead of holding it.
func untilDone[T any](ctx context.Context, f func() (T, error)) (T, error) {
	if ctx == nil {
		return f()
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// interruptedOr is the error of a command whose context ended (exit 1,
// "interrupted"), or err when it did not.
func interruptedOr(ctx context.Context, err error) error {
	if ctx != nil && ctx.Err() != nil {
		return &exitError{Code: ExitError, Err: errors.New("interrupted")}
	}
	return err
}
