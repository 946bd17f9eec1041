package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/casebook-dev/casebook/internal/caseload"
	"github.com/casebook-dev/casebook/internal/report"
	"github.com/casebook-dev/casebook/internal/search"
	"github.com/casebook-dev/casebook/internal/snapshot"
)

// DefaultMatchMaxBytes is how much input `casebook match` reads; the rest
// of a longer stream is not read.
const DefaultMatchMaxBytes = search.DefaultMaxInput

// MatchOptions are the inputs of `casebook match`.
type MatchOptions struct {
	IO      *IOStreams
	Library func() (*caseload.Library, error)
	// Text is the text given as arguments; File is --file ("-" is stdin).
	Text   string
	File   string
	Top    int
	Output string
	// MaxBytes bounds the input read; 0 means DefaultMatchMaxBytes.
	MaxBytes int64
}

// NewCmdMatch builds `casebook match [TEXT...]`.
func NewCmdMatch(f *Factory, runF func(*MatchOptions) error) *cobra.Command {
	opts := &MatchOptions{IO: f.IO, Library: f.Library}
	cmd := &cobra.Command{
		Use:   "match [TEXT...]",
		Short: "Find the case for a pasted error, log excerpt or description",
		Long: `Match reads an error message, a log excerpt, kubectl describe output or a
description in Chinese or English, and names the cases it belongs to, with a
confidence and why: the case signals found in the input and the words that
matched, quoted from it. When nothing fits it says "no known case matches"
and exits 1.

The text comes from the arguments, from --file, or from standard input. At
most 8 MiB is read; a longer input is matched on its first 8 MiB.`,
		Example: `  kubectl describe pod web-0 | casebook match
  journalctl -u k3s --since -1h | casebook match
  casebook match --file agent.log --top 5
  casebook match 'x509: certificate has expired or is not yet valid'
  casebook match 证书过期 kubectl 连不上 -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Text = strings.Join(args, " ")
			if runF != nil {
				return runF(opts)
			}
			return matchRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "read the text from `FILE` (- for standard input)")
	cmd.Flags().IntVar(&opts.Top, "top", 3, "show at most `N` cases")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "text or json")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletions([]string{"text", "json"}))
	return cmd
}

type matchJSON struct {
	Input   matchInputJSON    `json:"input"`
	Matches []matchResultJSON `json:"matches"`
}

type matchInputJSON struct {
	Bytes     int  `json:"bytes"`
	Lines     int  `json:"lines"`
	Truncated bool `json:"truncated"`
	// Encoding is the encoding the input was decoded from, when not UTF-8.
	Encoding string `json:"encoding,omitempty"`
}

type matchResultJSON struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	TitleEN     string            `json:"title_en"`
	Confidence  float64           `json:"confidence"`
	Level       string            `json:"level"`
	SignalScore float64           `json:"signal_score"`
	TextScore   float64           `json:"text_score"`
	Signals     []matchSignalJSON `json:"signals"`
	Terms       []string          `json:"terms"`
	Lines       []matchLineJSON   `json:"lines"`
}

type matchSignalJSON struct {
	Signal string `json:"signal"`
	Regexp bool   `json:"regexp"`
	Line   int    `json:"line"`
	Text   string `json:"text"`
	Match  string `json:"match"`
	Count  int    `json:"count"`
}

type matchLineJSON struct {
	Line int    `json:"line"`
	Text string `json:"text"`
}

func matchRun(opts *MatchOptions) error {
	if err := outputFlag(opts.Output, "text", "json"); err != nil {
		return err
	}
	if opts.Top < 1 {
		return usageErrorf("--top must be at least 1")
	}
	in, err := readMatchInput(opts)
	if err != nil {
		return err
	}
	if in.Truncated {
		fmt.Fprintf(opts.IO.ErrOut, "%s input is longer than %s; matching its first %s only\n",
			opts.IO.Style(styleYellow, "warning:"), sizeString(opts.maxBytes()), sizeString(int64(in.Bytes)))
	}
	if in.Encoding != "" {
		fmt.Fprintf(opts.IO.ErrOut, "%s input is %s (GBK) text, not UTF-8; decoded to UTF-8 to match it\n",
			opts.IO.Style(styleCyan, "note:"), in.Encoding)
	}
	if in.Repaired {
		fmt.Fprintf(opts.IO.ErrOut, "%s input is not valid UTF-8 text; invalid bytes were replaced (for GBK text, convert it first: iconv -f GBK -t UTF-8)\n",
			opts.IO.Style(styleYellow, "warning:"))
	}
	lib, err := opts.Library()
	if err != nil {
		return err
	}
	m := search.NewMatcher(lib.Cases)
	results := m.Match(in.Text, search.MatchOptions{Limit: opts.Top})

	if opts.Output == "json" {
		out := matchJSON{Input: matchInputJSON{Bytes: in.Bytes, Lines: strings.Count(in.Text, "\n") + 1, Truncated: in.Truncated, Encoding: in.Encoding}, Matches: []matchResultJSON{}}
		for _, r := range results {
			j := matchResultJSON{ID: r.Case.ID, Title: r.Case.Title, TitleEN: r.Case.TitleEN,
				Confidence: round2(r.Confidence), Level: r.Level, SignalScore: round2(r.SignalScore), TextScore: round2(r.TextScore),
				Signals: []matchSignalJSON{}, Terms: r.Terms, Lines: []matchLineJSON{}}
			if j.Terms == nil {
				j.Terms = []string{}
			}
			for _, h := range r.Signals {
				j.Signals = append(j.Signals, matchSignalJSON{Signal: h.Signal.String(), Regexp: h.Signal.Pattern != "",
					Line: h.Line.Number, Text: h.Line.Text, Match: h.Match, Count: h.Count})
			}
			for _, l := range r.Lines {
				j.Lines = append(j.Lines, matchLineJSON{Line: l.Number, Text: l.Text})
			}
			out.Matches = append(out.Matches, j)
		}
		if err := report.JSON(opts.IO.Out, out); err != nil {
			return err
		}
		if len(results) == 0 {
			return silentExit(ExitError)
		}
		return nil
	}

	if len(results) == 0 {
		fmt.Fprintln(opts.IO.Out, "no known case matches this input")
		fmt.Fprintln(opts.IO.ErrOut, "\nFor a full-text search of the cases, try: casebook search WORDS")
		return silentExit(ExitError)
	}
	w := opts.IO.Out
	for i, r := range results {
		conf := fmt.Sprintf("%d%% %s", int(r.Confidence*100+0.5), r.Level)
		fmt.Fprintf(w, "%d. %s  %s  %s  %s\n", i+1, opts.IO.Style(styleBold, r.Case.ID), r.Case.Title,
			opts.IO.Style(styleDim, "("+r.Case.TitleEN+")"), opts.IO.Style(levelStyle(r.Level), conf))
		for _, h := range r.Signals {
			more := ""
			if h.Count > 1 {
				more = fmt.Sprintf(" (and %d more lines)", h.Count-1)
			}
			fmt.Fprintf(w, "   signal   line %d: %s%s\n", h.Line.Number, highlight(opts.IO, h.Line.Text, h.Match), more)
		}
		if len(r.Terms) > 0 {
			fmt.Fprintf(w, "   terms    %s\n", strings.Join(r.Terms, ", "))
		}
		for _, l := range r.Lines {
			fmt.Fprintf(w, "   line %-4d%s\n", l.Number, opts.IO.Style(styleDim, l.Text))
		}
	}
	fmt.Fprintf(opts.IO.ErrOut, "\nRead the case with: casebook show %s\n", results[0].Case.ID)
	return nil
}

func levelStyle(level string) string {
	switch level {
	case search.LevelHigh:
		return styleGreen
	case search.LevelMedium:
		return styleYellow
	}
	return styleDim
}

// highlight marks the matched part of a quoted line.
func highlight(s *IOStreams, line, match string) string {
	open, closeMark := "«", "»"
	if s.Color {
		open, closeMark = styleBold+styleYellow, styleReset
	}
	if i := strings.Index(line, match); match != "" && i >= 0 {
		return line[:i] + open + match + closeMark + line[i+len(match):]
	}
	return line
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }

func (opts *MatchOptions) maxBytes() int64 {
	if opts.MaxBytes > 0 {
		return opts.MaxBytes
	}
	return DefaultMatchMaxBytes
}

// readMatchInput reads the text from the arguments, the file or standard
// input, at most MaxBytes of it, and refuses what is not text.
func readMatchInput(opts *MatchOptions) (*search.Input, error) {
	var r io.Reader
	name := "standard input"
	switch {
	case opts.Text != "" && opts.File != "":
		return nil, usageErrorf("give the text as arguments or with --file, not both")
	case opts.Text != "":
		r, name = strings.NewReader(opts.Text), "the arguments"
	case opts.File == "" || opts.File == "-":
		if opts.File == "" && opts.IO.InIsTTY {
			return nil, usageErrorf("match needs text: give it as arguments, with --file FILE, or on standard input (kubectl describe pod web-0 | casebook match)")
		}
		r = opts.IO.In
	default:
		// Look before opening: opening a FIFO waits for a writer, for ever
		// if none comes. Standard input takes pipes.
		st, err := os.Stat(opts.File)
		if err != nil {
			return nil, usageErrorf("read %s: %v", opts.File, err)
		}
		if !st.Mode().IsRegular() {
			return nil, usageErrorf("read %s: %s, not a regular file; to match a stream, pipe it to standard input: casebook match < %s",
				opts.File, snapshot.FileType(st.Mode()), opts.File)
		}
		f, err := os.Open(opts.File)
		if err != nil {
			return nil, usageErrorf("read %s: %v", opts.File, err)
		}
		defer f.Close()
		r, name = f, opts.File
	}
	in, err := search.ReadInput(r, opts.maxBytes())
	switch {
	case errors.Is(err, search.ErrEmptyInput), errors.Is(err, search.ErrBinaryInput):
		return nil, usageErrorf("%s: %v", name, err)
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return in, nil
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
