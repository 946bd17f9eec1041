package search_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/casebook-dev/casebook/internal/search"
)

// FuzzMatch feeds arbitrary bytes through the input path, PrepareInput
// then Match, as `casebook match` and the web UI do. Whatever the bytes,
// nothing panics, and what comes back is well formed: valid UTF-8, bounded
// quotes, line numbers inside the input, confidences between 0 and 1.
// The corpus is kept in testdata/fuzz/FuzzMatch; plain `go test` replays it.
func FuzzMatch(f *testing.F) {
	for _, it := range loadDevSet(f)[:20] {
		f.Add([]byte(it.Text))
	}
	for _, s := range []string{
		"", " \n\t", "\x00\x01\x02", "\xff\xfe\xfd", "证书过期",
		"x509: certificate has expired or is not yet valid: current time 2026-03-01T08:12:33Z is after 2026-02-27T11:04:10Z",
		"\x1b[31mError\x1b[0m: failed calling webhook \"validation.gatekeeper.sh\"",
		strings.Repeat("a", 10000), strings.Repeat("证", 3000), strings.Repeat("\n", 5000),
		"memory allocation of 1048576 bytes failed\r\n[error] execution failed: unreachable, Code: 0x40a",
	} {
		f.Add([]byte(s))
	}
	m := matcher(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := search.PrepareInput(data, false)
		if err != nil {
			return
		}
		if !utf8.ValidString(in.Text) {
			t.Fatalf("prepared text is not valid UTF-8: %q", in.Text)
		}
		lines := strings.Count(in.Text, "\n") + 1
		res := m.Match(in.Text, search.MatchOptions{Limit: 5})
		if len(res) > 5 {
			t.Fatalf("%d results, limit 5", len(res))
		}
		for i, r := range res {
			floor := m.DefaultMinConfidence()
			if i > 0 {
				floor *= search.AlsoShare
			}
			if r.Confidence < floor || r.Confidence > 1 {
				t.Errorf("%s: confidence %v", r.Case.ID, r.Confidence)
			}
			quotes := r.Lines
			for _, h := range r.Signals {
				quotes = append(quotes, h.Line)
				checkQuote(t, h.Match)
			}
			for _, l := range quotes {
				if l.Number < 1 || l.Number > lines {
					t.Errorf("%s: quoted line %d of %d", r.Case.ID, l.Number, lines)
				}
				checkQuote(t, l.Text)
			}
			for _, term := range r.Terms {
				checkQuote(t, term)
			}
		}
	})
}

func checkQuote(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("quote is not valid UTF-8: %q", s)
	}
	if n := utf8.RuneCountInString(s); n > 170 {
		t.Errorf("quote of %d runes: %.80q…", n, s)
	}
}

func TestPrepareInput(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		truncated bool
		want      string
		err       error
		repaired  bool
	}{
		{"text", "Error: x\r\n", false, "Error: x\n\n", nil, false},
		{"empty", "", false, "", search.ErrEmptyInput, false},
		{"blank", " \n\t \n", false, "", search.ErrEmptyInput, false},
		{"nul", "abc\x00def", false, "", search.ErrBinaryInput, false},
		{"binary", "\xff\xfe\x01\x02\x03\x04\x05\x06", false, "", search.ErrBinaryInput, false},
		{"invalid utf-8", "\xca\xe9\xb9 certificate expired since this morning", false, "\ufffd certificate expired since this morning", nil, true},
		{"colour", "\x1b[1;31mERROR\x1b[0m disk full", false, "ERROR disk full", nil, false},
		{"truncated at a line", "line one\nline two\nline th", true, "line one\nline two\n", nil, false},
		{"truncated in a rune", "证书过\xe6\x9c", true, "证书过", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := search.PrepareInput([]byte(tt.data), tt.truncated)
			if err != tt.err {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if in.Text != tt.want || in.Repaired != tt.repaired {
				t.Errorf("got %q (repaired %v), want %q (repaired %v)", in.Text, in.Repaired, tt.want, tt.repaired)
			}
		})
	}
}

// endless is a stream that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "log line\n"[i%9]
	}
	return len(p), nil
}

func TestReadInputBounded(t *testing.T) {
	in, err := search.ReadInput(endless{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Truncated || in.Bytes > 1<<20 || !strings.HasSuffix(in.Text, "\n") {
		t.Errorf("truncated %v, %d bytes, ends %q; want a cut at a line end within 1 MiB", in.Truncated, in.Bytes, in.Text[len(in.Text)-5:])
	}
}
