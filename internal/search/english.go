package search

import (
	"math"
	"strings"
)

// englishIndex is a field-weighted BM25 index over the English a case
// holds: its English title and summary, its signals, and the commands,
// resource kinds, field names, sample output and English words of its
// body. Real reports are mostly English, while the case's prose is
// Chinese; in the index of the whole case (see Matcher.index) the English
// words are a small part of a large bag and count little, here they are
// all there is.
type englishIndex struct {
	post map[string][]posting // term → the cases that use it, with its BM25 weight
	// idf is each term's inverse document frequency over the cases.
	idf map[string]float64
}

// Field weights of the English parts of a case: what a case says about
// itself in English counts most, then the verbatim errors, then the body.
const (
	enTitleWeight   = 3.0
	enSummaryWeight = 2.0
	enSignalWeight  = 2.0
	enCodeWeight    = 1.0
	enProseWeight   = 0.5
	// BM25's saturation and length normalisation.
	bm25K1 = 1.2
	bm25B  = 0.75
)

// newEnglishIndex indexes the cases' English terms, weighed by field.
func newEnglishIndex(bags []map[string]float64) englishIndex {
	ix := englishIndex{post: map[string][]posting{}, idf: map[string]float64{}}
	if len(bags) == 0 {
		return ix
	}
	lens := make([]float64, len(bags))
	total := 0.0
	df := map[string]int{}
	for i, bag := range bags {
		for t, v := range bag {
			lens[i] += v
			df[t]++
		}
		total += lens[i]
	}
	avg := total / float64(len(bags))
	n := float64(len(bags))
	for t, d := range df {
		ix.idf[t] = math.Log(1 + (n-float64(d)+0.5)/(float64(d)+0.5))
	}
	for i, bag := range bags {
		norm := bm25K1 * (1 - bm25B + bm25B*lens[i]/avg)
		for t, tf := range bag {
			ix.post[t] = append(ix.post[t], posting{c: i, score: ix.idf[t] * tf * (bm25K1 + 1) / (tf + norm)})
		}
	}
	return ix
}

// score adds to scores each case's BM25 score for the input's terms, each
// weighted by how specific it is outside the casebook, and returns the
// most any case could score: the sum of those weights at full strength.
func (ix *englishIndex) score(keys []string, bg *background, scores []float64) float64 {
	most := 0.0
	for _, t := range keys {
		ps := ix.post[t]
		if len(ps) == 0 {
			continue
		}
		spec := bg.specificity(t)
		most += ix.idf[t] * (bm25K1 + 1) * spec
		for _, p := range ps {
			scores[p.c] += p.score * spec
		}
	}
	return most
}

// splitCode returns the code of a Markdown text (fenced blocks and inline
// code spans, each on a line of its own) and the rest of it.
func splitCode(md string) (code, prose string) {
	var c, p strings.Builder
	inFence := false
	for ln := range strings.Lines(md) {
		if strings.HasPrefix(strings.TrimSpace(ln), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			c.WriteString(ln)
			continue
		}
		parts := strings.Split(ln, "`")
		for k, part := range parts {
			// Odd parts are inside a code span, unless the span is unclosed.
			if k%2 == 1 && k < len(parts)-1 {
				c.WriteString(part + "\n")
			} else {
				p.WriteString(part)
				if k < len(parts)-1 {
					// Keep the words either side of a span apart.
					p.WriteByte(' ')
				}
			}
		}
	}
	return c.String(), p.String()
}
