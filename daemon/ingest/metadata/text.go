package metadata

import (
	"bytes"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// errNotText says a file meant to be text is neither UTF-8 nor UTF-16 with
// a byte-order mark.
var errNotText = errors.New("not UTF-8 or UTF-16 text")

// decodeText returns the UTF-8 text of a file written as UTF-8 (with or
// without a byte-order mark) or as UTF-16 with a byte-order mark, which is
// what Windows tools write ("pip freeze > requirements.txt" in PowerShell
// gives UTF-16LE). A NUL byte in a file without a UTF-16 mark, or invalid
// UTF-8 in most of its first kilobytes, means it is not text.
func decodeText(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		return decodeUTF16(data[2:], false)
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		return decodeUTF16(data[2:], true)
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, errNotText
	}
	if !utf8.Valid(data) {
		// A stray Latin-1 byte in a comment is no reason to drop the file;
		// mostly invalid bytes are.
		head := data[:min(len(data), 4096)]
		bad := 0
		for len(head) > 0 {
			r, n := utf8.DecodeRune(head)
			if r == utf8.RuneError && n <= 1 {
				bad++
			}
			head = head[max(n, 1):]
		}
		if bad*10 > min(len(data), 4096) {
			return nil, errNotText
		}
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	return data, nil
}

func decodeUTF16(data []byte, bigEndian bool) ([]byte, error) {
	if len(data)%2 != 0 {
		return nil, errNotText
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		if bigEndian {
			units[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		} else {
			units[i] = uint16(data[2*i+1])<<8 | uint16(data[2*i])
		}
	}
	out := make([]byte, 0, len(units))
	for _, r := range utf16.Decode(units) {
		if r == 0 {
			return nil, errNotText
		}
		out = utf8.AppendRune(out, r)
	}
	return out, nil
}
