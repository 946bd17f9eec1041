package caseload_test

import (
	"slices"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
)

// seedIDs are the 23 cases of the seed index; the library must hold each.
var seedIDs = []string{
	"W-001", "W-002", "W-003", "W-004", "W-005", "W-006", "W-007", "W-008",
	"K-001", "K-002", "K-003", "K-004", "K-005", "K-006",
	"O-001", "O-002", "O-003", "O-004",
	"N-001", "N-002", "N-003",
	"S-001", "S-002",
}

func TestEmbeddedLibrary(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lib.Problems {
		t.Errorf("embedded library: %s", p.Error())
	}
	if len(lib.Cases) < len(seedIDs) {
		t.Errorf("library has %d cases, want at least the seed's %d", len(lib.Cases), len(seedIDs))
	}
	// New cases join their component's table after the seed's; the seed's
	// cases keep the seed's order among themselves.
	var order []string
	for _, c := range lib.Cases {
		if slices.Contains(seedIDs, c.ID) {
			order = append(order, c.ID)
		}
		if !c.Component.Valid() || !c.Severity.Valid() || len(c.Types) == 0 || c.TitleEN == "" {
			t.Errorf("%s: incomplete front matter: %+v", c.ID, c)
		}
	}
	for _, id := range seedIDs {
		if _, ok := lib.Get(id); !ok {
			t.Errorf("case %s is missing", id)
		}
	}
	if !slices.Equal(order, seedIDs) {
		t.Errorf("seed cases are in the order %v, want the seed's %v", order, seedIDs)
	}
	problems, _, err := caseload.Lint(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if !p.Warning {
			t.Errorf("lint: %s", p.Error())
		}
	}
}

// TestReferenceCase holds W-001, the seed's one finished case, to the bar of
// a complete case.
func TestReferenceCase(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	c, ok := lib.Get("W-001")
	if !ok {
		t.Fatal("W-001 missing")
	}
	if c.Status != casebook.StatusComplete {
		t.Errorf("W-001 status = %s, want complete", c.Status)
	}
	if len(c.Signals) < 3 {
		t.Errorf("W-001 has %d signals, want at least 3", len(c.Signals))
	}
}

func BenchmarkLoadLibrary(b *testing.B) {
	fsys := cases.FS()
	b.ReportAllocs()
	for b.Loop() {
		lib, err := caseload.Load(fsys, "cases/")
		if err != nil || len(lib.Cases) < len(seedIDs) {
			b.Fatalf("load: %v, %d cases", err, len(lib.Cases))
		}
	}
}

// TestCaseContent holds every case of the library, the seed's and the ones
// added since, to the bar the case-content issues set: 已完成, at least three
// signals, versions, related cases, references, and the reproduction,
// prevention and reference sections.
func TestCaseContent(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range seedIDs {
		if _, ok := lib.Get(id); !ok {
			t.Errorf("%s missing", id)
		}
	}
	for _, c := range lib.Cases {
		t.Run(c.ID, func(t *testing.T) {
			if c.Status != casebook.StatusComplete {
				t.Errorf("status = %s, want complete", c.Status)
			}
			if len(c.Signals) < 3 {
				t.Errorf("%d signals, want at least 3", len(c.Signals))
			}
			for _, s := range c.Signals {
				if len(s.String()) < 12 {
					t.Errorf("signal %q is too short to identify a case", s.String())
				}
			}
			if len(c.Environment) == 0 || len(c.Related) == 0 || len(c.References) == 0 {
				t.Errorf("environment, related and references must be set: %v / %v / %v", c.Environment, c.Related, c.References)
			}
			for _, sec := range []string{"复现", "预防措施", "参考资料"} {
				if s := c.Section(sec); s == nil || len(s.Text) < 40 {
					t.Errorf("section %s missing or empty", sec)
				}
			}
		})
	}
}
