package search

import (
	"html"
	"sort"
	"strings"
	"unicode/utf8"

	bsearch "github.com/blevesearch/bleve/v2/search"
)

// snippetBytes is about how much text a snippet shows around its matches.
const snippetBytes = 180

type span struct{ start, end int }

// snippets cuts up to n windows of text around the matched terms, densest
// first, as HTML: the text escaped and the matches in <mark>.
func snippets(text string, locs bsearch.TermLocationMap, n int) []string {
	var spans []span
	for _, ls := range locs {
		for _, l := range ls {
			if int(l.End) <= len(text) && l.Start < l.End {
				spans = append(spans, span{int(l.Start), int(l.End)})
			}
		}
	}
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	spans = mergeSpans(spans)

	var out []string
	used := make([]bool, len(spans))
	for len(out) < n {
		// The window starting at an unused span that covers the most spans.
		best, bestCount := -1, 0
		for i := range spans {
			if used[i] {
				continue
			}
			count := 0
			for j := i; j < len(spans) && spans[j].end <= spans[i].start+snippetBytes; j++ {
				if !used[j] {
					count++
				}
			}
			if count > bestCount {
				best, bestCount = i, count
			}
		}
		if best < 0 {
			break
		}
		from := runeStart(text, max(0, spans[best].start-snippetBytes/4))
		to := runeStart(text, min(len(text), spans[best].start+snippetBytes))
		var b strings.Builder
		if from > 0 {
			b.WriteString("…")
		}
		pos := from
		for j := best; j < len(spans) && spans[j].end <= to; j++ {
			used[j] = true
			b.WriteString(html.EscapeString(text[pos:spans[j].start]))
			b.WriteString("<mark>" + html.EscapeString(text[spans[j].start:spans[j].end]) + "</mark>")
			pos = spans[j].end
		}
		b.WriteString(html.EscapeString(text[pos:to]))
		if to < len(text) {
			b.WriteString("…")
		}
		out = append(out, strings.Join(strings.Fields(b.String()), " "))
	}
	return out
}

// mergeSpans joins overlapping spans (the bigrams of a Chinese word).
func mergeSpans(spans []span) []span {
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.start <= last.end {
			last.end = max(last.end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}
