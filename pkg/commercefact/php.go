package commercefact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/commerce"
)

// Tolerant JSON scalars for PHP-encoded model data (webhook bodies and I/O
// Events values). PHP writes numbers where strings are documented and the
// other way round, floats for integers ("1.0"), false or [] for "no
// value", and an empty associative array as []. Each type records whether
// its key was present at all (set), which is how a reader tells "this
// shape does not carry the field" from "the field is empty".

// maxLiteral bounds a scalar's literal: a price with a thousand digits is
// an attack, not an order.
const maxLiteral = 64

// errNotScalar is wrapped by the scalar types; the reader prefixes the
// record's path.
var errNotScalar = errors.New("unexpected JSON value")

func trimmed(b []byte) []byte { return bytes.TrimSpace(b) }

// empty reports PHP's ways of writing "no value": null, false, "" and [].
func empty(b []byte) bool {
	switch string(b) {
	case "null", "false", `""`, "[]":
		return true
	}
	return len(b) >= 2 && b[0] == '[' && b[len(b)-1] == ']' && len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}

// plainString returns the contents of a JSON string without escapes;
// ok is false for anything else (which then goes through encoding/json).
// Most of a Commerce record is such strings, and a nested json.Unmarshal
// per field would re-validate every value.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	inner := b[1 : len(b)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return "", false
	}
	return string(inner), true
}

func isNumber(b []byte) bool { return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) }

func short(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// text is a string that also takes a number's literal text.
type text struct {
	v   string
	set bool
}

func (t *text) UnmarshalJSON(b []byte) error {
	t.set = true
	b = trimmed(b)
	switch {
	case empty(b):
		t.v = ""
	case b[0] == '"':
		if v, ok := plainString(b); ok {
			t.v = v
			return nil
		}
		return json.Unmarshal(b, &t.v)
	case isNumber(b):
		t.v = string(b)
	default:
		return fmt.Errorf("%w: %s is not a string", errNotScalar, short(b))
	}
	return nil
}

// ident is an identifier-like text: trimmed, bounded.
func (t text) ident() string { return strings.TrimSpace(t.v) }

// amount is a decimal from a JSON number or a numeric string; empty values
// are zero.
type amount struct {
	v   decimal.Decimal
	set bool
}

func (a *amount) UnmarshalJSON(b []byte) error {
	a.set = true
	b = trimmed(b)
	if empty(b) {
		a.v = decimal.Decimal{}
		return nil
	}
	lit := b
	if b[0] == '"' {
		s, ok := plainString(b)
		if !ok {
			if err := json.Unmarshal(b, &s); err != nil {
				return err
			}
		}
		lit = []byte(strings.TrimSpace(s))
		if len(lit) == 0 {
			a.v = decimal.Decimal{}
			return nil
		}
	}
	d, err := parseAmount(lit)
	if err != nil {
		return err
	}
	a.v = d
	return nil
}

// Bounds of an amount: Commerce stores money as decimal(20,4) and
// quantities as decimal(12,4); anything far outside is not a real record
// and would make decimal arithmetic explode (1e2000000000).
const (
	maxScale    = 12
	maxExponent = 18
)

func parseAmount(lit []byte) (decimal.Decimal, error) {
	if len(lit) > maxLiteral || !isNumber(lit) {
		return decimal.Decimal{}, fmt.Errorf("%w: %q is not a number", errNotScalar, short(lit))
	}
	d, err := decimal.NewFromString(string(lit))
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%w: %q is not a number", errNotScalar, short(lit))
	}
	return canon(d)
}

// canon normalises d (so equal amounts are DeepEqual) and checks it is in
// range.
func canon(d decimal.Decimal) (decimal.Decimal, error) {
	d = d.Normalize()
	if e := d.Exponent(); e < -maxScale || e > maxExponent || d.NumDigits()+int(e) > maxExponent {
		return decimal.Decimal{}, fmt.Errorf("%w: %s is out of range", errNotScalar, clip(d.ScientificNotationString()))
	}
	return d, nil
}

// ident64 is an integer id: a number, a numeric string or an integral float.
type ident64 struct {
	v   int64
	set bool
}

func (n *ident64) UnmarshalJSON(b []byte) error {
	n.set = true
	b = trimmed(b)
	if empty(b) {
		n.v = 0
		return nil
	}
	if len(b) > maxLiteral {
		return fmt.Errorf("%w: %s is not an id", errNotScalar, short(b))
	}
	var v commerce.Int
	if err := v.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("%w: %s is not an id", errNotScalar, short(b))
	}
	if v < 0 {
		return fmt.Errorf("%w: id %d is negative", errNotScalar, v)
	}
	n.v = int64(v)
	return nil
}

// when is a Commerce timestamp.
type when struct {
	v   time.Time
	set bool
}

func (w *when) UnmarshalJSON(b []byte) error {
	w.set = true
	b = trimmed(b)
	if empty(b) {
		w.v = time.Time{}
		return nil
	}
	s, ok := plainString(b)
	if !ok {
		var t commerce.Time
		if err := t.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("%w: %s is not a timestamp", errNotScalar, short(b))
		}
		w.v = t.Time
		return nil
	}
	t, err := commerce.ParseTime(s)
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return fmt.Errorf("%w: %s is not a timestamp", errNotScalar, short(b))
	}
	w.v = t
	return nil
}

// known reports a present, non-empty timestamp.
func (w when) known() bool { return w.set && !w.v.IsZero() }

// flag is a boolean: true/false, 0/1, "0"/"1".
type flag struct {
	v   bool
	set bool
}

func (f *flag) UnmarshalJSON(b []byte) error {
	f.set = true
	b = trimmed(b)
	if string(b) == "null" || string(b) == "[]" {
		f.v = false
		return nil
	}
	var v commerce.Bool
	if err := v.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("%w: %s is not a boolean", errNotScalar, short(b))
	}
	f.v = bool(v)
	return nil
}

// street is one string with newline-separated lines (the address model)
// or a list of lines (REST).
type street struct {
	v   []string
	set bool
}

func (s *street) UnmarshalJSON(b []byte) error {
	s.set = true
	b = trimmed(b)
	if empty(b) {
		s.v = nil
		return nil
	}
	if b[0] == '[' {
		var lines []text
		if err := json.Unmarshal(b, &lines); err != nil {
			return fmt.Errorf("%w: street %s is not a list of lines", errNotScalar, short(b))
		}
		s.v = nil
		for _, l := range lines {
			s.v = append(s.v, l.v)
		}
		return nil
	}
	var one text
	if err := one.UnmarshalJSON(b); err != nil {
		return err
	}
	s.v = splitStreet(one.v)
	return nil
}

// splitStreet splits the address model's street on newlines.
func splitStreet(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	return lines
}

// region is an order address's region name, or a customer address's
// region object {region_code, region, region_id}.
type region struct {
	name, code string
	id         int64
	codeSet    bool
}

func (r *region) UnmarshalJSON(b []byte) error {
	b = trimmed(b)
	if empty(b) {
		*r = region{}
		return nil
	}
	if b[0] != '{' {
		var t text
		if err := t.UnmarshalJSON(b); err != nil {
			return err
		}
		*r = region{name: t.v}
		return nil
	}
	var o struct {
		Code text    `json:"region_code"`
		Name text    `json:"region"`
		ID   ident64 `json:"region_id"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*r = region{name: o.Name.v, code: o.Code.v, id: o.ID.v, codeSet: o.Code.set}
	return nil
}

// list is a JSON array that also takes PHP's encoding of a non-sequential
// array, an object {"0":…,"3":…} (values in document order), and null.
type list[T any] struct {
	v   []T
	set bool
}

func (l *list[T]) UnmarshalJSON(b []byte) error {
	l.set = true
	l.v = nil
	b = trimmed(b)
	switch {
	case string(b) == "null" || string(b) == "false":
		return nil
	case b[0] == '[':
		// Elements are objects (fast), or PHP's [] for an empty one.
		if err := json.Unmarshal(b, &l.v); err == nil {
			return nil
		}
		l.v = nil
		var elems []object[T]
		if err := json.Unmarshal(b, &elems); err != nil {
			return err
		}
		for _, e := range elems {
			l.v = append(l.v, e.v)
		}
		return nil
	case b[0] != '{':
		return fmt.Errorf("%w: %s is not a list", errNotScalar, short(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // key
			return err
		}
		var e object[T]
		if err := dec.Decode(&e); err != nil {
			return err
		}
		l.v = append(l.v, e.v)
	}
	return nil
}

// object is a JSON object that also takes PHP's [] for an empty one.
type object[T any] struct {
	v   T
	set bool
}

func (o *object[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	var zero T
	o.v = zero
	b = trimmed(b)
	if empty(b) {
		return nil
	}
	if b[0] != '{' {
		return fmt.Errorf("%w: %s is not an object", errNotScalar, short(b))
	}
	return json.Unmarshal(b, &o.v)
}
