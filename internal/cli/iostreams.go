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
}

// System returns the process's standard streams.
func System() *IOStreams {
	color := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InIsTTY: term.IsTerminal(int(os.Stdin.Fd())), Color: color}
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
