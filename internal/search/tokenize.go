package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	porterstemmer "github.com/blevesearch/go-porterstemmer"
)

// token is one term of a text: a lower-cased, stemmed word, or a bigram of
// Chinese (CJK) characters, with where it came from.
type token struct {
	term       string
	start, end int // byte offsets of the surface text
	cjk        bool
	// word is true for a token made only of letters, the kind of token
	// whose absence from the library says something about the input.
	word bool
	// pair is true for a term made of two adjacent words ("scrape node"):
	// texts that share a phrase share more than its words.
	pair bool
}

// terms emits the tokens of text and, after each word that follows
// another word on the same line, the pair of them.
func terms(text string, st stemmer, emit func(token)) {
	var prev token
	havePrev := false
	tokenize(text, st, func(t token) {
		emit(t)
		if t.cjk {
			havePrev = false
			return
		}
		if havePrev && !strings.Contains(text[prev.end:t.start], "\n") {
			emit(token{term: prev.term + " " + t.term, start: prev.start, end: t.end, pair: true})
		}
		prev, havePrev = t, true
	})
}

// stemmer caches stems: a log repeats the same words many times and the
// Porter stemmer is the costly part of tokenising.
type stemmer map[string]string

func (s stemmer) stem(w string) string {
	if st, ok := s[w]; ok {
		return st
	}
	st := porterstemmer.StemString(w)
	if len(s) < 1<<16 {
		s[w] = st
	}
	return st
}

// tokenize splits text into terms. Runs of letters and digits are words,
// lower-cased and stemmed; runs of CJK characters become overlapping
// bigrams, so Chinese without spaces matches Chinese written elsewhere in
// other words. Numbers, hashes and other identifiers that carry no meaning
// across texts are dropped.
func tokenize(text string, st stemmer, emit func(token)) {
	i := 0
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isCJK(r):
			i = cjkRun(text, i, emit)
		case isWordRune(r):
			j := i + size
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				if !isWordRune(r2) || isCJK(r2) {
					break
				}
				j += s2
			}
			if tok, ok := wordToken(text[i:j], st); ok {
				tok.start, tok.end = i, j
				emit(tok)
			}
			i = j
		default:
			i += size
		}
	}
}

// cjkRun emits the bigrams of the CJK run starting at i (a lone character
// is emitted as itself) and returns where the run ends.
func cjkRun(text string, i int, emit func(token)) int {
	var starts [3]int // byte offsets of the last two runes and the current one
	n := 0
	j := i
	for j < len(text) {
		r, size := utf8.DecodeRuneInString(text[j:])
		if !isCJK(r) {
			break
		}
		starts[0], starts[1] = starts[1], j
		n++
		if n >= 2 {
			if bi := text[starts[0] : j+size]; !cjkStopwords[bi] {
				emit(token{term: bi, start: starts[0], end: j + size, cjk: true})
			}
		}
		j += size
	}
	if n == 1 {
		emit(token{term: text[i:j], start: i, end: j, cjk: true})
	}
	return j
}

// cjkStopwords are Chinese function words and the filler of a complaint
// ("但是", "一直", "怎么"): every description has them and they name no fault.
var cjkStopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`但是 还是 之间 因为 所以 如果 可以 已经 然后 这个 那个 一个 没有
		不是 就是 什么 怎么 为什么 我们 你们 他们 时候 现在 以后 之后 之前 以前 以及 或者 而且
		并且 的是 也是 都是 还有 这样 那样 这些 那些 一下 一直 出现 发现 看到 问题 请问 求助 大家
		是不 不行 怎样 如何 需要 应该 可能 感觉 好像 比如 这里 那里 里面 上面 下面 其他 别的 同时
		之类 明明 突然 总是 经常 每次 有时 的时 时候 了一 了， 是否 能否 有没`) {
		m[w] = true
	}
	return m
}()

// wordToken normalises a word, or reports that it is noise.
func wordToken(w string, st stemmer) (token, bool) {
	letters, digits, hex := 0, 0, true
	ascii := true
	for _, r := range w {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r < utf8.RuneSelf:
			letters++
			if !(r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == 'x' || r == 'X') {
				hex = false
			}
		default:
			letters++
			hex, ascii = false, false
		}
	}
	n := letters + digits
	switch {
	case n < 2 || n > 40:
		return token{}, false
	case n == 2 && !shortWords[strings.ToLower(w)]:
		// Two letters are mostly noise: initials, fragments of hashes and
		// base64; keep the few that name something.
		return token{}, false
	case letters == 0:
		// Ports, exit and status codes (137, 404, 6443, 8472) mean something;
		// timestamps, years, sizes and IP octets do not.
		if n < 3 || n > 5 || (n == 4 && w >= "1990" && w <= "2039") {
			return token{}, false
		}
	case digits > 0:
		// A value with a unit (10s, 128Mi, 2m39s), a hash, a pod-name
		// suffix or an offset; keep identifiers such as k3s, x509, wasm32,
		// v1 and error codes such as 0x40a.
		if w[0] >= '0' && w[0] <= '9' && !(len(w) > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) {
			return token{}, false
		}
		if n > 10 || (hex && n >= 7) {
			return token{}, false
		}
		// "x12" in "(x12 over 5m)" is how often an event repeated.
		if (w[0] == 'x' || w[0] == 'X') && letters == 1 && !shortWords[strings.ToLower(w)] {
			return token{}, false
		}
	}
	if digits == 0 && ascii && jumbled(w) {
		return token{}, false
	}
	lw := w
	if !ascii || hasUpper(w) {
		lw = strings.ToLower(w)
	}
	if stopwords[lw] {
		return token{}, false
	}
	word := digits == 0
	if word && ascii && len(lw) > 3 {
		lw = st.stem(lw)
	}
	return token{term: lw, word: word}, true
}

// jumbled reports whether an ASCII word's letter case follows no pattern
// of words or identifiers (lower, UPPER, Title, camelCase, OOMKilled):
// base64, hashes and other noise ("AVg", "sAT", "MMc").
func jumbled(w string) bool {
	isUp := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	if n := len(w); n > 2 && w[n-1] == 's' && strings.ToUpper(w[:n-1]) == w[:n-1] {
		return false // plural of an acronym: IDs, PVs
	}
	seg := 1
	for i := 1; i < len(w); i++ {
		// A new camel-case segment starts at an upper-case letter after a
		// lower-case one, or at the last capital of a run before lower case.
		start := isUp(w[i]) && (!isUp(w[i-1]) || (i+1 < len(w) && !isUp(w[i+1])))
		if start {
			if seg == 1 {
				return true
			}
			seg = 0
		}
		seg++
	}
	return seg == 1 && len(w) > 1
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func isCJK(r rune) bool {
	if r < 0x2E80 {
		return false
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// shortWords are the two-character words that mean something here, and a
// few more that a rule below would drop.
var shortWords = map[string]bool{
	"io": true, "ip": true, "os": true, "vm": true, "nn": true, "pv": true, "ns": true,
	"ca": true, "db": true, "sc": true, "ui": true, "v1": true, "v2": true, "v3": true,
	"k8": true, "hp": true, "rw": true, "ro": true, "fs": true, "gc": true, "go": true,
	// Not two characters, but x and digits that are not a repeat count.
	"x509": true, "x86": true, "x64": true,
}

// stopwords are English function words and the filler of log lines; they
// say nothing about which case a text belongs to.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then else of to in on at by for from with
		into onto over under as is are was were be been being am do does did done doing have has had
		having it its this that these those there here i me my we our you your he she they them their
		what which who whom whose when where why how all any both each few more most other some such
		no nor not only own same so than too very can will just should would could may might must
		shall also about after before again against between through during above below up down out
		off once further while because until get got s t d ll re ve m o y
		is isn aren wasn weren don doesn didn hasn haven hadn won wouldn shouldn couldn cannot
		e g eg ie etc vs via per`) {
		m[w] = true
	}
	return m
}()
