// Package reporttest validates the reports for CI against the schemas the
// tools that read them use: SARIF 2.1.0 (OASIS) and JUnit XML (Jenkins
// xUnit's junit-10.xsd). The schema files are embedded, so a test in any
// package can use them.
package reporttest

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// sarifSchema is sarif-2.1/schema/sarif-schema-2.1.0.json from
// oasis-tcs/sarif-spec.
//
//go:embed schema/sarif-schema-2.1.0.json
var sarifSchema []byte

// junitXSD is the JUnit schema of jenkinsci/xunit-plugin (MIT; see its header).
//
//go:embed schema/junit-10.xsd
var junitXSD []byte

const sarifSchemaURL = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// SARIFSchema compiles the SARIF 2.1.0 JSON Schema, formats asserted.
func SARIFSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sarifSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(sarifSchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(sarifSchemaURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ValidateSARIF checks a SARIF log against the schema.
func ValidateSARIF(t testing.TB, s *jsonschema.Schema, log []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(log))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// JUnitValidator returns a function that checks JUnit XML against
// junit-10.xsd with xmllint (Debian's libxml2-utils), returning xmllint's
// complaint. Without xmllint the test skips, unless
// CASEBOOK_REQUIRE_XMLLINT is set (as scripts/test sets it), which fails it.
func JUnitValidator(t testing.TB) func(doc []byte) error {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CASEBOOK_REQUIRE_XMLLINT") != "" {
			t.Fatal("xmllint is not installed (apt-get install libxml2-utils)")
		}
		t.Skip("xmllint is not installed (apt-get install libxml2-utils)")
	}
	dir := t.TempDir()
	xsd := filepath.Join(dir, "junit-10.xsd")
	if err := os.WriteFile(xsd, junitXSD, 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	return func(doc []byte) error {
		n++
		path := filepath.Join(dir, fmt.Sprintf("report-%d.xml", n))
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			return err
		}
		out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", xsd, path).CombinedOutput()
		if err != nil {
			return &xmllintError{err: err, out: string(out)}
		}
		return nil
	}
}

type xmllintError struct {
	err error
	out string
}

func (e *xmllintError) Error() string { return e.err.Error() + ": " + e.out }
