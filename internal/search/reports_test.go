package search_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/casebook-dev/casebook/internal/search"
)

// reportsFile holds real user reports: excerpts of what people wrote in
// public issue threads and Q&A pages, each with its source, the cases it
// belongs to (none for a report no case covers) and the part of the split
// it is in. The texts stay here: nothing of them goes into the cases or the
// matcher's word lists.
const reportsFile = "testdata/match/reports.jsonl"

type report struct {
	Text   string   `json:"text"`
	Source string   `json:"source"`
	Cases  []string `json:"cases"`
	Reason string   `json:"reason"`
	Split  string   `json:"split"`
	line   int
}

// reportSplit is the split rule, applied once by thread: a report is in the
// test part when the first four bytes of the SHA-256 of its source, read as
// a big-endian number, are below 35 modulo 100. Every excerpt of a thread
// lands in the same part.
func reportSplit(source string) string {
	h := sha256.Sum256([]byte(source))
	if binary.BigEndian.Uint32(h[:4])%100 < 35 {
		return "test"
	}
	return "tune"
}

func loadReports(t testing.TB) []report {
	t.Helper()
	f, err := os.Open(reportsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []report
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", reportsFile, n, err)
		}
		r.line = n
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// inLibrary keeps the labels whose case is in the library; it reports
// false for a report whose every label is outside it, which is neither a
// report with a case nor one without.
func inLibrary(cases []string) ([]string, bool) {
	var want []string
	for _, id := range cases {
		if slices.Contains(libIDs, id) {
			want = append(want, id)
		}
	}
	return want, len(cases) == 0 || len(want) > 0
}

// reportScore is what the matcher achieves on one part of the corpus.
type reportScore struct {
	pos, hit1, hit3 int
	neg, negOK      int
	high, highOK    int
	skipped         int
	perCase         map[string][2]int // case → hits at 1, reports
}

func (s reportScore) rate(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (s reportScore) String() string {
	return fmt.Sprintf("hit@1 %.3f (%d/%d)  hit@3 %.3f (%d/%d)  negatives rejected %.3f (%d/%d)  high precision %.3f (%d/%d)",
		s.rate(s.hit1, s.pos), s.hit1, s.pos, s.rate(s.hit3, s.pos), s.hit3, s.pos,
		s.rate(s.negOK, s.neg), s.negOK, s.neg, s.rate(s.highOK, s.high), s.highOK, s.high)
}

// scoreReports runs the matcher over the reports of one part. A label
// counts only when its case is in the library, so the corpus can hold
// reports for cases that land later; a report whose every label is outside
// the library is skipped rather than taken for a negative.
func scoreReports(m *search.Matcher, reports []report, part string, miss func(r report, got string)) reportScore {
	s := reportScore{perCase: map[string][2]int{}}
	for _, r := range reports {
		if r.Split != part {
			continue
		}
		want, ok := inLibrary(r.Cases)
		if !ok {
			s.skipped++
			continue
		}
		res := m.Match(r.Text, search.MatchOptions{Limit: 3})
		got := make([]string, len(res))
		for i, x := range res {
			got[i] = fmt.Sprintf("%s %.2f %s", x.Case.ID, x.Confidence, x.Level)
		}
		if len(res) > 0 && res[0].Level == search.LevelHigh {
			s.high++
			if slices.Contains(want, res[0].Case.ID) {
				s.highOK++
			}
		}
		if len(want) == 0 {
			s.neg++
			if len(res) == 0 {
				s.negOK++
			} else if miss != nil {
				miss(r, strings.Join(got, ", "))
			}
			continue
		}
		s.pos++
		rank := -1
		for i, x := range res {
			if slices.Contains(want, x.Case.ID) {
				rank = i
				break
			}
		}
		if rank == 0 {
			s.hit1++
		}
		if rank >= 0 && rank < 3 {
			s.hit3++
		}
		if rank != 0 && miss != nil {
			miss(r, strings.Join(got, ", "))
		}
		for _, id := range want {
			c := s.perCase[id]
			c[1]++
			if rank == 0 {
				c[0]++
			}
			s.perCase[id] = c
		}
	}
	return s
}

var matchTargets = flag.Bool("match-targets", false, "hold the matcher to issue 14's targets on the test part of the real reports")

// reportTargets are issue 14's targets on the test part; reportFloors are
// what `go test` holds the matcher to by default: the figures it reaches,
// rounded down, so that a change that makes it worse fails. The targets are
// not met yet (hit@1 0.79, hit@3 0.83, rejected 0.71 on the test part);
// -match-targets checks them.
var (
	reportTargets = [4]float64{0.85, 0.95, 0.80, 0.90}
	reportFloors  = [4]float64{0.75, 0.80, 0.65, 0.90}
)

// TestRealReports measures the matcher on real user reports: on the test
// part, hit@1, hit@3, the share of reports about no case answered with
// none, and of the answers given as "high" the share right. The tuning
// part's figures are printed beside them, so the gap between the two shows
// over-fitting. MATCH_VERBOSE=1 lists the misses of the tuning part (the
// test part's misses are not for tuning).
func TestRealReports(t *testing.T) {
	m := matcher(t)
	reports := loadReports(t)
	perCase := map[string]int{}
	neg := 0
	seen := map[string]string{}
	for _, r := range reports {
		where := fmt.Sprintf("%s:%d", reportsFile, r.line)
		if r.Text == "" || r.Source == "" || r.Reason == "" {
			t.Errorf("%s: text, source and reason are required", where)
		}
		if n := len([]rune(r.Text)); n > 600 {
			t.Errorf("%s: excerpt of %d characters; at most 600", where, n)
		}
		if want := reportSplit(r.Source); r.Split != want {
			t.Errorf("%s: split %q, the rule puts %s in %q", where, r.Split, r.Source, want)
		}
		if prev, ok := seen[r.Text]; ok {
			t.Errorf("%s: same text as %s", where, prev)
		}
		seen[r.Text] = where
		if len(r.Cases) == 0 {
			neg++
		}
		for _, id := range r.Cases {
			perCase[id]++
		}
	}
	if len(reports) < 300 || neg < 40 {
		t.Errorf("%d reports, %d negatives; want at least 300 and 40", len(reports), neg)
	}
	for _, id := range libIDs {
		if perCase[id] < 10 {
			t.Errorf("%d reports for %s; want at least 10", perCase[id], id)
		}
	}

	var miss func(report, string)
	if os.Getenv("MATCH_VERBOSE") != "" {
		miss = func(r report, got string) {
			t.Logf("tune miss %s:%d want %v (%s): %s", reportsFile, r.line, r.Cases, r.Reason, got)
		}
	}
	tune := scoreReports(m, reports, "tune", miss)
	test := scoreReports(m, reports, "test", nil)
	t.Logf("tune: %s", tune)
	t.Logf("test: %s", test)
	if tune.skipped+test.skipped > 0 {
		t.Logf("skipped %d reports whose cases are not in the library yet", tune.skipped+test.skipped)
	}
	ids := make([]string, 0, len(test.perCase))
	for id := range test.perCase {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		c := test.perCase[id]
		fmt.Fprintf(&b, " %s %d/%d", id, c[0], c[1])
	}
	t.Logf("test hit@1 per case:%s", b.String())

	want := reportFloors
	if *matchTargets {
		want = reportTargets
	}
	for i, c := range []struct {
		name string
		got  float64
	}{
		{"hit@1", test.rate(test.hit1, test.pos)},
		{"hit@3", test.rate(test.hit3, test.pos)},
		{"negatives rejected", test.rate(test.negOK, test.neg)},
		{"high precision", test.rate(test.highOK, test.high)},
	} {
		switch {
		case c.got < want[i]:
			t.Errorf("test part: %s = %.3f, want ≥ %.2f", c.name, c.got, want[i])
		case c.got < reportTargets[i]:
			t.Logf("test part: %s = %.3f, below the target of %.2f", c.name, c.got, reportTargets[i])
		}
	}
}
