package commerce

import (
	"bytes"
	"encoding/json"
	"errors"
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

// value is a member's JSON value as it sits in a validated body (no
// surrounding whitespace); nil when the member is absent.
type value []byte

// present reports a member that exists and is not null.
func (v value) present() bool { return len(v) > 0 && v[0] != 'n' }

// isObject reports an object, or PHP's empty array [] (json_encode writes
// an empty associative array so).
func (v value) isObject() bool {
	if len(v) == 0 {
		return false
	}
	return v[0] == '{' || v[0] == '[' && v[skipSpace(v, 1)] == ']'
}

// isEmptyObject reports that b is {} or [] (valid JSON, whitespace
// allowed): PHP's rendering of an empty object where one is expected.
func isEmptyObject(b []byte) bool {
	members := 0
	end, isObj := walkObject(b, skipSpace(b, 0), 0, func(_ []byte, v int) int {
		members++
		return skipValue(b, v, 1)
	})
	return end >= 0 && isObj && members == 0 && skipSpace(b, end) == len(b)
}

var errNotString = errors.New("is not a string")

// scalar returns a string's unescaped contents, or a number's literal text
// (PHP models often carry numbers where a string is documented and vice
// versa), without copying unless the string has escapes. ok is false for
// an absent or null member; err is set for other JSON types.
func (v value) scalar() (b []byte, ok bool, err error) {
	if !v.present() {
		return nil, false, nil
	}
	switch c := v[0]; {
	case c == '"':
		return unquote(v[1 : len(v)-1]), true, nil
	case c == '-' || '0' <= c && c <= '9':
		return v, true, nil
	}
	return nil, false, errNotString
}

// text is scalar as a string.
func (v value) text() (string, bool, error) {
	b, ok, err := v.scalar()
	return string(b), ok, err
}

// str is text without the error, trimmed: absent, null or non-scalar give "".
func (v value) str() string {
	b, _, _ := v.scalar()
	return string(bytes.TrimSpace(b))
}

// integer accepts an integral JSON number or a numeric string. An absent,
// null or empty-string value gives ok=false.
func (v value) integer() (n int64, ok bool, err error) {
	b, ok, err := v.scalar()
	if err != nil {
		return 0, false, fmt.Errorf("is not an integer")
	}
	b = bytes.TrimSpace(b)
	if !ok || len(b) == 0 {
		return 0, false, nil
	}
	if n, ok := plainInteger(b); ok {
		return n, true, nil
	}
	n, err = parseInteger(string(b))
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

// plainInteger parses -?[0-9]{1,18} (every id Commerce sends) without the
// string parseInteger needs; anything else is left to parseInteger.
func plainInteger(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
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
func (v value) int() int64 {
	n, _, _ := v.integer()
	return n
}

func (v value) decimal() decimal.Decimal {
	b, ok, err := v.scalar()
	if !ok || err != nil {
		return decimal.Decimal{}
	}
	d, err := decimal.NewFromString(string(bytes.TrimSpace(b)))
	if err != nil {
		return decimal.Decimal{}
	}
	return d
}

func (v value) time() time.Time {
	s := v.str()
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// boolish reads true/false, and 1 or "1" or "true" as true.
func (v value) boolish() bool {
	if !v.present() {
		return false
	}
	switch string(v) {
	case "true":
		return true
	case "false":
		return false
	}
	b, _, _ := v.scalar()
	switch string(bytes.TrimSpace(b)) {
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
