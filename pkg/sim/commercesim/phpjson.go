package commercesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// KV is one member of an Object.
type KV struct {
	Key   string
	Value any
}

// Object is a JSON object that keeps its key order, the way a PHP associative
// array does. Webhook bodies are built from Objects so their bytes look like
// the module's.
type Object []KV

// Get returns the value stored under key.
func (o Object) Get(key string) (any, bool) {
	for _, kv := range o {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// PHPJSON encodes v like PHP's json_encode with default flags: "/" is escaped
// as "\/", every non-ASCII character as \uXXXX (surrogate pairs above U+FFFF),
// no whitespace, an empty object (Object or map) as [], floats in the shortest
// round-trip form with a ".0" on integral values. Invalid UTF-8 is an error,
// as json_encode fails on it.
//
// Supported values: nil, bool, string, all int and float kinds, json.Number,
// decimal.Decimal (written as a float), Object, map[string]T (keys sorted),
// slices and arrays. Other types (structs) are first encoded with
// encoding/json and then re-encoded.
func PHPJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := phpEncode(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func phpEncode(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		return phpString(b, x)
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return fmt.Errorf("phpjson: invalid number %q", string(x))
		}
		b.WriteString(string(x))
	case decimal.Decimal:
		f, _ := x.Float64()
		return phpFloat(b, f)
	case float64:
		return phpFloat(b, x)
	case float32:
		return phpFloat(b, float64(x))
	case int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case Object:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('{')
		for i, kv := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := phpString(b, kv.Key); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := phpEncode(b, kv.Value); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := make(Object, 0, len(keys))
		for _, k := range keys {
			o = append(o, KV{k, x[k]})
		}
		return phpEncode(b, o)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := phpEncode(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	default:
		return phpReflect(b, v)
	}
	return nil
}

func phpReflect(b *bytes.Buffer, v any) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(rv.Int(), 10))
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString(strconv.FormatUint(rv.Uint(), 10))
		return nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			b.WriteString("[]")
			return nil
		}
		items := make([]any, rv.Len())
		for i := range items {
			items[i] = rv.Index(i).Interface()
		}
		return phpEncode(b, items)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		m := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			m[iter.Key().String()] = iter.Value().Interface()
		}
		return phpEncode(b, m)
	case reflect.Pointer:
		if rv.IsNil() {
			b.WriteString("null")
			return nil
		}
		return phpEncode(b, rv.Elem().Interface())
	case reflect.String:
		return phpString(b, rv.String())
	case reflect.Bool:
		return phpEncode(b, rv.Bool())
	case reflect.Float32, reflect.Float64:
		return phpFloat(b, rv.Float())
	}
	// Structs and anything else: go through encoding/json, keep numbers exact.
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("phpjson: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return fmt.Errorf("phpjson: %w", err)
	}
	return phpEncode(b, generic)
}

const hexDigits = "0123456789abcdef"

func phpString(b *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("phpjson: malformed UTF-8 characters, possibly incorrectly encoded")
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '/':
			b.WriteString(`\/`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			writeU(b, r)
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			writeU(b, r1)
			writeU(b, r2)
		default:
			writeU(b, r)
		}
	}
	b.WriteByte('"')
	return nil
}

func writeU(b *bytes.Buffer, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xf])
	b.WriteByte(hexDigits[r>>8&0xf])
	b.WriteByte(hexDigits[r>>4&0xf])
	b.WriteByte(hexDigits[r&0xf])
}

// phpFloat writes f the way PHP >= 7.1 does with serialize_precision=-1:
// shortest round-trip digits, ".0" on integral values, exponent form
// ("1.0e+25", "1.0e-5") outside 1e-4 <= |f| < 1e17.
func phpFloat(b *bytes.Buffer, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("phpjson: inf and nan cannot be JSON encoded")
	}
	if f == 0 {
		if math.Signbit(f) {
			b.WriteString("-0.0")
		} else {
			b.WriteString("0.0")
		}
		return nil
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. -1.2345e+02
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	decpt := exp + 1
	if decpt < -3 || decpt > 17 {
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		b.WriteString(mant)
		b.WriteByte('e')
		if exp >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(exp))
		return nil
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	b.WriteString(s)
	return nil
}
