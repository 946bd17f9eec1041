package search

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// EncodingGB18030 names the encoding of text decoded from GB18030, the
// superset of GBK and GB2312 that Chinese Windows consoles and older tools
// write.
const EncodingGB18030 = "GB18030"

// DecodeGB18030 decodes data as GB18030 when it is not UTF-8 and reads as
// Chinese text in GB18030: most of its non-ASCII bytes are not valid UTF-8
// (GBK pairs seldom are), and decoded it holds Chinese characters and
// nothing undecodable. UTF-8 text with a few broken bytes stays UTF-8, to
// be repaired. It reports whether it decoded.
func DecodeGB18030(data []byte) ([]byte, bool) {
	sample := data[:min(len(data), 64<<10)]
	if utf8.Valid(sample) && utf8.Valid(data) {
		return data, false
	}
	nonASCII, invalid := 0, 0
	for i := 0; i < len(sample); {
		r, size := utf8.DecodeRune(sample[i:])
		if sample[i] >= 0x80 {
			nonASCII += size
			if r == utf8.RuneError && size == 1 {
				invalid++
			}
		}
		i += size
	}
	if nonASCII == 0 || invalid*2 < nonASCII {
		return data, false
	}
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
	if err != nil || !utf8.Valid(out) {
		return data, false
	}
	han, bad := 0, 0
	for _, r := range string(out) {
		switch {
		case r == utf8.RuneError:
			bad++
		case unicode.Is(unicode.Han, r):
			han++
		}
	}
	if han == 0 || bad > 0 {
		return data, false
	}
	return out, true
}
