package cli

import (
	"context"
	"fmt"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/engine"
	"github.com/casebook-dev/casebook/internal/rules"
)

// RuleDetectors compiles the detection rules beside the cases of lib
// (foo.rego beside foo.md) and returns one detector per rule. A rule that
// does not compile is a warning on standard error, at its file and line;
// the other rules and the Go detectors still run.
func (f *Factory) RuleDetectors(lib *caseload.Library) []engine.Detector {
	fsys, prefix := f.CasesFS()
	rs, problems := rules.Load(context.Background(), fsys, prefix, lib.Cases)
	for _, p := range problems {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.Style(styleYellow, "warning:"), p.Error())
	}
	return rules.NewSet(rs).Detectors()
}

// withBuiltinCases looks a case up in lib, then in the embedded library:
// a team library (--cases DIR) holds only the team's cases, and the
// built-in detectors still run beside its rules.
func withBuiltinCases(lib *caseload.Library) func(string) (*casebook.Case, bool) {
	var builtin *caseload.Library
	if b, err := caseload.Load(cases.FS(), "cases/"); err == nil {
		builtin = b
	}
	return func(id string) (*casebook.Case, bool) {
		if c, ok := lib.Get(id); ok {
			return c, true
		}
		if builtin != nil {
			return builtin.Get(id)
		}
		return nil, false
	}
}
