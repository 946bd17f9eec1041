package search

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// gbkError is "错误：连接被拒绝" in GBK, as a Chinese Windows console
// writes it (code page 936).
var gbkError = []byte{0xB4, 0xED, 0xCE, 0xF3, 0xA3, 0xBA, 0xC1, 0xAC, 0xBD, 0xD3, 0xB1, 0xBB, 0xBE, 0xDC, 0xBE, 0xF8}

func TestGBKBytesAreReal(t *testing.T) {
	want, err := simplifiedchinese.GBK.NewEncoder().String("错误：连接被拒绝")
	if err != nil || !bytes.Equal([]byte(want), gbkError) {
		t.Fatalf("the test's GBK bytes are not the GBK of the text: % X", want)
	}
}

// TestGBKInput: GBK text was refused as binary (alone) or mangled into
// replacement characters (beside ASCII); it is decoded, and said so.
func TestGBKInput(t *testing.T) {
	mixed := append([]byte("Warning  FailedScheduling  0/3 nodes are available: 3 Insufficient memory.\n"), gbkError...)
	mixed = append(mixed, "\n"...)
	for _, tc := range []struct {
		name     string
		in       []byte
		encoding string
		text     string
		err      error
	}{
		{"GBK alone", bytes.Repeat(append(gbkError, '\n'), 3), EncodingGB18030, "错误：连接被拒绝\n", nil},
		{"GBK beside ASCII", mixed, EncodingGB18030, "3 Insufficient memory.\n错误：连接被拒绝", nil},
		{"UTF-8", []byte("错误：连接被拒绝 Insufficient memory"), "", "错误：连接被拒绝", nil},
		{"UTF-8 with a broken byte", []byte("错误：连接被拒绝 \xff Insufficient memory"), "", "连接被拒绝 \uFFFD Insufficient", nil},
		{"binary", []byte("\x00\x01\x02\xB4\xED\xCE\xF3"), "", "", ErrBinaryInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := PrepareInput(tc.in, false)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Encoding != tc.encoding || !strings.Contains(in.Text, tc.text) {
				t.Errorf("encoding %q, text %q; want %q and %q", in.Encoding, in.Text, tc.encoding, tc.text)
			}
		})
	}
}
