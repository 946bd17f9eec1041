package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/cluster"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// EngineDiagnoser is the Diagnoser of `casebook serve`: it runs the
// detectors through the engine over the server's source, and over uploaded
// snapshots.
type EngineDiagnoser struct {
	Library   *caseload.Library
	Detectors []engine.Detector
	// Name describes Src to readers ("snapshot bundle.tar.gz"); Src is nil
	// when the server has no source of its own.
	Name string
	Src  casebook.Source
	// SourceWarnings are the warnings of reading Src, such as snapshot
	// files that did not parse; every diagnosis of Src repeats them.
	SourceWarnings []casebook.Warning
	Exclusions     *engine.Exclusions
	// Timeout bounds each detector; 0 is the engine's default.
	Timeout time.Duration
	// Logs bound the container logs a live Src's diagnosis reads.
	Logs cluster.LogOptions
	// UploadLimits bound what the snapshot of one upload may hold; zero
	// takes DefaultUploadLimits.
	UploadLimits snapshot.Limits
}

// DefaultUploadLimits bound one uploaded snapshot so that the server's
// memory stays bounded: with Limits.Uploads diagnoses at once, the worst
// case TestUploadMemoryCeiling builds within them keeps the heap under its
// ceiling. Objects are capped by count (tiny objects cost most per byte)
// and by their estimated decoded size; the bytes read, and so the files
// being decoded at once, by MaxUnpackedBytes.
var DefaultUploadLimits = snapshot.Limits{
	MaxUnpackedBytes:  64 << 20,
	MaxFileBytes:      16 << 20,
	MaxFiles:          20000,
	MaxObjects:        100_000,
	MaxObjectsPerKind: 50_000,
	MaxDecodedBytes:   128 << 20,
}

var _ Diagnoser = (*EngineDiagnoser)(nil)

// Source names the server's source, "" when there is none.
func (d *EngineDiagnoser) Source() string {
	if d.Src == nil {
		return ""
	}
	return d.Name
}

// Current diagnoses the server's source.
func (d *EngineDiagnoser) Current(ctx context.Context) (*casebook.Report, error) {
	if d.Src == nil {
		return nil, ErrNoSource
	}
	return d.run(ctx, d.Src, engine.Diagnosis{Source: d.Name, SourceWarnings: d.SourceWarnings})
}

// Snapshot diagnoses the snapshot in dir. Warnings name files relative to
// dir, which is a temporary directory the reader never sees.
func (d *EngineDiagnoser) Snapshot(ctx context.Context, dir string) (*casebook.Report, error) {
	lim := d.UploadLimits
	if lim == (snapshot.Limits{}) {
		lim = DefaultUploadLimits
	}
	snap, err := snapshot.LoadContext(ctx, dir, lim)
	if err != nil {
		return nil, err
	}
	if err := snap.RequireObjects(); err != nil {
		return nil, err
	}
	r, err := d.run(ctx, snap, engine.Diagnosis{SourceWarnings: snap.Warnings})
	if err != nil {
		return nil, err
	}
	for i := range r.Warnings {
		w := &r.Warnings[i]
		w.Message = strings.ReplaceAll(w.Message, dir+"/", "")
		w.Message = strings.ReplaceAll(w.Message, dir, ".")
	}
	return r, nil
}

func (d *EngineDiagnoser) run(ctx context.Context, src casebook.Source, what engine.Diagnosis) (*casebook.Report, error) {
	r, err := engine.Diagnose(ctx, src, d.Detectors, what, engine.Options{Case: d.Library.Get, Exclusions: d.Exclusions, Timeout: d.Timeout, Logs: d.Logs})
	if err != nil {
		return nil, fmt.Errorf("diagnose: %w", err)
	}
	return r, nil
}
