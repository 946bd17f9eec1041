package search_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/casebook-dev/casebook/internal/search"
)

var trainReranker = flag.Bool("train-reranker", false, "fit the matcher's reranker on the tuning part of the real reports and the dev set, and rewrite rerank.json")

// trainingSample is a text with the library cases it belongs to (none for a
// text no case covers).
type trainingSample struct {
	text string
	want []string
	real bool // a real report, not a dev set text
}

// trainingSamples are the tuning part of the real reports and the dev set:
// never the test part.
func trainingSamples(t *testing.T) []trainingSample {
	var out []trainingSample
	for _, r := range loadReports(t) {
		if r.Split != "tune" {
			continue
		}
		var want []string
		for _, id := range r.Cases {
			if slices.Contains(libIDs, id) {
				want = append(want, id)
			}
		}
		if len(r.Cases) > 0 && len(want) == 0 {
			continue
		}
		out = append(out, trainingSample{r.Text, want, true})
	}
	for _, it := range loadDevSet(t) {
		out = append(out, trainingSample{it.Text, it.Cases, false})
	}
	return out
}

// TestTrainReranker fits the reranker and rewrites rerank.json: a logistic
// regression over (text, case) pairs, fitted by Newton's method with a
// small ridge penalty, then the threshold that best trades, on the real reports, the
// share answered with their case first against the share of those about no
// case answered with none. Deterministic: the same data gives the same file.
func TestTrainReranker(t *testing.T) {
	if !*trainReranker {
		t.Skip("run with -train-reranker to refit rerank.json")
	}
	m := matcher(t)
	samples := trainingSamples(t)
	var xs [][]float64
	var ys, ws []float64
	for _, s := range samples {
		f := m.Features(s.text)
		ids := make([]string, 0, len(f))
		for id := range f {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		// Only the cases with some evidence are fitted: the rest are easy
		// and would swamp the few pairs where the choice is hard.
		for _, id := range ids {
			if x := f[id]; x[1]+x[2] == 0 && x[4] < 0.05 && x[7] < 0.1 {
				continue
			}
			xs = append(xs, f[id])
			y := 0.0
			if slices.Contains(s.want, id) {
				y = 1
			}
			ys = append(ys, y)
			// Real reports are what the matcher meets; the dev set, written
			// by the team, keeps it honest on error lines.
			ws = append(ws, map[bool]float64{true: realWeight, false: 1}[s.real])
		}
	}
	w := fitLogistic(xs, ys, ws, 0.5)

	type model struct {
		Features  []string  `json:"features"`
		Weights   []float64 `json:"weights"`
		Threshold float64   `json:"threshold"`
		Trained   string    `json:"trained"`
	}
	mod := model{Features: search.FeatureNames(), Weights: w, Threshold: 0.35,
		Trained: fmt.Sprintf("%d texts (tuning part of %s and the dev set), %d pairs", len(samples), reportsFile, len(xs))}
	for i := range mod.Weights {
		mod.Weights[i] = math.Round(mod.Weights[i]*1e4) / 1e4
	}
	data, _ := json.Marshal(mod)
	trained, ok := search.NewMatcherWithModel(libCases(t), data)
	if !ok {
		t.Fatal("the fitted model does not load")
	}
	bestScore := -1.0
	for tau := 0.10; tau <= 0.70001; tau += 0.01 {
		pos, hit, neg, rej := 0, 0, 0, 0
		for _, s := range samples {
			if !s.real {
				continue
			}
			res := trained.Match(s.text, search.MatchOptions{Limit: 3, MinConfidence: tau})
			if len(s.want) == 0 {
				neg++
				if len(res) == 0 {
					rej++
				}
				continue
			}
			pos++
			if len(res) > 0 && slices.Contains(s.want, res[0].Case.ID) {
				hit++
			}
		}
		score := float64(hit)/float64(pos) + float64(rej)/float64(neg)
		if score > bestScore+1e-9 {
			bestScore, mod.Threshold = score, math.Round(tau*100)/100
		}
	}
	out, err := json.MarshalIndent(mod, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("rerank.json", append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("weights %v threshold %.2f (hit@1 + rejected = %.3f on the training texts)", mod.Weights, mod.Threshold, bestScore)
}

// realWeight is how much more a real report counts than a dev set text.
const realWeight = 3

// fitLogistic fits logistic regression weights by Newton's method with an
// L2 penalty of lambda on every weight but the first (the bias).
func fitLogistic(xs [][]float64, ys, ws []float64, lambda float64) []float64 {
	d := len(xs[0])
	w := make([]float64, d)
	for iter := 0; iter < 50; iter++ {
		grad := make([]float64, d)
		hess := make([][]float64, d)
		for i := range hess {
			hess[i] = make([]float64, d)
		}
		for k, x := range xs {
			z := 0.0
			for i := range x {
				z += w[i] * x[i]
			}
			p := 1 / (1 + math.Exp(-z))
			for i := range x {
				grad[i] += ws[k] * (p - ys[k]) * x[i]
				for j := range x {
					hess[i][j] += ws[k] * p * (1 - p) * x[i] * x[j]
				}
			}
		}
		for i := 1; i < d; i++ {
			grad[i] += lambda * w[i]
			hess[i][i] += lambda
		}
		hess[0][0] += 1e-9
		step := solve(hess, grad)
		change := 0.0
		for i := range w {
			w[i] -= step[i]
			change = max(change, math.Abs(step[i]))
		}
		if change < 1e-8 {
			break
		}
	}
	return w
}

// solve solves a·x = b by Gaussian elimination with partial pivoting.
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	m := make([][]float64, n)
	for i := range a {
		m[i] = append(append([]float64(nil), a[i]...), b[i])
	}
	for col := 0; col < n; col++ {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		m[col], m[p] = m[p], m[col]
		if m[col][col] == 0 {
			continue
		}
		for r := col + 1; r < n; r++ {
			f := m[r][col] / m[col][col]
			for c := col; c <= n; c++ {
				m[r][c] -= f * m[col][c]
			}
		}
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		if m[i][i] == 0 {
			continue
		}
		s := m[i][n]
		for j := i + 1; j < n; j++ {
			s -= m[i][j] * x[j]
		}
		x[i] = s / m[i][i]
	}
	return x
}
