package search

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	casebook "github.com/casebook-dev/casebook"
)

// compiledSignal is one case signal made ready for fast matching over long
// inputs.
type compiledSignal struct {
	caseIdx int
	sig     casebook.Signal
	re      *regexp.Regexp // the signal's regexp, or the literal quoted, case-insensitively
	// need holds lower-cased strings one of which every match contains;
	// lines without any are skipped before the regexp runs. Empty when
	// nothing is known.
	need []string
	// strength is how much one hit of this signal counts, from 0 to 1: a
	// long, specific text is stronger evidence than a short one.
	strength float64
	// text is the signal's fixed text, indexed as a field of its case.
	text string
	// frags are clauses of the fixed text specific enough to count, more
	// weakly, when found without the rest: a message pasted without the
	// prefix the pattern expects, or worded by another version.
	frags []string
	// needIDs and fragIDs number need and frags in the matcher's
	// multiMatcher.
	needIDs, fragIDs []int
}

// compileSignal prepares s, or reports that it is unusable (an empty
// literal, a pattern that was never compiled).
func compileSignal(caseIdx int, s casebook.Signal) (compiledSignal, bool) {
	cs := compiledSignal{caseIdx: caseIdx, sig: s}
	switch {
	case s.Pattern != "":
		re, err := s.Compile()
		if err != nil {
			return cs, false
		}
		cs.re = re
		cs.need = requiredLiterals(re.String())
		cs.text = strings.Join(literalText(re.String()), " ")
	case strings.TrimSpace(s.Literal) != "":
		cs.re = regexp.MustCompile("(?i)" + regexp.QuoteMeta(s.Literal))
		cs.need = []string{strings.ToLower(s.Literal)}
		cs.text = s.Literal
	default:
		return cs, false
	}
	spec := utf8.RuneCountInString(strings.Join(strings.Fields(cs.text), " "))
	cs.strength = 0.55 + 0.35*min(1, float64(spec)/40)
	return cs, true
}

// partialStrength is what fragments of a signal count for, by how much of
// its text they hold; never as much as the whole signal.
func (s *compiledSignal) partialStrength(fragBytes int) float64 {
	return min(s.strength-0.05, 0.45+0.35*min(1, float64(fragBytes)/50))
}

// requiredLiterals returns lower-cased strings one of which every match of
// the pattern contains, or nil when it cannot tell.
func requiredLiterals(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	return anyOf(re.Simplify())
}

// anyOf computes requiredLiterals over a parsed pattern: a literal needs
// itself; a concatenation, its most selective part; an alternation, one of
// each branch's.
func anyOf(r *syntax.Regexp) []string {
	switch r.Op {
	case syntax.OpLiteral:
		if s := strings.ToLower(string(r.Rune)); asciiOnly(s) && len(s) >= 3 {
			return []string{s}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return anyOf(r.Sub[0])
	case syntax.OpRepeat:
		if r.Min >= 1 {
			return anyOf(r.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		for _, s := range r.Sub {
			if c := anyOf(s); c != nil && (best == nil || shortest(c) > shortest(best)) {
				best = c
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, s := range r.Sub {
			c := anyOf(s)
			if c == nil {
				return nil
			}
			all = append(all, c...)
		}
		return all
	}
	return nil
}

func shortest(ss []string) int {
	n := -1
	for _, s := range ss {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

// literalText returns every literal run in the pattern, including those
// inside alternations: the words a person would read in it.
func literalText(pattern string) []string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	var out []string
	var walk func(*syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		if r.Op == syntax.OpLiteral {
			out = append(out, string(r.Rune))
			return
		}
		for _, s := range r.Sub {
			walk(s)
		}
	}
	walk(re)
	return out
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fragments returns the parts of a signal's fixed text that may be found
// alone: the literal runs of a pattern, or the clauses of a long literal.
func fragments(s compiledSignal) []string {
	var runs []string
	if s.sig.Pattern != "" {
		runs = literalText(s.re.String())
	} else {
		runs = []string{s.sig.Literal}
	}
	var out []string
	for _, r := range runs {
		for _, part := range splitClauses(r) {
			if len(part) >= minFragmentBytes {
				out = append(out, strings.ToLower(part))
			}
		}
	}
	return out
}

// minFragmentBytes is the shortest fragment looked for on its own.
const minFragmentBytes = 20

// splitClauses cuts text at the punctuation that separates the clauses of
// an error message (": ", ", ", "; ", quotes and brackets).
func splitClauses(text string) []string {
	f := strings.FieldsFunc(text, func(r rune) bool {
		return strings.ContainsRune(":;,\"'`()[]{}", r)
	})
	var out []string
	for _, p := range f {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
