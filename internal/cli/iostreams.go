package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the streams a command reads and writes: results go to Out,
// progress and warnings to ErrOut. Colour is used only when Out is a
// terminal and NO_COLOR is unset.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InIsTTY is true when In is a terminal (nothing was piped in).
	InIsTTY bool
	// Color is true when Out is a terminal that may be coloured.
	Color bool
	// ErrIsTTY is true when ErrOut is a terminal: progress is shown there.
	ErrIsTTY bool
}

// System returns the process's standard streams.
func System() *IOStreams { return Streams(os.Stdin, os.Stdout, os.Stderr) }

// Streams returns streams over three files, noting which are terminals.
func Streams(in, out, errOut *os.File) *IOStreams {
	color := term.IsTerminal(int(out.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return &IOStreams{In: in, Out: out, ErrOut: errOut,
		InIsTTY: term.IsTerminal(int(in.Fd())), Color: color,
		ErrIsTTY: term.IsTerminal(int(errOut.Fd())) && os.Getenv("TERM") != "dumb"}
}

// TestStreams returns streams over buffers, for tests: in, out, errOut.
func TestStreams() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// ANSI styles, applied only when colour is on.
const (
	styleBold   = "\x1b[1m"
	styleDim    = "\x1b[2m"
	styleRed    = "\x1b[31m"
	styleYellow = "\x1b[33m"
	styleCyan   = "\x1b[36m"
	styleGreen  = "\x1b[32m"
	styleReset  = "\x1b[0m"
)

// Style wraps s in an ANSI style when colour is on.
func (s *IOStreams) Style(style, text string) string {
	if !s.Color || text == "" {
		return text
	}
	return style + text + styleReset
}
