package report

import (
	"fmt"
	"strings"

	casebook "github.com/casebook-dev/casebook"
)

// writeSources says which evidence the run could read, and for which
// cases, so that a clean result says what it means: one line per source
// and outcome ("✗ logs  turned off (--logs=false) — K-003, O-002, …").
func writeSources(b *strings.Builder, p painter, d *casebook.Report) {
	if len(d.Sources) == 0 {
		return
	}
	type key struct {
		source    string
		available bool
		why       string
	}
	var order []key
	cases := map[key][]string{}
	for _, order0 := range []string{casebook.SourceObjects, casebook.SourceEvents, casebook.SourceLogs, casebook.SourceMetrics, casebook.SourcePrometheus} {
		for _, cs := range d.Sources {
			for _, s := range cs.Sources {
				if s.Source != order0 {
					continue
				}
				k := key{s.Source, s.Available, s.Why}
				if cases[k] == nil {
					order = append(order, k)
				}
				cases[k] = append(cases[k], cs.CaseID)
			}
		}
	}
	fmt.Fprintf(b, "%s\n", p.paint(ansiBold, "Evidence read:"))
	for _, k := range order {
		mark := p.paint(ansiGreen, "✓")
		if !k.available {
			mark = p.paint(ansiYellow, "✗")
		}
		ids := cases[k]
		who := strings.Join(ids, ", ")
		if len(ids) == len(d.Sources) && len(ids) > 1 {
			who = fmt.Sprintf("all %d cases", len(ids))
		}
		fmt.Fprintf(b, "  %s %-10s %s — %s\n", mark, k.source, k.why, who)
	}
	b.WriteString("\n")
}
