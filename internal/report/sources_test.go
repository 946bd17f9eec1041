package report

import (
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
)

// TestTableSaysWhichEvidenceWasRead: a clean result lists, per source and
// outcome, the cases it covers, and why a source was not read.
func TestTableSaysWhichEvidenceWasRead(t *testing.T) {
	d := casebook.NewReport("snapshot x")
	objects := casebook.EvidenceSource{Source: casebook.SourceObjects, Available: true, Why: "read"}
	d.Sources = []casebook.CaseSources{
		{CaseID: "K-005", Sources: []casebook.EvidenceSource{objects, {Source: casebook.SourceMetrics, Why: "GET /metrics: forbidden"}}},
		{CaseID: "W-004", Sources: []casebook.EvidenceSource{objects, {Source: casebook.SourceLogs, Why: "turned off (--logs=false)"}}},
	}
	var b strings.Builder
	if err := DiagnoseTable(&b, d, false, EN); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"✓ No known case found",
		"Evidence read:",
		"✓ objects    read — all 2 cases",
		"✗ logs       turned off (--logs=false) — W-004",
		"✗ metrics    GET /metrics: forbidden — K-005",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
