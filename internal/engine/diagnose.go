package engine

import (
	"context"
	"time"

	casebook "github.com/casebook-dev/casebook"
)

// Diagnosis names what a diagnosis reads, for the report.
type Diagnosis struct {
	// Source describes src ("snapshot examples/edge-cluster (12 files)").
	Source string
	// SourceWarnings are the warnings of reading src (snapshot files that
	// did not parse); they lead the report's warnings.
	SourceWarnings []casebook.Warning
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Diagnose is the one diagnose run of casebook: the CLI, serve, the API and
// the agent all call it. It runs the detectors over src and returns the
// report. It fails only when ctx is cancelled.
func Diagnose(ctx context.Context, src casebook.Source, detectors []Detector, d Diagnosis, opts Options) (*casebook.Report, error) {
	res, err := Run(ctx, src, detectors, opts)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	r := casebook.NewReport(d.Source)
	r.Time = now().UTC().Truncate(time.Second)
	r.Findings = res.Findings
	r.Warnings = append(append(r.Warnings, d.SourceWarnings...), res.Warnings...)
	r.Detectors = res.Detectors
	r.Sources = res.Sources
	r.Cases = map[string]casebook.CaseTitle{}
	for _, f := range res.Findings {
		if opts.Case == nil {
			break
		}
		if c, ok := opts.Case(f.CaseID); ok {
			r.Cases[f.CaseID] = casebook.CaseTitle{Title: c.Title, TitleEN: c.TitleEN}
		}
	}
	r.Summarize(res.Excluded)
	return r, nil
}
