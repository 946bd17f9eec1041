package report

import (
	"fmt"
	"io"
	"testing"

	casebook "github.com/casebook-dev/casebook"
)

// bigReport is linkedReport's four findings repeated over n namespaces:
// 4n findings, half of them consequences.
func bigReport(n int) *casebook.Report {
	base := linkedReport()
	d := casebook.NewReport(base.Source)
	d.Time, d.Cases, d.Detectors, d.Warnings = base.Time, base.Cases, base.Detectors, base.Warnings
	for i := range n {
		suffix := fmt.Sprintf("-%04d", i)
		for _, f := range linkedReport().Findings {
			f.ID += suffix
			for j := range f.CausedBy {
				f.CausedBy[j] += suffix
			}
			for j := range f.Causes {
				f.Causes[j] += suffix
			}
			for j := range f.Objects {
				f.Objects[j].Namespace += suffix
			}
			d.Findings = append(d.Findings, f)
		}
	}
	d.Summarize(0)
	return d
}

// BenchmarkCIReports renders a report of 4,000 findings in each format.
func BenchmarkCIReports(b *testing.B) {
	d := bigReport(1000)
	css := []byte(":root { --crit: #b42318; }\n")
	m := testMeta(ZH)
	for _, bc := range []struct {
		name   string
		render func(io.Writer) error
	}{
		{"sarif", func(w io.Writer) error { return SARIF(w, d, m) }},
		{"junit", func(w io.Writer) error { return JUnit(w, d, m) }},
		{"html", func(w io.Writer) error { return HTML(w, d, m, css) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.render(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
