package commerce

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// A small validating JSON scanner for webhook bodies. The decoders need a
// dozen scalars from a document of nested arrays, and ingest relies on them
// having validated the whole body (it publishes with stream.DataValidated),
// so one pass does both: walkObject descends into the few objects the
// decoders read, skipValue validates everything else without keeping it.
// Nothing is allocated for the structure; strings are made only for the
// fields a decoder returns.
//
// What is valid is exactly what encoding/json's json.Valid accepts
// (differential-fuzzed against it): RFC 8259's grammar, whitespace only
// space, tab, CR and LF (no BOM), at most 10,000 nested arrays and objects,
// and, like json.Valid, any bytes >= 0x20 inside strings, invalid UTF-8
// included (it becomes U+FFFD when the string is decoded, as json.Unmarshal
// does).

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// walkObject validates the JSON value at b[i] (i past any whitespace,
// depth arrays and objects around it) and returns the index after it, or
// -1 if it is not valid. When the value is an object, or PHP's empty array
// [] (json_encode writes an empty associative array so), isObj is set and
// member is called for every member in order with its unescaped key and
// the index of its value; member must validate the value (at depth+1) and
// return the index after it, or -1. Other values are validated and
// skipped.
func walkObject(b []byte, i, depth int, member func(key []byte, v int) int) (end int, isObj bool) {
	if i >= len(b) {
		return -1, false
	}
	switch b[i] {
	case '{':
	case '[':
		if j := skipSpace(b, i+1); j < len(b) && b[j] == ']' && depth < maxDepth {
			return j + 1, true
		}
		return skipValue(b, i, depth), false
	default:
		return skipValue(b, i, depth), false
	}
	if depth >= maxDepth {
		return -1, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1, false
		}
		kEnd := scanString(b, i)
		if kEnd < 0 {
			return -1, false
		}
		key := b[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			key = unquote(key) // rare: Commerce's keys are plain ASCII
		}
		if i = skipSpace(b, kEnd); i >= len(b) || b[i] != ':' {
			return -1, false
		}
		if i = member(key, skipSpace(b, i+1)); i < 0 {
			return -1, false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return -1, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, true
		default:
			return -1, false
		}
	}
}

// skipValue validates the JSON value at b[i] (i past any whitespace,
// depth arrays and objects around it) and returns the index after it, or
// -1. Nesting is followed with a bit per open container, not recursion,
// so a hostile 10,000-deep body costs no stack.
func skipValue(b []byte, i, depth int) int {
	var open bitStack // true = object, false = array
	n := 0            // containers opened here
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth+n >= maxDepth {
				return -1
			}
			open.set(n, c == '{')
			n++
			i = skipSpace(b, i+1)
			if i < len(b) && (c == '{' && b[i] == '}' || c == '[' && b[i] == ']') {
				i++
				n--
				break // an empty container is a value that ended
			}
			if c == '{' {
				if i = memberValue(b, i); i < 0 {
					return -1
				}
			}
			continue // its first value
		default:
			if i = scanScalar(b, i); i < 0 {
				return -1
			}
		}
		// A value ended at b[i]: close containers until one has a next
		// element.
		for {
			if n == 0 {
				return i
			}
			if i = skipSpace(b, i); i >= len(b) {
				return -1
			}
			obj := open.get(n - 1)
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				if obj {
					if i = memberValue(b, i); i < 0 {
						return -1
					}
				}
				break
			}
			if obj && b[i] != '}' || !obj && b[i] != ']' {
				return -1
			}
			i++
			n--
		}
	}
}

// memberValue validates `"key" :` at b[i] and returns where the value
// starts (past whitespace), or -1.
func memberValue(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// bitStack is one bit per open container: 64 in a word, more (only in
// hostile bodies) in a slice.
type bitStack struct {
	low  uint64
	more []uint64
}

func (s *bitStack) set(n int, v bool) {
	w, bit := &s.low, uint64(1)<<(n%64)
	if n >= 64 {
		k := n/64 - 1
		for len(s.more) <= k {
			s.more = append(s.more, 0)
		}
		w = &s.more[k]
	}
	if v {
		*w |= bit
	} else {
		*w &^= bit
	}
}

func (s *bitStack) get(n int) bool {
	w := s.low
	if n >= 64 {
		w = s.more[n/64-1]
	}
	return w&(uint64(1)<<(n%64)) != 0
}

// scanScalar validates a string, number, true, false or null at b[i].
func scanScalar(b []byte, i int) int {
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '-' || '0' <= c && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return -1
}

func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// scanNumber validates -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? at
// b[i]. What may follow (a delimiter) is the caller's grammar.
func scanNumber(b []byte, i int) int {
	if b[i] == '-' {
		if i++; i >= len(b) {
			return -1
		}
	}
	switch {
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// scanString validates the string at b[i] (b[i] == '"') and returns the
// index after its closing quote, or -1: no control characters, only JSON's
// escapes. Other bytes pass as they are (see the file comment on UTF-8).
func scanString(b []byte, i int) int {
	j := i + 1
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			return j + 1
		case c == '\\':
			if j+1 >= len(b) {
				return -1
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || hex4(b[j+2:j+6]) < 0 {
					return -1
				}
				j += 6
			default:
				return -1
			}
		case c < 0x20:
			return -1
		default:
			j++
		}
	}
	return -1
}

// hex4 decodes four hex digits, or returns -1.
func hex4(h []byte) rune {
	if len(h) < 4 {
		return -1
	}
	var r rune
	for _, c := range h[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquote decodes a valid JSON string's contents (between the quotes) the
// way json.Unmarshal into a string does: escapes resolved, a surrogate
// pair joined, a lone surrogate and every invalid UTF-8 byte made U+FFFD.
// Contents without escapes that are valid UTF-8 (nearly all) are returned
// as they are, not copied.
func unquote(s []byte) []byte {
	if bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s
	}
	out := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			// Validated: an escape is complete.
			switch e := s[i+1]; e {
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s[i+2:])
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						out = utf8.AppendRune(out, d)
						i += 6
						continue
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default: // " \ /
				out = append(out, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r)
			i += size
		}
	}
	return out
}
