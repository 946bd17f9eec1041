package search

import (
	"math"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	casebook "github.com/casebook-dev/casebook"
)

// Matcher recognises cases in pasted text: an event message, a log
// excerpt, `kubectl describe` output or a description in Chinese or
// English. It weighs two kinds of evidence: the cases' signals (verbatim
// error text; a hit is strong evidence) and the relevance of the input's
// terms to each case's content (title, summary, signals and body), where
// a term counts by how much it tells one case from the others.
//
// A Matcher is built once from a library and is safe for concurrent use.
type Matcher struct {
	cases   []*casebook.Case
	bg      *background
	terms   map[string]*termStats
	signals []compiledSignal
	tune    tuning
	// glossary pairs Chinese and English words for the same thing.
	glossary []glossaryEntry
	// multi finds every signal's needed literals and fragments in one pass.
	multi *multiMatcher
	// zhWords finds the glossary's Chinese words in a case.
	zhWords *multiMatcher
	// head indexes each case's titles and summary; model turns the
	// evidence into a probability (see rerank.go).
	head headIndex
	// enBags hold each case's English terms while the indexes are built.
	enBags  []map[string]float64
	model   rerankModel
	modelOK bool
}

// termStats is what the library says about one term.
type termStats struct {
	post []posting // the cases that hold the term
	mean float64   // mean score over all cases, those without it counting 0
	max  float64   // highest score in any case
	df   int       // how many cases use the term
}

type posting struct {
	c     int
	score float64
}

// lift is how much more the term speaks for the posting's case than for
// the average case.
func (t *termStats) lift(p posting) float64 { return p.score - t.mean }

// info is the most a term can tell one case from the others.
func (t *termStats) info() float64 { return t.max - t.mean }

// tuning holds the constants of the scoring model, set on the dev set
// (testdata/match/dev.jsonl).
type tuning struct {
	// mu is the Dirichlet prior of the language model of a case (see index):
	// how many library-average terms its own are smoothed with.
	mu float64
	// unknownInfo is what a word of the input that no case contains counts
	// against the share of the input a case explains.
	unknownInfo float64
	// unknownCJK scales unknownInfo for a Chinese bigram.
	unknownCJK float64
	// The relevance of a case becomes a confidence in two steps: its lift
	// beyond liftFloor, on the scale liftScale; then scaled down when the
	// case explains less than shareFull of the input's information.
	liftFloor, liftScale, shareFull float64
	// minConfidence is the default threshold below which no case matches;
	// the reranker's fitted threshold replaces it (see rerank.go).
	minConfidence float64
}

var defaultTuning = tuning{
	mu:          1000,
	unknownInfo: 1.0, unknownCJK: 0.3,
	liftFloor: 3, liftScale: 3, shareFull: 0.3,
	minConfidence: 0.35,
}

// field weights: where a term appears in a case says how much it means.
// Symptoms and signals are what users paste; the solution and verification
// hold the healthy output after the fix.
var (
	titleWeight   = 3.0
	summaryWeight = 2.0
	signalWeight  = 3.0
	sectionWeight = map[string]float64{
		"环境": 0.5, "故障描述": 1.5, "排查过程": 1.0, "根因分析": 1.0, "解决方案": 0.6,
		"验证结果": 0.4, "复现": 0.8, "预防措施": 0.4, "参考资料": 0.2,
	}
)

// NewMatcher builds a matcher over the cases. Signals whose pattern does
// not compile are left out; the library's linter reports them.
func NewMatcher(cases []*casebook.Case) *Matcher {
	return newMatcher(cases, defaultTuning)
}

func newMatcher(cases []*casebook.Case, tune tuning) *Matcher {
	m := &Matcher{cases: cases, terms: map[string]*termStats{}, tune: tune, bg: parseBackground(backgroundData),
		glossary: parseGlossary()}
	zh := make([]string, len(m.glossary))
	for i, e := range m.glossary {
		zh[i] = e.zh
	}
	m.zhWords = newMultiMatcher(zh)
	for i, c := range cases {
		for _, s := range c.Signals {
			if cs, ok := compileSignal(i, s); ok {
				m.signals = append(m.signals, cs)
			}
		}
	}
	// One stemmer for every index: stemming is the costly part of
	// tokenising, and the indexes read the same words.
	st := stemmer{}
	m.index(st)
	m.head = buildHeadIndex(cases, st, m.bg, m.head.words)
	m.head.en = newEnglishIndex(m.enBags)
	m.enBags = nil
	m.model, m.modelOK = parseRerank(rerankData)
	if m.modelOK {
		m.tune.minConfidence = m.model.Threshold
	}
	m.pickFragments()
	var patterns []string
	add := func(p string) int {
		patterns = append(patterns, p)
		return len(patterns) - 1
	}
	for i := range m.signals {
		s := &m.signals[i]
		for _, n := range s.need {
			s.needIDs = append(s.needIDs, add(n))
		}
		for _, f := range s.frags {
			s.fragIDs = append(s.fragIDs, add(f))
		}
	}
	m.multi = newMultiMatcher(patterns)
	return m
}

// pickFragments keeps the signal fragments that name one fault: those of
// three words or more, at least three of them content words, that hold at
// least half of the signal's mass (see mass) and that the text of at most
// two cases holds.
// "context deadline exceeded" is in many cases and says little alone;
// "failed to get default interface" is in one.
func (m *Matcher) pickFragments() {
	type cand struct {
		sig  *compiledSignal
		frag string
	}
	var cands []cand
	var patterns []string
	st := stemmer{}
	for i := range m.signals {
		s := &m.signals[i]
		for _, f := range fragments(*s) {
			words := 0
			tokenize(f, st, func(t token) {
				if t.word {
					words++
				}
			})
			if words < 3 || len(strings.Fields(f)) < 3 || m.mass(f, st) < 0.5*m.mass(s.text, st) {
				continue
			}
			cands = append(cands, cand{s, f})
			patterns = append(patterns, f)
		}
	}
	if len(cands) == 0 {
		return
	}
	mm := newMultiMatcher(patterns)
	in := make([]int, len(cands))
	for _, c := range m.cases {
		var b strings.Builder
		b.WriteString(strings.ToLower(c.Body))
		for _, s := range c.Signals {
			b.WriteString("\n" + strings.ToLower(s.String()))
		}
		for id, lines := range mm.lines(b.String()) {
			if len(lines) > 0 {
				in[id]++
			}
		}
	}
	for id, c := range cands {
		if in[id] <= 2 && !slices.Contains(c.sig.frags, c.frag) {
			c.sig.frags = append(c.sig.frags, c.frag)
		}
	}
}

// index computes every term's score in every case. A case is a weighted
// bag of terms (title, summary and signals weigh more than the body, and
// the symptoms more than the fix); a term scores by how much more likely
// the case is to use it than the library as a whole, a Dirichlet-smoothed
// language model: log(P(term|case) / P(term|library)), kept when positive
// and scaled by the term's specificity outside the casebook. A term used
// everywhere but mostly in one case ("日志" in the logging case) still
// speaks for that case; one used evenly speaks for none.
func (m *Matcher) index(st stemmer) {
	n := len(m.cases)
	bags := make([]map[string]float64, n)
	df := map[string]int{}
	cjkCount := map[string]int{}
	libTF := map[string]float64{}
	docLen := make([]float64, n)
	var libLen float64
	// The English of each case, weighed by field for its own index (see
	// english.go), is gathered in the same pass.
	m.enBags = make([]map[string]float64, n)
	for i, c := range m.cases {
		bag, en := map[string]float64{}, map[string]float64{}
		add := func(text string, w, enW float64) {
			terms(text, st, func(t token) {
				bag[t.term] += w
				if !t.cjk {
					en[t.term] += enW
				}
			})
		}
		add(c.Title, titleWeight, enTitleWeight)
		add(c.TitleEN, titleWeight, enTitleWeight)
		add(c.SummaryEN, summaryWeight, enSummaryWeight)
		for _, s := range m.signals {
			if s.caseIdx == i {
				add(s.text, signalWeight, enSignalWeight)
			}
		}
		addBody := func(text string, w float64) {
			// Markdown syntax is punctuation, which tokenising skips. The
			// code (commands, output, field names) counts for more in the
			// English index than the English words of the prose.
			code, prose := splitCode(text)
			for _, part := range [2]struct {
				text string
				enW  float64
			}{{code, enCodeWeight}, {prose, enProseWeight}} {
				terms(part.text, st, func(t token) {
					bag[t.term] += w
					if t.cjk {
						cjkCount[t.term]++
					} else {
						en[t.term] += part.enW
					}
				})
			}
		}
		m.enBags[i] = en
		if len(c.Sections) == 0 {
			addBody(c.Body, 1)
		}
		for _, sec := range c.Sections {
			w, ok := sectionWeight[sec.Title]
			if !ok {
				w = 0.5
			}
			addBody(sec.Text, w)
		}
		m.expand(c, bag, st)
		bags[i] = bag
		words := map[string]bool{}
		for t := range bag {
			if !strings.ContainsAny(t, " 0123456789") && !isCJKTerm(t) {
				words[t] = true
			}
		}
		m.head.words = append(m.head.words, words)
		for t, v := range bag {
			df[t]++
			libTF[t] += v
			docLen[i] += v
		}
		libLen += docLen[i]
	}
	mu := m.tune.mu
	for i, bag := range bags {
		for t, v := range bag {
			pLib := libTF[t] / libLen
			pCase := (v + mu*pLib) / (docLen[i] + mu)
			score := math.Log(pCase/pLib) * m.bg.specificity(t)
			if c, ok := cjkCount[t]; ok {
				// A Chinese bigram the library holds once or twice is more
				// likely the seam between two words than a word.
				score *= min(1, float64(c)/cjkWordCount)
			}
			if score <= 0 {
				continue
			}
			ts := m.terms[t]
			if ts == nil {
				ts = &termStats{}
				m.terms[t] = ts
			}
			ts.post = append(ts.post, posting{c: i, score: score})
			ts.max = max(ts.max, score)
			ts.mean += score / float64(n)
		}
	}
	// Terms no case uses more than the library does are still known words.
	for t := range libTF {
		if m.terms[t] == nil {
			m.terms[t] = &termStats{}
		}
		m.terms[t].df = df[t]
	}
}

// isCJKTerm reports whether a term is a Chinese bigram (or a lone
// character) rather than a word. Words, without digits or pairs, are what
// anchors and coverage count (see rerank.go).
func isCJKTerm(t string) bool {
	r, _ := utf8.DecodeRuneInString(t)
	return isCJK(r)
}

// maxTextEvidence caps what text relevance alone adds up to: a confidence
// of 70%, "medium" at most; "high" takes a signal.
const maxTextEvidence = 1.2

// maxTextConfidence is the most the model's probability alone gives a case:
// "medium"; "high" takes a whole signal.
const maxTextConfidence = 0.70

// cjkWordCount is how often a Chinese bigram must occur in the library to
// count in full as a word.
const cjkWordCount = 4

// glossaryWeight is what one use of a glossary word in a case counts for
// its translation, which is a weaker witness than the word itself.
const glossaryWeight = 0.5

// expand indexes the case under the English words for the Chinese words it
// uses, and the other way round, so that a description in either language
// finds a case written in the other.
func (m *Matcher) expand(c *casebook.Case, bag map[string]float64, st stemmer) {
	text := c.Title + "\n" + c.TitleEN + "\n" + c.SummaryEN + "\n" + c.Body
	has := func(term string) bool { return bag[term] > 0 }
	add := map[string]float64{}
	counts := m.zhWords.lines(text)
	for k, e := range m.glossary {
		if n := len(counts[k]); n > 0 {
			w := glossaryWeight * float64(min(n, 3))
			for _, en := range e.en {
				terms(en, st, func(t token) { add[t.term] += w })
			}
		}
		found := 0
		for _, en := range e.en {
			all := true
			terms(en, st, func(t token) {
				if !has(t.term) {
					all = false
				}
			})
			if all {
				found++
			}
		}
		if found > 0 {
			tokenize(e.zh, st, func(t token) { add[t.term] += glossaryWeight * float64(min(found, 3)) })
		}
	}
	for t, w := range add {
		bag[t] += w
	}
}

// MatchOptions tune a match.
type MatchOptions struct {
	// Limit is the most results returned; 0 means 3.
	Limit int
	// MinConfidence is the confidence (0–1) the best case must reach for
	// any case to be reported; 0 means the matcher's default, fitted on the
	// real reports (see rerank.go). Once the best case clears it, the next
	// ones are reported down to AlsoShare of it: with an answer given, the
	// runners-up are worth a look at lower odds.
	MinConfidence float64
}

// AlsoShare is the share of the threshold the cases after the best one must
// reach to be reported.
const AlsoShare = 0.1

// DefaultMinConfidence is the threshold Match uses when MatchOptions has none.
func (m *Matcher) DefaultMinConfidence() float64 { return m.tune.minConfidence }

// Result is one case the input matches, with why.
type Result struct {
	Case *casebook.Case
	// Confidence is from 0 to 1; Level says the same in a word.
	Confidence float64
	Level      string
	// SignalScore and TextScore are the two kinds of evidence, each 0–1.
	SignalScore float64
	TextScore   float64
	// Signals are the case's signals found in the input, with the line
	// they were found on.
	Signals []SignalHit
	// Terms are the input's words and phrases that speak most for this
	// case, as written in the input.
	Terms []string
	// Lines are the input lines that speak most for this case.
	Lines []Line

	evidence float64 // what results are ranked by
	prob     float64 // the model's probability, which breaks ties
	x        [numFeatures]float64
}

// SignalHit is a signal found in the input.
type SignalHit struct {
	Signal casebook.Signal
	Line   Line
	// Match is the text the signal matched.
	Match string
	// Count is how many input lines the signal matched.
	Count int
	// Partial is true when only a specific part of the signal's text was
	// found (the message without the prefix the signal expects, say); it
	// counts for less than a whole match.
	Partial bool
}

// Line is a line of the input, quoted.
type Line struct {
	// Number is the line's number in the input, from 1.
	Number int
	// Text is the line, trimmed and shortened around what matched.
	Text string
}

// Confidence levels.
const (
	LevelHigh   = "high"
	LevelMedium = "medium"
	LevelLow    = "low"
)

// maxLineBytes splits longer lines (minified JSON, a binary blob) so that
// no single line costs more than its share.
const maxLineBytes = 4096

// maxQueryLines bounds the lines whose terms are scored together: a long
// log is reduced to its most relevant lines first.
const maxQueryLines = 80

// quoteRunes is the longest quote of an input line.
const quoteRunes = 160

// inputLine is a distinct line of the input.
type inputLine struct {
	text   string
	number int // first occurrence, from 1
	score  float64
	hit    bool // a signal matched it
}

// Match returns the cases the text matches, best first; none when the best
// does not clear the confidence threshold.
func (m *Matcher) Match(text string, opts MatchOptions) []Result {
	limit := opts.Limit
	if limit <= 0 {
		limit = 3
	}
	threshold := opts.MinConfidence
	if threshold <= 0 {
		threshold = m.tune.minConfidence
	}
	ev := m.evaluate(text)
	var out []Result
	for _, r := range ev.results {
		if r.Confidence < threshold || len(out) == limit {
			break
		}
		if len(out) == 0 {
			threshold *= AlsoShare
		}
		m.explain(&r, ev.lines, ev.sel, ev.st)
		out = append(out, r)
	}
	return out
}

// evaluation is every case scored against an input, best first, with what
// explaining a result needs.
type evaluation struct {
	results []Result
	lines   []inputLine
	sel     []int
	st      stemmer
}

// evaluate scores every case against the text.
func (m *Matcher) evaluate(text string) evaluation {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	lines := m.distinctLines(text)
	if len(lines) == 0 || len(m.cases) == 0 {
		return evaluation{}
	}
	hits := m.matchSignals(lines)
	st := stemmer{}
	m.scoreLines(lines, st)
	sel := selectLines(lines)

	n := len(m.cases)
	liftSum := make([]float64, n)
	var info float64
	seen := map[string]bool{}
	for _, li := range sel {
		terms(lines[li].text, st, func(t token) {
			if seen[t.term] {
				return
			}
			seen[t.term] = true
			ts := m.terms[t.term]
			if ts == nil {
				switch {
				case t.word:
					info += m.tune.unknownInfo * m.bg.specificity(t.term)
				case !t.pair && !t.cjk:
					// An identifier no case knows (e0529, build7).
					info += m.tune.unknownInfo * 0.3
				case t.cjk:
					// Most unknown bigrams straddle two words of a sentence.
					info += m.tune.unknownInfo * m.tune.unknownCJK
				}
				return
			}
			info += ts.info()
			for _, p := range ts.post {
				liftSum[p.c] += p.score
			}
			for c := range liftSum {
				liftSum[c] -= ts.mean
			}
		})
	}

	// The best of many lines scores well by chance: a long input's text
	// must say more before it counts.
	floor := m.tune.liftFloor
	if len(lines) > maxQueryLines {
		floor += math.Log(float64(len(lines)) / maxQueryLines)
	}
	feats := m.features(hits, liftSum, info, seen)
	results := make([]Result, n)
	for c := range results {
		r := &results[c]
		r.Case = m.cases[c]
		r.x = feats[c]
		// Evidence adds up on a log scale: a signal of strength 0.9 alone
		// makes a confidence of 0.9, two make 0.99, and text relevance adds
		// to them the same way.
		sigEv, full := 0.0, false
		for _, h := range dedupeHits(hits[c]) {
			sigEv -= math.Log(1 - h.strength)
			full = full || !h.Partial
			r.Signals = append(r.Signals, h.SignalHit)
		}
		lift := max(liftSum[c], 0)
		share := 0.0
		if info > 0 {
			share = lift / info
		}
		textEv := max(0, lift-floor) / m.tune.liftScale * math.Sqrt(min(1, share/m.tune.shareFull))
		// Words alone never make a case certain; that takes a signal.
		textEv = min(textEv, maxTextEvidence)
		r.SignalScore = 1 - math.Exp(-sigEv)
		r.TextScore = 1 - math.Exp(-textEv)
		sigConf := 1 - math.Exp(-(sigEv + textEv))
		if !m.modelOK {
			r.Confidence, r.prob = sigConf, sigConf
		} else {
			// The model weighs all the evidence; a whole signal found in the
			// input keeps its own confidence and is always reported, and
			// only a signal lifts a case above "medium".
			r.prob = m.model.prob(&r.x)
			r.Confidence = min(r.prob, maxTextConfidence)
			if full {
				r.Confidence = max(r.Confidence, sigConf, m.model.Threshold)
			}
		}
		r.evidence = r.Confidence
		r.Level = level(r.Confidence)
	}
	sort.SliceStable(results, func(i, j int) bool {
		if results[i].evidence != results[j].evidence {
			return results[i].evidence > results[j].evidence
		}
		return results[i].prob > results[j].prob
	})
	for i := range results {
		if results[i].Confidence <= 0 {
			results = results[:i]
			break
		}
	}
	return evaluation{results: results, lines: lines, sel: sel, st: st}
}

func level(conf float64) string {
	switch {
	case conf >= 0.75:
		return LevelHigh
	case conf >= 0.5:
		return LevelMedium
	}
	return LevelLow
}

// distinctLines splits the text into lines, splits overlong ones, and
// keeps each distinct line once, at its first occurrence.
func (m *Matcher) distinctLines(text string) []inputLine {
	var out []inputLine
	seen := map[string]bool{}
	number := 0
	for len(text) > 0 {
		var ln string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			ln, text = text[:i], text[i+1:]
		} else {
			ln, text = text, ""
		}
		number++
		for len(ln) > 0 {
			part := ln
			if len(part) > maxLineBytes {
				cut := maxLineBytes
				for cut > 0 && !utf8.RuneStart(part[cut]) {
					cut--
				}
				part = part[:cut]
			}
			ln = ln[len(part):]
			part = strings.TrimSpace(part)
			if part == "" || seen[part] {
				continue
			}
			seen[part] = true
			out = append(out, inputLine{text: part, number: number})
		}
	}
	return out
}

// signalHit is a SignalHit with its weight.
type signalHit struct {
	SignalHit
	strength float64
}

// matchSignals finds every signal in the lines, per case. One pass over
// the text finds the lines holding the literals each signal requires (and
// its fragments), so the regexps run only on those lines and a long log
// costs little more than reading it.
func (m *Matcher) matchSignals(lines []inputLine) [][]signalHit {
	hits := make([][]signalHit, len(m.cases))
	if len(m.signals) == 0 {
		return hits
	}
	var all strings.Builder
	for _, l := range lines {
		all.WriteString(l.text)
		all.WriteByte('\n')
	}
	lowerAll := strings.ToLower(all.String())
	found := m.multi.lines(lowerAll)
	everyLine := make([]int, len(lines))
	for i := range everyLine {
		everyLine[i] = i
	}
	for si := range m.signals {
		s := &m.signals[si]
		cand := everyLine
		if len(s.needIDs) > 0 {
			cand = nil
			for _, id := range s.needIDs {
				cand = append(cand, found[id]...)
			}
			slices.Sort(cand)
			cand = slices.Compact(cand)
		}
		var h *signalHit
		for _, i := range cand {
			loc := s.re.FindStringIndex(lines[i].text)
			if loc == nil {
				continue
			}
			lines[i].hit = true
			if h != nil {
				h.Count++
				continue
			}
			h = &signalHit{strength: s.strength, SignalHit: SignalHit{
				Signal: s.sig, Count: 1,
				Match: shorten(lines[i].text[loc[0]:loc[1]], 0, quoteRunes),
				Line:  Line{Number: lines[i].number, Text: quote(lines[i].text, loc[0])},
			}}
		}
		if h == nil && len(s.fragIDs) > 0 {
			h = m.matchFragments(s, lines, found)
		}
		if h != nil {
			hits[s.caseIdx] = append(hits[s.caseIdx], *h)
		}
	}
	return hits
}

// dedupeHits keeps one hit, the strongest, of the signals of a case that
// matched the same text: two patterns for one message count once.
func dedupeHits(hits []signalHit) []signalHit {
	var out []signalHit
	for _, h := range hits {
		dup := false
		for i := range out {
			o := &out[i]
			if o.Line.Number == h.Line.Number && (strings.Contains(o.Match, h.Match) || strings.Contains(h.Match, o.Match)) {
				if h.strength > o.strength {
					*o = h
				}
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, h)
		}
	}
	return out
}

// matchFragments returns a partial hit for the fragments of a signal
// that did not match whole, quoting the line that holds the longest.
func (m *Matcher) matchFragments(s *compiledSignal, lines []inputLine, found [][]int) *signalHit {
	total, best, bestLine := 0, "", -1
	for k, id := range s.fragIDs {
		if len(found[id]) == 0 {
			continue
		}
		f := s.frags[k]
		total += len(f)
		if len(f) > len(best) {
			best, bestLine = f, found[id][0]
		}
	}
	if bestLine < 0 {
		return nil
	}
	l := &lines[bestLine]
	l.hit = true
	match, start := l.text, 0
	if low := strings.ToLower(l.text); len(low) == len(l.text) {
		if j := strings.Index(low, best); j >= 0 {
			match, start = l.text[j:j+len(best)], j
		}
	}
	return &signalHit{strength: s.partialStrength(total), SignalHit: SignalHit{
		Signal: s.sig, Count: 1, Partial: true,
		Match: shorten(match, 0, quoteRunes),
		Line:  Line{Number: l.number, Text: quote(l.text, start)},
	}}
}

// scoreLines gives each line the most it speaks for any one case, to find
// the relevant lines of a long input.
func (m *Matcher) scoreLines(lines []inputLine, st stemmer) {
	if len(lines) <= maxQueryLines {
		return
	}
	sums := make([]float64, len(m.cases))
	seen := map[string]bool{}
	// Log lines repeat with other numbers; score each shape once.
	memo := map[string]float64{}
	var key []byte
	for i := range lines {
		key = maskDigits(key[:0], lines[i].text)
		if v, ok := memo[string(key)]; ok {
			lines[i].score = v
			continue
		}
		clear(sums)
		clear(seen)
		info := 0.0
		terms(lines[i].text, st, func(t token) {
			if seen[t.term] {
				return
			}
			seen[t.term] = true
			ts := m.terms[t.term]
			if ts == nil {
				switch {
				case t.word:
					info += m.tune.unknownInfo * m.bg.specificity(t.term)
				case !t.pair && !t.cjk:
					info += m.tune.unknownInfo * 0.3
				}
				return
			}
			info += ts.info()
			for _, p := range ts.post {
				if l := ts.lift(p); l > 0 {
					sums[p.c] += l
				}
			}
		})
		best := 0.0
		for _, s := range sums {
			best = max(best, s)
		}
		// A relevant line says something about one case and is mostly
		// about it; a line of noise matches a word here and there.
		if best < minLineLift || best < minLineShare*info {
			best = 0
		}
		lines[i].score = best
		if len(memo) < 1<<16 {
			memo[string(key)] = best
		}
	}
}

// A line of a long input is relevant when its terms lift one case by at
// least minLineLift and explain at least minLineShare of its information.
const (
	minLineLift  = 2.5
	minLineShare = 0.3
)

// maskDigits appends s to dst with every digit replaced by '0'.
func maskDigits(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			c = '0'
		}
		dst = append(dst, c)
	}
	return dst
}

// selectLines returns the indexes of the lines to score together: all of a
// short input; of a long one, the lines signals matched and the best
// scoring others, in input order.
func selectLines(lines []inputLine) []int {
	idx := make([]int, 0, len(lines))
	for i := range lines {
		idx = append(idx, i)
	}
	if len(lines) <= maxQueryLines {
		return idx
	}
	sort.SliceStable(idx, func(a, b int) bool {
		la, lb := lines[idx[a]], lines[idx[b]]
		if la.hit != lb.hit {
			return la.hit
		}
		return la.score > lb.score
	})
	keep := idx[:0]
	for _, i := range idx {
		if len(keep) == maxQueryLines {
			break
		}
		if lines[i].hit || lines[i].score > 0 {
			keep = append(keep, i)
		}
	}
	sort.Ints(keep)
	return keep
}

// explain fills in the terms and lines that speak for the result's case.
func (m *Matcher) explain(r *Result, lines []inputLine, sel []int, st stemmer) {
	c := -1
	for i, x := range m.cases {
		if x == r.Case {
			c = i
		}
	}
	type span struct {
		start, end int
		w          float64
	}
	type phrase struct {
		text string
		w    float64
	}
	type scored struct {
		li int
		w  float64
	}
	var phrases []phrase
	var best []scored
	seenPhrase := map[string]bool{}
	for _, li := range sel {
		text := lines[li].text
		var spans []span
		lineW := 0.0
		// A line is weighed on its own terms, so a header line that happens
		// to come first does not take the credit for a term.
		seenTerm := map[string]bool{}
		terms(text, st, func(t token) {
			ts := m.terms[t.term]
			if ts == nil {
				return
			}
			w := 0.0
			for _, p := range ts.post {
				if p.c == c {
					w = ts.lift(p)
				}
			}
			if w <= 0.25*ts.info() || w <= 0 {
				return
			}
			if !seenTerm[t.term] {
				seenTerm[t.term] = true
				lineW += w
			}
			if !t.pair {
				spans = append(spans, span{t.start, t.end, w})
			}
		})
		// Overlapping Chinese bigrams join into one phrase.
		sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
		merged := spans[:0]
		for _, s := range spans {
			if n := len(merged); n > 0 && merged[n-1].end > s.start {
				merged[n-1].end = max(merged[n-1].end, s.end)
				merged[n-1].w = max(merged[n-1].w, s.w)
				continue
			}
			merged = append(merged, s)
		}
		for _, s := range merged {
			p := text[s.start:s.end]
			key := strings.ToLower(p)
			if seenPhrase[key] {
				continue
			}
			seenPhrase[key] = true
			phrases = append(phrases, phrase{p, s.w})
		}
		if lineW > 0 {
			best = append(best, scored{li, lineW})
		}
	}
	sort.SliceStable(phrases, func(i, j int) bool { return phrases[i].w > phrases[j].w })
	for i, p := range phrases {
		if i == 10 {
			break
		}
		r.Terms = append(r.Terms, p.text)
	}
	sort.SliceStable(best, func(i, j int) bool { return best[i].w > best[j].w })
	// Quote only lines that say about as much as the best one.
	for i := range best {
		if best[i].w < 0.4*best[0].w {
			best = best[:i]
			break
		}
	}
	quoted := map[int]bool{}
	for _, h := range r.Signals {
		quoted[h.Line.Number] = true
	}
	for _, b := range best {
		if len(r.Lines) == 3 {
			break
		}
		l := lines[b.li]
		if quoted[l.number] {
			continue
		}
		quoted[l.number] = true
		r.Lines = append(r.Lines, Line{Number: l.number, Text: shorten(l.text, 0, quoteRunes)})
	}
	sort.Slice(r.Lines, func(i, j int) bool { return r.Lines[i].Number < r.Lines[j].Number })
}

// quote shortens a line to quoteRunes, keeping in view the match that
// starts at byte start.
func quote(line string, start int) string {
	return shorten(line, start, quoteRunes)
}

// shorten cuts s to at most n runes (and two "…"), starting a little
// before byte offset start.
func shorten(s string, start, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	from := start
	for back := 0; from > 0 && back < n/4; back++ {
		_, size := utf8.DecodeLastRuneInString(s[:from])
		from -= size
	}
	out, prefix := s[from:], ""
	if from > 0 {
		prefix = "…"
	}
	cut := 0
	for count := 0; cut < len(out) && count < n-1; count++ {
		_, size := utf8.DecodeRuneInString(out[cut:])
		cut += size
	}
	suffix := ""
	if cut < len(out) {
		suffix = "…"
	}
	return prefix + out[:cut] + suffix
}

// mass is how much a text names one thing: the rarity of its words in the
// library and in general software text. A fragment of a signal counts
// alone only when it holds at least half of the signal's mass, so that
// "the server could not find the requested resource" does not stand for a
// signal whose point is the resource it names.
func (m *Matcher) mass(text string, st stemmer) float64 {
	n := float64(len(m.cases))
	sum := 0.0
	seen := map[string]bool{}
	tokenize(text, st, func(t token) {
		if !t.word || seen[t.term] {
			return
		}
		seen[t.term] = true
		df := 0.0
		if ts := m.terms[t.term]; ts != nil {
			df = float64(ts.df)
		}
		sum += math.Log((n+1)/(df+1)) * m.bg.specificity(t.term)
	})
	return sum
}
