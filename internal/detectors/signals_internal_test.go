package detectors

import (
	"strings"
	"testing"

	casebook "github.com/casebook-dev/casebook"
	"github.com/casebook-dev/casebook/cases"
	"github.com/casebook-dev/casebook/internal/caseload"
)

// TestAnchorsNeverHideAMatch: the literal prefilter only skips lines a
// signal cannot match. Every line of every case (whose bodies quote the
// errors verbatim) is tried against every signal of the library, with and
// without the prefilter.
func TestAnchorsNeverHideAMatch(t *testing.T) {
	lib, err := caseload.Load(cases.FS(), "cases/")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range lib.Cases {
		lines = append(lines, strings.Split(c.Body, "\n")...)
	}
	matches := 0
	for _, c := range lib.Cases {
		for _, s := range c.Signals {
			re, err := s.Compile()
			if err != nil {
				continue
			}
			anchors := anchorsOf(s)
			for _, ln := range lines {
				ln = strings.TrimSpace(ln)
				if re.MatchString(ln) {
					matches++
					if !anchored(strings.ToLower(ln), anchors) {
						t.Errorf("%s signal %q matches %q, but its anchors %q are not in it", c.ID, s, ln, anchors)
					}
				}
			}
		}
	}
	if matches < 20 {
		t.Fatalf("only %d lines match a signal: the test proves nothing", matches)
	}
}

func TestAnchorsOf(t *testing.T) {
	for _, tt := range []struct {
		sig  casebook.Signal
		want []string
	}{
		{casebook.Signal{Literal: "Readiness probe failed"}, []string{"readiness probe failed"}},
		{casebook.Signal{Pattern: `context deadline exceeded.*wasm`}, []string{"context deadline exceeded"}},
		{casebook.Signal{Pattern: `(Foo|Bar) happened`}, []string{" happened"}},
		{casebook.Signal{Pattern: `Address in use|code: 3`}, []string{"address in use", "code: 3"}},
		{casebook.Signal{Pattern: `x*|y`}, nil},
	} {
		if got := anchorsOf(tt.sig); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("anchorsOf(%q) = %q, want %q", tt.sig, got, tt.want)
		}
	}
}
