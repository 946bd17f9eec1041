package rules

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed builtin/*.rego
var builtinFS embed.FS

// builtinCases maps the rules shipped in the binary to their cases.
var builtinCases = map[string]string{
	"builtin/n003_backend_service_missing.rego": "N-003",
	"builtin/s001_storage_class_missing.rego":   "S-001",
}

// Builtin returns the rules shipped in the binary: causes of built-in
// detectors re-expressed in Rego, proven equal to the Go code by the parity
// test. The Go detectors stay the ones diagnose runs (docs/rules.md says
// why); these are the reference a team's rule can start from.
func Builtin(ctx context.Context) ([]*Rule, error) {
	names := make([]string, 0, len(builtinCases))
	for n := range builtinCases {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*Rule
	for _, n := range names {
		src, err := fs.ReadFile(builtinFS, n)
		if err != nil {
			return nil, err
		}
		r, problems := Compile(ctx, builtinCases[n], "internal/rules/"+n, string(src))
		if len(problems) > 0 {
			return nil, fmt.Errorf("%s", problems[0].Error())
		}
		out = append(out, r)
	}
	return out, nil
}

//go:embed template.rego.tmpl
var ruleTemplate string

// Template returns the scaffold of a new case's rule.
func Template(id, caseFile string) string {
	pkg := strings.ToLower(strings.ReplaceAll(id, "-", ""))
	return strings.NewReplacer("{{ID}}", id, "{{FILE}}", caseFile, "{{PKG}}", pkg).Replace(ruleTemplate)
}
