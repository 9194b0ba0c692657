package render

import "unicode/utf8"

// JSON string escaping for the hand-written payload. strconv.AppendQuote is not JSON: it writes
// \x00, \a, \v and \U0001f600 forms that JSON does not have.

const hexDigits = "0123456789abcdef"

// appendString appends s to b as a JSON string literal, escaped as the package comment says.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = appendEscapedASCII(append(b, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if n == 1 || r == '\u2028' || r == '\u2029' { // n == 1: an invalid byte
			b = append(b, s[start:i]...)
			if n == 1 {
				r = utf8.RuneError
			}
			b = append(b, '\\', 'u', hexDigits[r>>12], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
			start = i + n
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEscapedASCII appends the escape of an ASCII byte that JSON requires escaped.
func appendEscapedASCII(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// nextUnit returns the raw length of the rune (or invalid byte) at s[i] and the length of its
// escaped form; it mirrors appendString.
func nextUnit(s string, i int) (raw, escaped int) {
	c := s[i]
	if c < utf8.RuneSelf {
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
			return 1, 2
		case c < 0x20:
			return 1, 6
		}
		return 1, 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if n == 1 || r == '\u2028' || r == '\u2029' {
		return n, 6
	}
	return n, n
}

// escapedLen is the length of s escaped, without the quotes.
func escapedLen(s string) int {
	total := 0
	for i := 0; i < len(s); {
		raw, esc := nextUnit(s, i)
		total += esc
		i += raw
	}
	return total
}

// cut returns the longest prefix of s that ends on a rune boundary and whose escaped length
// is at most budget.
func cut(s string, budget int) string {
	used := 0
	for i := 0; i < len(s); {
		raw, esc := nextUnit(s, i)
		if used+esc > budget {
			return s[:i]
		}
		used += esc
		i += raw
	}
	return s
}
