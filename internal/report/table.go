// Package report renders casebook's results for people and for tools:
// aligned terminal tables that respect the width of Chinese text, and JSON,
// YAML and Markdown encodings.
package report

import (
	"io"
	"strings"

	"github.com/mattn/go-runewidth"
)

// Table writes rows as aligned columns. Widths are display widths, so
// columns line up with Chinese (double-width) text too.
type Table struct {
	Header []string
	Rows   [][]string
	// Style, when set, decorates a cell after it is padded (row 0 is the
	// header), so escape codes do not upset the alignment.
	Style func(row, col int, padded string) string
}

// AddRow appends a row.
func (t *Table) AddRow(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write renders the table to w; columns are separated by two spaces and the
// last column is not padded.
func (t *Table) Write(w io.Writer) error {
	widths := make([]int, len(t.Header))
	all := append([][]string{t.Header}, t.Rows...)
	for _, r := range all {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(c))
		}
	}
	var b strings.Builder
	for ri, r := range all {
		if len(r) == 0 {
			continue
		}
		for i, c := range r {
			last := i == len(r)-1
			if !last {
				c = runewidth.FillRight(c, widths[i])
			}
			if t.Style != nil {
				c = t.Style(ri, i, c)
			}
			b.WriteString(c)
			if last {
				break
			}
			b.WriteString("  ")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
