package commerce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// TimeLayout is how Commerce writes timestamps: no zone, UTC (ref §7).
const TimeLayout = "2006-01-02 15:04:05"

// ParseTime parses a Commerce timestamp as UTC; RFC 3339 is accepted too.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation(TimeLayout, s, time.UTC); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("commerce: timestamp %q: want %q", s, TimeLayout)
	}
	return t.UTC(), nil
}

// FormatTime writes t the way Commerce filters expect it.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// object is a JSON object decoded one level deep. PHP's json_encode writes an
// empty associative array as [], so [] is accepted as an empty object.
type object map[string]json.RawMessage

func asObject(raw json.RawMessage) (object, bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	return splitObject(raw)
}

// splitObject is asObject for bytes already known to be valid JSON (the
// members of an object asObject returned): it splits one level of an
// object into its members in a single pass, without decoding or copying
// the values, the way json.Unmarshal into map[string]json.RawMessage would
// (keys unescaped, the last duplicate wins). Webhook decoding needs a few
// scalars from a document of nested arrays; unmarshalling every level
// cost a third of ingest's CPU.
func splitObject(raw []byte) (object, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) {
		return nil, false
	}
	switch raw[i] {
	case '[':
		j := skipSpace(raw, i+1)
		if j < len(raw) && raw[j] == ']' {
			return object{}, true
		}
		return nil, false
	case '{':
	default:
		return nil, false
	}
	o := object{}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return o, true
	}
	for i < len(raw) {
		kEnd := skipString(raw, i)
		if kEnd < 0 {
			return nil, false
		}
		key, ok := memberKey(raw[i:kEnd])
		if !ok {
			return nil, false
		}
		i = skipSpace(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		vStart := skipSpace(raw, i+1)
		vEnd := skipValue(raw, vStart)
		if vEnd < 0 {
			return nil, false
		}
		o[key] = json.RawMessage(raw[vStart:vEnd])
		i = skipSpace(raw, vEnd)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return o, true
		default:
			return nil, false
		}
	}
	return nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := skipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[j])) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// memberKey unquotes an object key; plain ASCII keys (all of Commerce's)
// take the fast path, anything else goes through encoding/json so escapes
// and invalid UTF-8 come out exactly as json.Unmarshal would make them.
func memberKey(quoted []byte) (string, bool) {
	plain := true
	for _, c := range quoted[1 : len(quoted)-1] {
		if c == '\\' || c >= 0x80 || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(quoted[1 : len(quoted)-1]), true
	}
	var k string
	if err := json.Unmarshal(quoted, &k); err != nil {
		return "", false
	}
	return k, true
}

// present reports a key that exists and is not null.
func (o object) present(key string) bool {
	v, ok := o[key]
	return ok && string(bytes.TrimSpace(v)) != "null"
}

func (o object) obj(key string) (object, bool) {
	if !o.present(key) {
		return nil, false
	}
	return splitObject(o[key])
}

// text returns a string, or a number's literal text (PHP models often carry
// numbers where a string is documented and vice versa). ok is false for an
// absent or null key; err is set for other JSON types.
func (o object) text(key string) (s string, ok bool, err error) {
	if !o.present(key) {
		return "", false, nil
	}
	raw := bytes.TrimSpace(o[key])
	switch {
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false, err
		}
		return n.String(), true, nil
	}
	return "", false, fmt.Errorf("is not a string")
}

// str is text without the error: absent, null or non-scalar give "".
func (o object) str(key string) string {
	s, _, _ := o.text(key)
	return strings.TrimSpace(s)
}

// integer accepts an integral JSON number or a numeric string. An absent,
// null or empty-string value gives ok=false.
func (o object) integer(key string) (n int64, ok bool, err error) {
	s, ok, err := o.text(key)
	if err != nil {
		return 0, false, fmt.Errorf("is not an integer")
	}
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return 0, false, nil
	}
	n, err = parseInteger(s)
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

func parseInteger(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return int64(f), nil
}

// int is integer without the error (lenient fields).
func (o object) int(key string) int64 {
	n, _, _ := o.integer(key)
	return n
}

func (o object) decimal(key string) decimal.Decimal {
	s, ok, err := o.text(key)
	if !ok || err != nil {
		return decimal.Decimal{}
	}
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return decimal.Decimal{}
	}
	return d
}

func (o object) time(key string) time.Time {
	s := o.str(key)
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (o object) boolish(key string) bool {
	if !o.present(key) {
		return false
	}
	var b bool
	if json.Unmarshal(o[key], &b) == nil {
		return b
	}
	switch o.str(key) {
	case "1", "true":
		return true
	}
	return false
}

// Flexible scalar types for REST and webhook structs: Commerce sends numbers
// as strings in places (and PHP models almost everywhere).

// Int is an integer that also decodes from a numeric string, "" and null (0).
type Int int64

func (n *Int) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" || s == `""` {
		*n = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var q string
		if err := json.Unmarshal(b, &q); err != nil {
			return err
		}
		s = strings.TrimSpace(q)
		if s == "" {
			*n = 0
			return nil
		}
	}
	v, err := parseInteger(s)
	if err != nil {
		return fmt.Errorf("commerce: %w", err)
	}
	*n = Int(v)
	return nil
}

// Time is a Commerce timestamp ("2006-01-02 15:04:05", UTC). It marshals back
// in the same layout; the zero value marshals as null.
type Time struct{ time.Time }

func (t *Time) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	var q string
	if err := json.Unmarshal(b, &q); err != nil {
		return fmt.Errorf("commerce: timestamp %s is not a string", s)
	}
	v, err := ParseTime(q)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(FormatTime(t.Time))
}

// Bool decodes true/false, 0/1 and "0"/"1".
type Bool bool

func (v *Bool) UnmarshalJSON(b []byte) error {
	switch strings.Trim(strings.TrimSpace(string(b)), `"`) {
	case "true", "1":
		*v = true
	case "false", "0", "", "null":
		*v = false
	default:
		return fmt.Errorf("commerce: %s is not a boolean", b)
	}
	return nil
}
