package reproduce

import (
	"context"
	"errors"
	"fmt"
	"time"

	casebook "github.com/casebook-dev/casebook"
)

// RunOptions tune one run.
type RunOptions struct {
	// Diagnose runs casebook's detectors over the cluster (read-only, in
	// the lab namespace) and returns the findings.
	Diagnose func(ctx context.Context) ([]casebook.Finding, error)
	// Poll is how often Diagnose runs while waiting (default 2s).
	Poll time.Duration
	// Timeout bounds each wait (default the reproduction's own).
	Timeout time.Duration
	// CleanupWait bounds the wait for the namespace to go (default 90s).
	CleanupWait time.Duration
	// Progress is told what happens, one line at a time.
	Progress func(format string, args ...any)
}

// Result is what a run saw.
type Result struct {
	// Leftovers are what an earlier run left and this one removed first.
	Leftovers []string
	// Broken are the case's findings once broken was applied.
	Broken []casebook.Finding
	// AppearedAfter and ClearedAfter time the two waits.
	AppearedAfter, ClearedAfter time.Duration
	// Removed is what the cleanup deleted.
	Removed []string
}

// ErrTimeout is returned when the finding does not appear or clear in time.
var ErrTimeout = errors.New("timed out")

// Run reproduces r on lab: it removes an earlier run's leftovers, applies
// broken, waits for the case's finding, applies the fix, waits for the
// finding to clear and cleans up. The cleanup runs however Run ends: on an
// error, on a timeout and when ctx is cancelled (Ctrl-C), with a context of
// its own.
func Run(ctx context.Context, lab *Lab, r *Reproduction, opts RunOptions) (res *Result, err error) {
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = r.Timeout
	}
	if opts.CleanupWait <= 0 {
		opts.CleanupWait = 90 * time.Second
	}
	say := opts.Progress
	if say == nil {
		say = func(string, ...any) {}
	}
	res = &Result{}
	if res.Leftovers, err = lab.Cleanup(ctx, r, opts.CleanupWait); err != nil {
		return res, fmt.Errorf("remove an earlier run's objects: %w", err)
	}
	if len(res.Leftovers) > 0 {
		say("removed what an earlier run left: %v", res.Leftovers)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.CleanupWait+10*time.Second)
		defer cancel()
		say("cleaning up %s", r.Namespace())
		removed, cerr := lab.Cleanup(cctx, r, opts.CleanupWait)
		res.Removed = removed
		if cerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
		}
	}()

	if err := lab.CreateNamespace(ctx, r); err != nil {
		return res, fmt.Errorf("create namespace %s: %w", r.Namespace(), err)
	}
	say("applying broken (%d objects) into %s", len(r.Broken), r.Namespace())
	if err := lab.Apply(ctx, r.Prepared(r.Broken)); err != nil {
		return res, err
	}
	start := time.Now()
	res.Broken, err = wait(ctx, opts, r, true)
	if err != nil {
		return res, fmt.Errorf("waiting for %s to appear: %w", r.CaseID, err)
	}
	res.AppearedAfter = time.Since(start)
	say("%s found after %s", r.CaseID, res.AppearedAfter.Round(time.Second))

	say("applying the fix (%d objects, %d deleted)", len(r.Fix), len(r.Removed()))
	if err := lab.Apply(ctx, r.Prepared(r.Fix)); err != nil {
		return res, err
	}
	if err := lab.Delete(ctx, r.Removed()); err != nil {
		return res, err
	}
	start = time.Now()
	if _, err := wait(ctx, opts, r, false); err != nil {
		return res, fmt.Errorf("waiting for %s to clear: %w", r.CaseID, err)
	}
	res.ClearedAfter = time.Since(start)
	say("%s cleared after %s", r.CaseID, res.ClearedAfter.Round(time.Second))
	return res, nil
}

// wait polls Diagnose until r's finding is present (want) or absent.
func wait(ctx context.Context, opts RunOptions, r *Reproduction, want bool) ([]casebook.Finding, error) {
	deadline := time.Now().Add(opts.Timeout)
	var last []casebook.Finding
	var lastErr error
	for {
		fs, err := opts.Diagnose(ctx)
		if err == nil {
			last = Mine(r, fs)
			if want && complete(r, last) || !want && len(last) == 0 {
				return last, nil
			}
		}
		lastErr = err
		if time.Now().After(deadline) {
			if lastErr != nil {
				return last, fmt.Errorf("%w after %s: %v", ErrTimeout, opts.Timeout, lastErr)
			}
			return last, fmt.Errorf("%w after %s", ErrTimeout, opts.Timeout)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(opts.Poll):
		}
	}
}

// complete reports whether fs holds every cause r expects (any finding
// when it expects none in particular).
func complete(r *Reproduction, fs []casebook.Finding) bool {
	if len(fs) == 0 {
		return false
	}
	have := map[string]bool{}
	for _, f := range fs {
		have[f.Cause] = true
	}
	for _, c := range r.Expect {
		if !have[c] {
			return false
		}
	}
	return true
}
