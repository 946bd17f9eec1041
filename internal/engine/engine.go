// Package engine runs detectors over one cluster.State built from a
// casebook.Source: concurrently, each
// with its own deadline, turning a failing, slow or panicking detector into
// a warning while the others still run. It groups findings that share a
// case and a root cause, fills each finding's severity and next step from
// the case library, and drops what the exclusion config accepts.
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/cluster"
)

// Detector finds one case in the cluster state.
type Detector interface {
	// CaseID is the ID of the case the detector finds ("K-002").
	CaseID() string
	// Kinds lists every kind the detector reads. The run lists them up
	// front; collect and the agent's RBAC follow from the same lists.
	Kinds() []casebook.Kind
	// Detect reads st and returns what it found. It may return findings
	// together with an error that says which checks it could not make
	// (a forbidden kind, say); the findings still count.
	Detect(ctx context.Context, st *cluster.State) ([]casebook.Finding, error)
}

// Kinds returns the kinds the detectors read, each once, sorted.
func Kinds(detectors []Detector) []casebook.Kind {
	seen := map[casebook.Kind]bool{}
	var out []casebook.Kind
	for _, d := range detectors {
		for _, k := range d.Kinds() {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Options tune a run.
type Options struct {
	// Concurrency is how many detectors run at once (default 4).
	Concurrency int
	// Timeout bounds each detector (default 60s).
	Timeout time.Duration
	// Case looks up a case in the library, for severities and next steps.
	Case func(id string) (*casebook.Case, bool)
	// Exclusions drop accepted findings; nil keeps everything.
	Exclusions *Exclusions
	// Logs bound the container log tails the run reads (Off turns them off).
	Logs cluster.LogOptions
	// Prometheus, when set, is a Prometheus server detectors may query.
	Prometheus *cluster.Prometheus
	// DetectorDone, when set, is called as each detector finishes (for a
	// progress display); it must be safe for concurrent use.
	DetectorDone func(caseID string)
}

// Result is what a run found.
type Result struct {
	Findings []casebook.Finding
	Warnings []casebook.Warning
	// Excluded counts the objects dropped by exclusions.
	Excluded int
	// Detectors lists the case IDs of the detectors that ran.
	Detectors []string
	// Sources says per case which evidence its detectors could read.
	Sources []casebook.CaseSources
}

// Run runs every detector over src and returns the grouped findings and the
// warnings. It fails only when ctx is cancelled.
func Run(ctx context.Context, src casebook.Source, detectors []Detector, opts Options) (*Result, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	st := cluster.Load(ctx, src, Kinds(detectors), opts.Concurrency)
	st.SetLogOptions(opts.Logs)
	st.SetPrometheus(opts.Prometheus)
	type outcome struct {
		findings []casebook.Finding
		warnings []casebook.Warning
	}
	outcomes := make([]outcome, len(detectors))
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i, d := range detectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			f, w := runOne(ctx, st, d, opts.Timeout)
			if opts.DetectorDone != nil {
				opts.DetectorDone(d.CaseID())
			}
			outcomes[i] = outcome{f, w}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &Result{}
	var all []casebook.Finding
	ran := map[string]bool{}
	// The detector that found a case's cause gives its next steps.
	byCause := map[[2]string]Detector{}
	for i, o := range outcomes {
		for _, f := range o.findings {
			if _, ok := byCause[[2]string{f.CaseID, f.Cause}]; !ok {
				byCause[[2]string{f.CaseID, f.Cause}] = detectors[i]
			}
		}
		if id := detectors[i].CaseID(); !ran[id] {
			ran[id] = true
			res.Detectors = append(res.Detectors, id)
		}
		all = append(all, o.findings...)
		res.Warnings = append(res.Warnings, o.warnings...)
	}
	if opts.Exclusions != nil {
		all, res.Excluded = opts.Exclusions.Apply(all)
	}
	res.Findings = group(all)
	byCase := map[string]Detector{}
	for _, d := range detectors {
		// A case may have more than one detector (its own and a pass over
		// logs): the first, its own, speaks for the case.
		if _, ok := byCase[d.CaseID()]; !ok {
			byCase[d.CaseID()] = d
		}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		var c *casebook.Case
		if opts.Case != nil {
			if cc, ok := opts.Case(f.CaseID); ok {
				c = cc
				f.Severity = c.Severity
			}
		}
		ts := defaultNext(f)
		own := byCase[f.CaseID]
		if d, ok := byCause[[2]string{f.CaseID, f.Cause}]; ok {
			own = d
		}
		if s, ok := own.(Stepper); ok {
			if own := s.NextSteps(f); len(own) > 0 {
				ts = own
			}
		}
		f.Next = fillNext(st, c, f, ts)
		if t, ok := own.(Translator); ok && f.MessageZH == "" {
			f.MessageZH = t.MessageZH(f)
		}
		if f.MessageZH == "" {
			f.MessageZH = f.Message
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool { return res.Findings[i].SortKey() < res.Findings[j].SortKey() })
	res.Findings = link(st, res.Findings, byCase)
	res.Sources, res.Warnings = sources(st, detectors, res.Warnings)
	res.Warnings = dedupeWarnings(res.Warnings)
	return res, nil
}

// runOne runs a detector with its deadline. A detector that does not return
// by then is left behind (its context is cancelled) and reported.
func runOne(ctx context.Context, st *cluster.State, d Detector, timeout time.Duration) ([]casebook.Finding, []casebook.Warning) {
	id := d.CaseID()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type ret struct {
		findings []casebook.Finding
		err      error
	}
	done := make(chan ret, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- ret{err: fmt.Errorf("detector panicked: %v\n%s", p, firstFrames(debug.Stack()))}
			}
		}()
		f, err := d.Detect(dctx, st)
		done <- ret{f, err}
	}()
	select {
	case r := <-done:
		for i := range r.findings {
			if r.findings[i].CaseID == "" {
				r.findings[i].CaseID = id
			}
		}
		var warnings []casebook.Warning
		if r.err != nil {
			if dctx.Err() != nil && ctx.Err() == nil && errors.Is(r.err, context.DeadlineExceeded) {
				warnings = append(warnings, timeoutWarning(id, timeout))
			} else {
				for _, e := range unjoin(r.err) {
					warnings = append(warnings, casebook.Warning{Source: id, Message: explain(e)})
				}
			}
		}
		return r.findings, warnings
	case <-dctx.Done():
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, []casebook.Warning{timeoutWarning(id, timeout)}
	}
}

func timeoutWarning(id string, timeout time.Duration) casebook.Warning {
	return casebook.Warning{Source: id, Message: fmt.Sprintf("detector did not finish within %s; its findings are missing", timeout)}
}

// explain says what a source error means for the diagnosis.
func explain(err error) string {
	switch {
	case errors.Is(err, casebook.ErrForbidden):
		return err.Error() + " (checks that need it were skipped)"
	case errors.Is(err, casebook.ErrNotServed):
		return err.Error() + " (checks that need it were skipped)"
	}
	return err.Error()
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// firstFrames keeps the top of a panic's stack: enough to find the line.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	// Skip the goroutine header and the frames of debug.Stack and the
	// deferred recover, which say nothing about the detector.
	for i, ln := range lines {
		if strings.HasPrefix(ln, "panic(") {
			lines = lines[i:]
			break
		}
	}
	if len(lines) > 9 {
		lines = lines[:9]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func dedupeWarnings(ws []casebook.Warning) []casebook.Warning {
	seen := map[casebook.Warning]bool{}
	var out []casebook.Warning
	for _, w := range ws {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// group merges findings with the same case and cause into one, listing all
// their objects and evidence. Findings without a cause stay on their own.
func group(fs []casebook.Finding) []casebook.Finding {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.CaseID != b.CaseID {
			return a.CaseID < b.CaseID
		}
		if a.Cause != b.Cause {
			return a.Cause < b.Cause
		}
		return firstObject(a) < firstObject(b)
	})
	var out []casebook.Finding
	index := map[[2]string]int{}
	for _, f := range fs {
		key := [2]string{f.CaseID, f.Cause}
		i, ok := index[key]
		if !ok || f.Cause == "" {
			index[key] = len(out)
			f.Objects = appendUnique(nil, f.Objects...)
			f.Evidence = appendUnique(nil, f.Evidence...)
			out = append(out, f)
			continue
		}
		g := &out[i]
		g.Objects = appendUnique(g.Objects, f.Objects...)
		g.Evidence = appendUnique(g.Evidence, f.Evidence...)
	}
	return out
}

func firstObject(f casebook.Finding) string {
	if len(f.Objects) == 0 {
		return ""
	}
	return f.Objects[0].String()
}

func appendUnique[T comparable](dst []T, items ...T) []T {
	for _, it := range items {
		dup := false
		for _, d := range dst {
			if d == it {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, it)
		}
	}
	return dst
}
