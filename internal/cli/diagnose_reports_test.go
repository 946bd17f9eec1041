package cli

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/casebook-dev/casebook/internal/report/reporttest"
)

// TestDiagnoseCIReports runs the root-cause scenario through
// -o sarif, junit and html: each parses, names the cluster's real objects,
// keeps the exit code, and the HTML leads with the storage fault.
func TestDiagnoseCIReports(t *testing.T) {
	for _, tc := range []struct {
		output string
		check  func(t *testing.T, out string)
	}{
		{"sarif", func(t *testing.T, out string) {
			var log struct {
				Version string `json:"version"`
				Runs    []struct {
					Results []struct {
						RuleID    string `json:"ruleId"`
						Locations []struct {
							LogicalLocations []struct {
								FullyQualifiedName string `json:"fullyQualifiedName"`
							} `json:"logicalLocations"`
						} `json:"locations"`
					} `json:"results"`
				} `json:"runs"`
			}
			if err := json.Unmarshal([]byte(out), &log); err != nil {
				t.Fatal(err)
			}
			if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
				t.Fatalf("sarif: %s", out)
			}
			if !strings.Contains(out, `"fullyQualifiedName": "`) {
				t.Error("no logical location")
			}
		}},
		{"junit", func(t *testing.T, out string) {
			var doc struct {
				Failures int `xml:"failures,attr"`
				Suites   []struct {
					Cases []struct {
						Name string `xml:"name,attr"`
					} `xml:"testcase"`
				} `xml:"testsuite"`
			}
			if err := xml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Failures == 0 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) == 0 {
				t.Errorf("junit: %s", out)
			}
		}},
		{"html", func(t *testing.T, out string) {
			if strings.Contains(strings.ToLower(out), "<script") || strings.Contains(out, "<link") {
				t.Error("the html report loads or runs something")
			}
			s := strings.Index(out, `data-case="S-`)
			n := strings.Index(out, `data-finding="N-002/`)
			if s < 0 || n < s {
				t.Errorf("the storage fault (%d) does not lead the Service finding (%d)", s, n)
			}
			if !strings.Contains(out, ".finding-group") {
				t.Error("the web UI's stylesheet is not inlined")
			}
		}},
	} {
		t.Run(tc.output, func(t *testing.T) {
			code, out, errOut := runDiagnoseCLI(t, "diagnose", "--snapshot", rootCauseFixture, "-o", tc.output, "--lang", "en")
			if code != ExitFindings {
				t.Fatalf("exit %d, want %d\n%s", code, ExitFindings, errOut)
			}
			tc.check(t, out)
		})
	}
}

// TestDiagnoseCIReportsValid checks what the engine really produces on the
// example cluster (every detected case, links, warnings-free) against the
// schemas: SARIF 2.1.0 (OASIS) and, with xmllint, Jenkins xUnit's JUnit XSD.
func TestDiagnoseCIReportsValid(t *testing.T) {
	schema := reporttest.SARIFSchema(t)
	for _, snap := range []string{exampleCluster, rootCauseFixture} {
		for _, lang := range []string{"zh", "en"} {
			code, out, errOut := runDiagnoseCLI(t, "diagnose", "--snapshot", snap, "-o", "sarif", "--lang", lang)
			if code != ExitFindings {
				t.Fatalf("%s: exit %d\n%s", snap, code, errOut)
			}
			if err := reporttest.ValidateSARIF(t, schema, []byte(out)); err != nil {
				t.Errorf("%s --lang %s: not valid SARIF 2.1.0: %v", snap, lang, err)
			}
		}
	}
	validate := reporttest.JUnitValidator(t)
	_, out, _ := runDiagnoseCLI(t, "diagnose", "--snapshot", exampleCluster, "-o", "junit")
	if err := validate([]byte(out)); err != nil {
		t.Errorf("junit of the example cluster is not valid against junit-10.xsd: %v", err)
	}
}
