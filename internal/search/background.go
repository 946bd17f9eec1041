package search

import (
	_ "embed"
	"math"
	"strconv"
	"strings"
)

// backgroundData holds how many files of general software text each common
// term appears in; see background_test.go for how it is made.
//
//go:embed background.txt
var backgroundData string

// background says how generic a term is outside the casebook. The library
// is only a few dozen documents, so its own statistics cannot tell a word
// every error message uses ("failed", "module", "main") from one that
// names a fault ("flannel", "preopen"); a large body of general software
// text can.
type background struct {
	files float64
	df    map[string]float64
}

func parseBackground(data string) *background {
	bg := &background{df: map[string]float64{}}
	for _, ln := range strings.Split(data, "\n") {
		f := strings.Fields(ln)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		if f[0] == "#files" {
			bg.files = n
			continue
		}
		bg.df[f[0]] = n
	}
	return bg
}

// Generic terms weigh between minSpecificity and 1: a term in more than a
// third of the background's files (idf below specificLow) hardly counts, a
// term in fewer than one in 150 (idf above specificHigh) counts in full.
const (
	specificLow    = 1.0
	specificHigh   = 5.0
	minSpecificity = 0.1
)

// specificity returns the weight, from minSpecificity to 1, of a term by
// how rare it is in general software text.
func (bg *background) specificity(term string) float64 {
	if a, b, ok := strings.Cut(term, " "); ok {
		// A pair is as specific as its words together.
		return math.Sqrt(bg.specificity(a) * bg.specificity(b))
	}
	df, ok := bg.df[term]
	if !ok || bg.files == 0 {
		return 1
	}
	idf := math.Log(bg.files / df)
	return min(1, max(minSpecificity, (idf-specificLow)/(specificHigh-specificLow)))
}
