package search

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// DefaultMaxInput is how much of a stream ReadInput reads by default: far
// more than any error report, and little enough to match in a second.
const DefaultMaxInput = 8 << 20

// Errors of ReadInput and PrepareInput.
var (
	ErrEmptyInput  = errors.New("the input is empty: there is nothing to match")
	ErrBinaryInput = errors.New("the input looks like binary data, not text; match reads error messages, logs and descriptions")
)

// Input is text made ready for Match, with what was done to it.
type Input struct {
	Text string
	// Bytes is how many bytes of the input were kept.
	Bytes int
	// Truncated is true when the input was longer than the limit and only
	// its beginning was kept, cut at a line end.
	Truncated bool
	// Repaired is true when the input was not valid UTF-8 and invalid
	// bytes were replaced.
	Repaired bool
	// Encoding names the encoding the input was decoded from
	// (EncodingGB18030), "" for UTF-8.
	Encoding string
}

// ReadInput reads at most max bytes of r (0 means DefaultMaxInput) and
// prepares them with PrepareInput. It stops reading at the limit, so an
// endless stream does not hang it.
func ReadInput(r io.Reader, max int64) (*Input, error) {
	if max <= 0 {
		max = DefaultMaxInput
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	truncated := int64(len(data)) > max
	if truncated {
		data = data[:max]
	}
	return PrepareInput(data, truncated)
}

// PrepareInput turns raw bytes into text to match: it decodes GB18030 (GBK)
// text to UTF-8, refuses binary data and empty input, cuts a truncated input at its last line end, replaces
// invalid UTF-8, and drops terminal escape sequences and control
// characters (coloured kubectl, journalctl or CI output).
func PrepareInput(data []byte, truncated bool) (*Input, error) {
	if truncated {
		data = cutAtLine(data)
	}
	n := len(data)
	encoding := ""
	if decoded, ok := DecodeGB18030(data); ok {
		data, encoding = decoded, EncodingGB18030
	}
	if looksBinary(data) {
		return nil, ErrBinaryInput
	}
	in := &Input{Bytes: n, Truncated: truncated, Encoding: encoding}
	in.Text, in.Repaired = cleanText(data)
	if strings.TrimSpace(in.Text) == "" {
		return nil, ErrEmptyInput
	}
	return in, nil
}

// cutAtLine drops the partial last line of a truncated input, or at least
// a partial last character.
func cutAtLine(data []byte) []byte {
	if i := bytes.LastIndexByte(data, '\n'); i > len(data)/2 {
		return data[:i+1]
	}
	for n := 0; n < utf8.UTFMax && len(data) > 0; n++ {
		r, size := utf8.DecodeLastRune(data)
		if r != utf8.RuneError || size > 1 {
			break
		}
		data = data[:len(data)-1]
	}
	return data
}

// looksBinary reports whether data is not text: a NUL byte, or more than
// one byte in ten a control character or invalid UTF-8, in its first 64 KiB.
func looksBinary(data []byte) bool {
	sample := data[:min(len(data), 64<<10)]
	bad := 0
	for i := 0; i < len(sample); {
		r, size := utf8.DecodeRune(sample[i:])
		switch {
		case r == 0:
			return true
		case r == utf8.RuneError && size == 1:
			bad++
		case r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f' && r != '\v' && r != 0x1b:
			bad++
		}
		i += size
	}
	return bad*10 > len(sample)
}

// ansiEscape matches terminal colour and cursor sequences.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

func cleanText(data []byte) (text string, repaired bool) {
	text = string(data)
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
		repaired = true
	}
	if strings.IndexByte(text, 0x1b) >= 0 {
		text = ansiEscape.ReplaceAllString(text, "")
	}
	text = strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r < 0x20 && r != '\n' && r != '\t', r == 0x7f:
			return ' '
		}
		return r
	}, text)
	return text, repaired
}
