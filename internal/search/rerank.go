package search

import (
	_ "embed"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strings"

	casebook "github.com/casebook-dev/casebook"
)

// The matcher's raw evidence (signal hits, the lift of the input's terms
// for each case, how much of the input a case explains, whether the input
// names the case's subject) is turned into the probability that a case is
// the right answer by a small model of boosted trees. Its weights are fitted on the
// tuning part of the real-report corpus and on the dev set, and shipped as
// data: see rerank_train_test.go, which rewrites rerank.json with
//
//	go test ./internal/search -run TestTrainReranker -train-reranker
//
//go:generate go test . -run TestTrainReranker -train-reranker
//go:embed rerank.json
var rerankData []byte

// Features of one (input, case) pair, in the order of rerankModel.Weights.
const (
	fBias = iota
	fSigFull
	fSigPartial
	fLift
	fShare
	fMargin
	fTopLift
	fHeadShare
	fHeadHits
	fHeadMargin
	fAnchor
	fAnchoredSignal
	fAnchoredShare
	fAnchoredHead
	fOtherAnchor
	fInputSize
	fCoverage
	fUnknown
	// fEnglish, fEnglishShare and fEnglishMargin are the case's BM25 score
	// over its English parts (see english.go), that score as a share of the
	// most the input's words could score, and its lead over the best other
	// case.
	fEnglish
	fEnglishShare
	fEnglishMargin
	// fUnanchored is the first of one feature per component (in the order of
	// casebook.Components): 1 when the case is of that component and the
	// input does not name it. How much naming matters differs by
	// component: nearly every Wasm report says "wasm", many K3s reports do
	// not say "k3s".
	fUnanchored
	numFeatures = fUnanchored + 5
)

// featureNames name the features in rerank.json, so a model trained for
// another feature set is refused rather than misread.
var featureNames = [numFeatures]string{
	"bias", "signal", "signal_partial", "lift", "share", "margin", "top_lift",
	"head_share", "head_hits", "head_margin", "anchor", "anchored_signal", "anchored_share", "anchored_head", "other_anchor", "input_size", "coverage", "unknown",
	"english", "english_share", "english_margin",
	"unanchored_wasmedge", "unanchored_k3s", "unanchored_opa-gatekeeper", "unanchored_network", "unanchored_storage",
}

// rerankModel is the fitted model: gradient-boosted regression trees over
// the features, read as the log-odds that the case is the right answer.
// Shallow trees let the model learn what a linear one cannot: that the same
// share of the input means less when the input does not name the case's
// component, and that this matters for some components more than others.
type rerankModel struct {
	Features []string `json:"features"`
	// Base is the log-odds before any tree; Weights, when present, add a
	// linear term over the features.
	Base    float64      `json:"base"`
	Weights []float64    `json:"weights,omitempty"`
	Trees   [][]treeNode `json:"trees"`
	// Threshold is the probability below which no case is reported; it is
	// the matcher's default minimum confidence.
	Threshold float64 `json:"threshold"`
	// Trained says what the model was fitted on, for the record.
	Trained string `json:"trained"`
}

// treeNode is a node of a regression tree: a split on feature F at T (left
// when below), or a leaf of value V when L is negative.
type treeNode struct {
	F int     `json:"f,omitempty"`
	T float64 `json:"t,omitempty"`
	L int     `json:"l"`
	R int     `json:"r,omitempty"`
	V float64 `json:"v,omitempty"`
}

func parseRerank(data []byte) (rerankModel, bool) {
	var m rerankModel
	if err := json.Unmarshal(data, &m); err != nil || len(m.Features) != numFeatures ||
		(len(m.Weights) != 0 && len(m.Weights) != numFeatures) || (len(m.Trees) == 0 && len(m.Weights) == 0) {
		return rerankModel{}, false
	}
	for i, n := range m.Features {
		if n != featureNames[i] {
			return rerankModel{}, false
		}
	}
	for _, tree := range m.Trees {
		for _, nd := range tree {
			if nd.L >= 0 && (nd.F < 0 || nd.F >= numFeatures || nd.L >= len(tree) || nd.R < 0 || nd.R >= len(tree)) {
				return rerankModel{}, false
			}
		}
	}
	return m, true
}

// prob is the model's probability for a feature vector.
func (r *rerankModel) prob(x *[numFeatures]float64) float64 {
	z := r.Base
	for i, w := range r.Weights {
		z += w * x[i]
	}
	for _, tree := range r.Trees {
		i := 0
		// A tree's children come after it, so the walk ends.
		for steps := 0; tree[i].L >= 0 && steps < len(tree); steps++ {
			if x[tree[i].F] < tree[i].T {
				i = tree[i].L
			} else {
				i = tree[i].R
			}
		}
		z += tree[i].V
	}
	return 1 / (1 + math.Exp(-z))
}

// headIndex holds what each case says about itself in a sentence: its
// titles and English summary. A description that names a case's subject
// ("wasm cold start slow") shares words with its head even when the case's
// body, in Chinese and full of commands, outweighs them.
type headIndex struct {
	cases []map[string]bool // terms of each case's head
	idf   map[string]float64
	// words are the words each case uses anywhere.
	words []map[string]bool
	// anchors are, for each case, the head terms its component's cases
	// share and few other cases use ("wasm" for the WasmEdge cases,
	// "gatekeeper" for the OPA ones); none when the component has none.
	anchors [][]string
	// en indexes the English parts of each case.
	en englishIndex
}

func buildHeadIndex(cases []*casebook.Case, st stemmer, bg *background, words []map[string]bool) headIndex {
	h := headIndex{words: words, cases: make([]map[string]bool, len(cases)), idf: map[string]float64{}, anchors: make([][]string, len(cases))}
	df := map[string]int{}
	for i, c := range cases {
		set := map[string]bool{}
		// With the pairs of adjacent words: "cold start" names a subject
		// better than "cold" and "start" apart.
		for _, text := range []string{c.Title, c.TitleEN, c.SummaryEN} {
			terms(text, st, func(t token) { set[t.term] = true })
		}
		h.cases[i] = set
		for t := range set {
			df[t]++
		}
	}
	n := float64(len(cases))
	for t, d := range df {
		h.idf[t] = math.Log((n + 1) / (float64(d) + 0.5))
	}
	// A component's anchors: the words of its name; the title words half of
	// its cases use and at most a tenth of the others ("wasm", "k3s"); and
	// the words of their text two thirds of them use and at most a tenth of
	// the others, when they are specific outside the casebook too ("wasi",
	// "rego", "gatekeeper").
	titles := make([]map[string]bool, len(cases))
	titleDF, textDF := map[string]int{}, map[string]int{}
	for i, c := range cases {
		titles[i] = map[string]bool{}
		tokenize(c.Title+"\n"+c.TitleEN, st, func(t token) {
			if t.word {
				titles[i][t.term] = true
			}
		})
		for t := range titles[i] {
			titleDF[t]++
		}
		for t := range words[i] {
			textDF[t]++
		}
	}
	members := map[casebook.Component][]int{}
	for i, c := range cases {
		members[c.Component] = append(members[c.Component], i)
	}
	for comp, idx := range members {
		set := map[string]bool{}
		tokenize(string(comp), st, func(t token) { set[t.term] = true })
		others := len(cases) - len(idx)
		count := func(sets []map[string]bool, t string) int {
			in := 0
			for _, i := range idx {
				if sets[i][t] {
					in++
				}
			}
			return in
		}
		for t, d := range titleDF {
			in := count(titles, t)
			if len(idx) >= 2 && 2*in >= len(idx) && float64(d-in) <= 0.1*float64(others) {
				set[t] = true
			}
		}
		for t, d := range textDF {
			in := count(words, t)
			if len(idx) >= 2 && 3*in >= 2*len(idx) && float64(d-in) <= 0.1*float64(others) && bg.specificity(t) >= anchorSpecificity {
				set[t] = true
			}
		}
		anchors := make([]string, 0, len(set))
		for t := range set {
			anchors = append(anchors, t)
		}
		sort.Strings(anchors)
		for _, i := range idx {
			h.anchors[i] = anchors
		}
	}
	return h
}

// anchorSpecificity is how specific outside the casebook a word must be to
// anchor a component: "linux" and "main" are in every kind of text.
const anchorSpecificity = 0.6

// features computes the feature vectors of every case for one input.
func (m *Matcher) features(hits [][]signalHit, liftSum []float64, info float64, input map[string]bool) [][numFeatures]float64 {
	n := len(m.cases)
	out := make([][numFeatures]float64, n)
	liftRival := rivals(liftSum)
	// The input's terms in order: sums over them must not depend on the
	// order of a map, or the same text would score differently run to run.
	keys := make([]string, 0, len(input))
	for t := range input {
		keys = append(keys, t)
	}
	sort.Strings(keys)
	// What of the input a head could name: the idf of its terms that any
	// head holds.
	headTotal := 0.0
	for _, t := range keys {
		headTotal += m.head.idf[t]
	}
	heads := make([]float64, n)
	for c := range m.cases {
		for _, t := range keys {
			if m.head.cases[c][t] {
				heads[c] += m.head.idf[t]
			}
		}
	}
	headRival := rivals(heads)
	// Coverage: how much of the input's words, weighted by how specific
	// they are outside the casebook, a case uses at all.
	// Unknown: the share of those words no case uses at all, the mark of
	// a report about something else (another product, another error).
	wordTotal, unknown := 0.0, 0.0
	for _, t := range keys {
		if !strings.Contains(t, " ") {
			spec := m.bg.specificity(t)
			wordTotal += spec
			if ts := m.terms[t]; ts == nil || ts.df == 0 {
				unknown += spec
			}
		}
	}
	en := make([]float64, n)
	enMost := m.head.en.score(keys, m.bg, en)
	enRival := rivals(en)
	anchored := make([]bool, n)
	anyAnchor := false
	for c := range m.cases {
		for _, a := range m.head.anchors[c] {
			if input[a] {
				anchored[c], anyAnchor = true, true
				break
			}
		}
	}
	for c := range m.cases {
		x := &out[c]
		x[fBias] = 1
		for _, h := range dedupeHits(hits[c]) {
			ev := -math.Log(1 - h.strength)
			if h.Partial {
				x[fSigPartial] += ev
			} else {
				x[fSigFull] += ev
			}
		}
		x[fSigFull] = min(x[fSigFull], 5)
		x[fSigPartial] = min(x[fSigPartial], 5)
		lift := max(liftSum[c], 0)
		x[fLift] = lift / 5
		if info > 0 {
			x[fShare] = min(1, lift/info)
		}
		x[fMargin] = max(-1, min(1, (lift-liftRival[c])/5))
		if lift > 0 && liftSum[c] >= liftRival[c] {
			x[fTopLift] = 1
		}
		hs := heads[c]
		x[fHeadMargin] = max(-1, min(1, (hs-headRival[c])/5))
		if headTotal > 0 {
			x[fHeadShare] = hs / headTotal
		}
		x[fHeadHits] = min(hs/5, 2)
		switch {
		case len(m.head.anchors[c]) == 0:
			x[fAnchor] = 0.5
		case anchored[c]:
			x[fAnchor] = 1
		}
		// The same evidence means more from an input that names the case's
		// component: a webhook timeout of some other product is not a
		// Gatekeeper case, nor a rate-limited pull of an ordinary image a
		// Wasm one.
		x[fAnchoredSignal] = x[fSigFull] * x[fAnchor]
		x[fAnchoredShare] = x[fShare] * x[fAnchor]
		x[fAnchoredHead] = x[fHeadShare] * x[fAnchor]
		if anyAnchor && !anchored[c] {
			x[fOtherAnchor] = 1
		}
		x[fInputSize] = math.Log1p(info) / 4
		if wordTotal > 0 {
			cov := 0.0
			for _, t := range keys {
				if m.head.words[c][t] {
					cov += m.bg.specificity(t)
				}
			}
			x[fCoverage] = cov / wordTotal
			x[fUnknown] = unknown / wordTotal
		}
		x[fEnglish] = min(en[c]/10, 2)
		if enMost > 0 {
			x[fEnglishShare] = en[c] / enMost
		}
		x[fEnglishMargin] = max(-1, min(1, (en[c]-enRival[c])/5))
		if k := slices.Index(casebook.Components, m.cases[c].Component); k >= 0 && !anchored[c] {
			x[fUnanchored+k] = 1
		}
	}
	return out
}

// rivals returns, for each value, the best of the others (and at least 0):
// what a case's score must beat to lead.
func rivals(vals []float64) []float64 {
	best, second := 0.0, 0.0
	for _, v := range vals {
		switch {
		case v > best:
			best, second = v, best
		case v > second:
			second = v
		}
	}
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = best
		if v >= best {
			out[i] = second
		}
	}
	return out
}
