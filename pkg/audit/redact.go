package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
)

// Redacted replaces a secret value in a mirrored header or payload.
const Redacted = "[redacted]"

// What counts as a secret. Credentials live only in mlc_credentials
// (encrypted, never on a stream), so a secret reaching a stream is a
// producer's mistake: an Authorization header copied from a request, a
// Commerce customer payload with password_hash or rp_token, a card number.
// The mirror is the last line: a header or member whose name, lower-cased
// without '-', '_', '.' and spaces, contains password, passwd, passphrase,
// secret, token, apikey, privatekey, authorization, cookie, credential,
// signature, protectcode, ccnumber, cardnumber, cvv or cccid loses its value.

// secretName reports whether a header or JSON key names a secret.
func secretName(name string) bool {
	if len(name) > 128 {
		return false
	}
	var buf [128]byte
	return secretNameBytes(append(buf[:0], name...))
}

// secretNameBytes is secretName of a name's bytes; it allocates nothing
// (every member name of every mirrored body goes through it).
func secretNameBytes(name []byte) bool {
	if len(name) < 3 || len(name) > 128 {
		return false // no secret name is that short; longer is not a name
	}
	var buf [128]byte
	n := buf[:0]
	for _, c := range name {
		switch {
		case c == '-' || c == '_' || c == ' ' || c == '.':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		n = append(n, c)
	}
	has := func(i int, w string) bool { return len(n)-i >= len(w) && string(n[i:i+len(w)]) == w }
	for i := range n {
		switch n[i] {
		case 'p':
			if has(i, "passw") || has(i, "passphrase") || has(i, "privatekey") || has(i, "protectcode") {
				return true
			}
		case 's':
			if has(i, "secret") || has(i, "signature") {
				return true
			}
		case 't':
			if has(i, "token") {
				return true
			}
		case 'a':
			if has(i, "apikey") || has(i, "authorization") {
				return true
			}
		case 'c':
			if has(i, "cookie") || has(i, "credential") || has(i, "ccnumber") || has(i, "cardnumber") || has(i, "cvv") || has(i, "cccid") {
				return true
			}
		}
	}
	return false
}

// redactJSON returns b with the value of every object member whose name
// looks like a secret replaced by "[redacted]", at any depth; every other
// byte is kept. A top-level data_base64 member (CloudEvents binary data) is
// decoded, redacted the same way and re-encoded. changed reports whether
// anything was replaced. b that is not JSON is returned unchanged.
func redactJSON(b []byte) (out []byte, changed bool) {
	return redactJSONAt(b, true)
}

func redactJSONAt(b []byte, top bool) (out []byte, changed bool) {
	if !json.Valid(b) {
		return b, false
	}
	return redactValid(b, top)
}

// redactValid is redactJSON of b already known to be valid JSON (a body
// event.Decode accepted): the validation pass is the expensive half.
func redactValid(b []byte, top bool) (out []byte, changed bool) {
	spans := secretSpans(b, top)
	if len(spans) == 0 {
		return b, false
	}
	var buf bytes.Buffer
	buf.Grow(len(b))
	last := 0
	for _, s := range spans {
		buf.Write(b[last:s.start])
		buf.WriteString(s.replace)
		last = s.end
	}
	buf.Write(b[last:])
	return buf.Bytes(), true
}

type span struct {
	start, end int
	replace    string
}

// secretSpans returns the byte ranges of secret values in b, in order.
// b must be valid JSON: then a string followed by ':' is a member name, so
// one pass over the bytes finds every name without a full parse (the
// tokenizer of encoding/json is ten times slower, and every mirrored body
// goes through here). top says b is a whole message body.
func secretSpans(b []byte, top bool) []span {
	var spans []span
	depth := 0
	for i := 0; i < len(b); {
		switch b[i] {
		case '{', '[':
			depth++
			i++
		case '}', ']':
			depth--
			i++
		case '"':
			end := stringEnd(b, i)
			j := skipSpace(b, end)
			if j >= len(b) || b[j] != ':' {
				i = end
				continue
			}
			name := memberName(b[i:end])
			b64 := top && depth == 1 && string(name) == "data_base64"
			if !b64 && !secretNameBytes(name) {
				i = end
				continue
			}
			vs := skipSpace(b, j+1)
			ve := valueEnd(b, vs)
			if b64 {
				if s, ok := redactBase64(b[vs:ve]); ok {
					spans = append(spans, span{vs, ve, s})
				}
			} else {
				spans = append(spans, span{vs, ve, `"` + Redacted + `"`})
			}
			i = ve
		default:
			i++
		}
	}
	return spans
}

// memberName decodes a JSON string token (quotes included).
func memberName(tok []byte) []byte {
	if len(tok) < 2 {
		return tok
	}
	if bytes.IndexByte(tok, '\\') < 0 {
		return tok[1 : len(tok)-1]
	}
	var s string
	if json.Unmarshal(tok, &s) != nil {
		return tok
	}
	return []byte(s)
}

// stringEnd is the index after the closing quote of the string at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd is the index after the JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				j = stringEnd(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
		return len(b)
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return len(b)
}

// redactBase64 redacts the JSON inside a data_base64 string; ok is false
// when there is nothing to replace.
func redactBase64(raw []byte) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", false
	}
	red, changed := redactJSONAt(data, false)
	if !changed {
		return "", false
	}
	return `"` + base64.StdEncoding.EncodeToString(red) + `"`, true
}
