package web

import (
	"context"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/detectors"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// embeddedLibrary loads the real case library, with its detected cases.
func embeddedLibrary(t testing.TB) *caseload.Library {
	t.Helper()
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	lib.MarkDetected(detectors.IDs())
	return lib
}

func TestEngineDiagnoser(t *testing.T) {
	lib := embeddedLibrary(t)
	snap, err := snapshot.Load("testdata/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	d := &EngineDiagnoser{Library: lib, Detectors: detectors.All(), Name: "snapshot testdata/snapshot", Src: snap}
	for name, run := range map[string]func() (*casebook.Report, error){
		"current":  func() (*casebook.Report, error) { return d.Current(context.Background()) },
		"snapshot": func() (*casebook.Report, error) { return d.Snapshot(context.Background(), "testdata/snapshot") },
	} {
		got, err := run()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.Findings) != 1 || got.Findings[0].CaseID != "K-002" || got.Findings[0].Objects[0].Name != "analytics-0" {
			t.Errorf("%s: findings %+v, want K-002 on shop/analytics-0", name, got.Findings)
		}
		if len(got.Findings[0].Next) == 0 {
			t.Errorf("%s: no next step", name)
		}
		for _, w := range got.Warnings {
			t.Logf("%s: warning %s", name, w)
		}
	}
	if _, err := (&EngineDiagnoser{Library: lib}).Current(context.Background()); err != ErrNoSource {
		t.Errorf("no source: %v", err)
	}
}
