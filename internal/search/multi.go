package search

// multiMatcher finds many strings in a text in one pass (Aho-Corasick):
// the literals that signals need and their fragments are looked for in a
// long log at once, instead of one scan of the whole log per string.
type multiMatcher struct {
	class   [256]uint8 // byte → symbol; 0 is any byte no pattern uses
	symbols int
	delta   []int32 // state*symbols + symbol → next state
	out     [][]int // state → patterns that end there
	n       int     // number of patterns
}

func newMultiMatcher(patterns []string) *multiMatcher {
	mm := &multiMatcher{n: len(patterns)}
	next := uint8(1)
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			if mm.class[p[i]] == 0 {
				mm.class[p[i]] = next
				next++
			}
		}
	}
	k := int(next)
	mm.symbols = k
	// The trie, with -1 for no edge yet.
	goTo := [][]int32{make([]int32, k)}
	for i := range goTo[0] {
		goTo[0][i] = -1
	}
	mm.out = [][]int{nil}
	for id, p := range patterns {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := mm.class[p[i]]
			if goTo[s][c] < 0 {
				row := make([]int32, k)
				for j := range row {
					row[j] = -1
				}
				goTo = append(goTo, row)
				mm.out = append(mm.out, nil)
				goTo[s][c] = int32(len(goTo) - 1)
			}
			s = goTo[s][c]
		}
		mm.out[s] = append(mm.out[s], id)
	}
	// Breadth first, complete the trie into a DFA along failure links.
	fail := make([]int32, len(goTo))
	var queue []int32
	for c := 0; c < k; c++ {
		if t := goTo[0][c]; t < 0 {
			goTo[0][c] = 0
		} else {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		mm.out[s] = append(mm.out[s], mm.out[fail[s]]...)
		for c := 0; c < k; c++ {
			t := goTo[s][c]
			if t < 0 {
				goTo[s][c] = goTo[fail[s]][c]
				continue
			}
			fail[t] = goTo[fail[s]][c]
			queue = append(queue, t)
		}
	}
	mm.delta = make([]int32, len(goTo)*k)
	for s, row := range goTo {
		copy(mm.delta[s*k:], row)
	}
	return mm
}

// lines returns, for each pattern, the indexes of the lines of text
// ('\n'-separated) that contain it, in order.
func (mm *multiMatcher) lines(text string) [][]int {
	found := make([][]int, mm.n)
	s, line, k := int32(0), 0, int32(mm.symbols)
	for i := 0; i < len(text); i++ {
		b := text[i]
		if b == '\n' {
			line++
		}
		s = mm.delta[s*k+int32(mm.class[b])]
		for _, id := range mm.out[s] {
			if l := found[id]; len(l) == 0 || l[len(l)-1] != line {
				found[id] = append(found[id], line)
			}
		}
	}
	return found
}
