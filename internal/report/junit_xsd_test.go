package report

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestJUnitXSD validates the JUnit XML against the schema Jenkins' xUnit
// plugin checks reports with (testdata/schema/junit-10.xsd), using
// xmllint (Debian's libxml2-utils). Without xmllint it skips, unless
// CASEBOOK_REQUIRE_XMLLINT is set, as scripts/test sets it.
func TestJUnitXSD(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CASEBOOK_REQUIRE_XMLLINT") != "" {
			t.Fatal("xmllint is not installed (apt-get install libxml2-utils)")
		}
		t.Skip("xmllint is not installed (apt-get install libxml2-utils)")
	}
	dir := t.TempDir()
	validate := func(t *testing.T, name string, doc []byte) error {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", "testdata/schema/junit-10.xsd", path).CombinedOutput()
		if err != nil {
			t.Logf("%s", out)
		}
		return err
	}
	rego := sampleRego(t, "broken")
	for name, render := range map[string]func(*bytes.Buffer) error{
		"linked-zh.xml": func(b *bytes.Buffer) error { return JUnit(b, linkedReport(), testMeta(ZH)) },
		"linked-en.xml": func(b *bytes.Buffer) error { return JUnit(b, linkedReport(), testMeta(EN)) },
		"check-rego.xml": func(b *bytes.Buffer) error {
			return JUnit(b, rego.Report(), Meta{Lang: EN, Command: "casebook check rego"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := render(&b); err != nil {
				t.Fatal(err)
			}
			if err := validate(t, name, b.Bytes()); err != nil {
				t.Errorf("not valid against junit-10.xsd: %v", err)
			}
		})
	}
	// The schema check can fail: a test case without its name does.
	if validate(t, "bad.xml", []byte(`<testsuites><testsuite name="x" tests="1" failures="0" errors="0"><testcase/></testsuite></testsuites>`)) == nil {
		t.Error("a test case without a name passes; the check proves nothing")
	}
}
