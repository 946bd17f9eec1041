package report

import (
	"bytes"
	"testing"

	"github.com/casebook-dev/casebook/internal/report/reporttest"
)

// TestJUnitXSD validates the JUnit XML against the schema Jenkins' xUnit
// plugin checks reports with, using xmllint (see reporttest.JUnitValidator).
func TestJUnitXSD(t *testing.T) {
	validate := reporttest.JUnitValidator(t)
	rego := sampleRego(t, "broken")
	for name, render := range map[string]func(*bytes.Buffer) error{
		"linked zh": func(b *bytes.Buffer) error { return JUnit(b, linkedReport(), testMeta(ZH)) },
		"linked en": func(b *bytes.Buffer) error { return JUnit(b, linkedReport(), testMeta(EN)) },
		"check rego": func(b *bytes.Buffer) error {
			return JUnit(b, rego.Report(), Meta{Lang: EN, Command: "casebook check rego", Subjects: rego.Subjects()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := render(&b); err != nil {
				t.Fatal(err)
			}
			if err := validate(b.Bytes()); err != nil {
				t.Errorf("not valid against junit-10.xsd: %v", err)
			}
		})
	}
	// The schema check can fail: a test case without its name does.
	if validate([]byte(`<testsuites><testsuite name="x" tests="1" failures="0" errors="0"><testcase/></testsuite></testsuites>`)) == nil {
		t.Error("a test case without a name passes; the check proves nothing")
	}
}
