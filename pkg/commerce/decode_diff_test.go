package commerce

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// The single-pass scanner against the decoder it replaced
// (payload_ref_test.go) and against encoding/json: the same result and the
// same error text for every body, and nothing accepted that json.Valid
// refuses (ingest publishes what the decoder accepted as validated).

// sameDecode fails t when the scanner and the reference disagree on b.
func sameDecode(t *testing.T, b []byte) {
	t.Helper()
	accepted := false
	check := func(name string, got, want any, gotErr, wantErr error) {
		t.Helper()
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%s(%q): error %v, reference %v", name, b, gotErr, wantErr)
		}
		if gotErr != nil && !errors.Is(gotErr, ErrMalformed) {
			t.Fatalf("%s(%q): error without ErrMalformed: %v", name, b, gotErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s(%q):\n got %+v\nwant %+v", name, b, got, want)
		}
		accepted = accepted || gotErr == nil
	}
	o, err := DecodeOrderPlaced(b)
	ro, rerr := refDecodeOrderPlaced(b)
	check("DecodeOrderPlaced", o, ro, err, rerr)
	i, err := DecodeInvoiceSaved(b)
	ri, rerr := refDecodeInvoiceSaved(b)
	check("DecodeInvoiceSaved", i, ri, err, rerr)
	c, err := DecodeCustomerCreated(b)
	rc, rerr := refDecodeCustomerCreated(b)
	check("DecodeCustomerCreated", c, rc, err, rerr)
	for _, f := range []struct {
		name      string
		got, want func([]byte) (json.RawMessage, string, string, error)
	}{{"OrderRecord", OrderRecord, refOrderRecord}, {"InvoiceRecord", InvoiceRecord, refInvoiceRecord},
		{"CustomerRecord", CustomerRecord, refCustomerRecord}} {
		rec, path, ev, err := f.got(b)
		rrec, rpath, rev, rerr := f.want(b)
		check(f.name, []any{string(rec), path, ev}, []any{string(rrec), rpath, rev}, err, rerr)
		if err == nil && !aliases(rec, b) {
			t.Fatalf("%s(%q): record %q does not alias the body", f.name, b, rec)
		}
	}
	e, err := DecodeIOEvent(b)
	re, rerr := refDecodeIOEvent(b)
	check("DecodeIOEvent", e, re, err, rerr)
	if err == nil {
		sameIOValue(t, e, re)
	}
	// The record readers on any data.value, valid JSON or not.
	sameIOValue(t, IOEvent{Type: "com.adobe.commerce.observer.x", Value: b}, IOEvent{Type: "com.adobe.commerce.observer.x", Value: b})
	if accepted && !json.Valid(b) {
		t.Fatalf("accepted a body json.Valid refuses: %q", b)
	}
	if isEmptyObject(b) != refIsEmptyObject(b) {
		t.Fatalf("isEmptyObject(%q) = %v", b, isEmptyObject(b))
	}
}

// aliases reports that sub lies inside b's memory.
func aliases(sub, b []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return false
	}
	s, start := uintptr(unsafe.Pointer(unsafe.SliceData(sub))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return s >= start && s+uintptr(len(sub)) <= start+uintptr(len(b))
}

func refIsEmptyObject(b []byte) bool {
	o, ok := refAsObject(b)
	return ok && len(o) == 0
}

func sameIOValue(t *testing.T, e, re IOEvent) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want func() (any, error)
	}{
		{"Order", func() (any, error) { return e.Order() }, func() (any, error) { return refIOOrder(re) }},
		{"Invoice", func() (any, error) { return e.Invoice() }, func() (any, error) { return refIOInvoice(re) }},
		{"Customer", func() (any, error) { return e.Customer() }, func() (any, error) { return refIOCustomer(re) }},
	} {
		got, err := f.got()
		want, rerr := f.want()
		if (err == nil) != (rerr == nil) || err != nil && err.Error() != rerr.Error() || !reflect.DeepEqual(got, want) {
			t.Fatalf("IOEvent.%s(%q): %+v %v, reference %+v %v", f.name, e.Value, got, err, want, rerr)
		}
	}
}

// hostileBodies are the edges the fuzz starts from besides the simulator's
// bodies: nesting at and past encoding/json's 10,000 limit, numbers beyond
// int64 and float64, invalid UTF-8 in keys and values, duplicate keys,
// truncation, NUL, BOM, odd whitespace and escapes.
func hostileBodies(tb testing.TB) [][]byte {
	tb.Helper()
	order := simBodies(tb)[0].body
	for _, sb := range simBodies(tb) {
		if sb.kind == "order" && sb.shape == "observer" {
			order = sb.body
			break
		}
	}
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	s := []string{
		// Nesting: the order's member is at depth 3 (body, data, order).
		`{"data":{"order":{"increment_id":"1","x":` + deep(9997) + `}}}`,
		`{"data":{"order":{"increment_id":"1","x":` + deep(9998) + `}}}`,
		`{"order":{"increment_id":"1","x":[` + strings.Repeat(`{"a":`, 9997) + `1` + strings.Repeat(`}`, 9997) + `]}}`,
		`{"order":{"increment_id":"1","x":[` + strings.Repeat(`{"a":`, 9998) + `1` + strings.Repeat(`}`, 9998) + `]}}`,
		deep(10000), deep(10001), strings.Repeat("[", 70) + "{}" + strings.Repeat("]", 70),
		// Numbers.
		`{"order":{"increment_id":1e400,"store_id":9223372036854775808,"entity_id":-9223372036854775808}}`,
		`{"order":{"increment_id":"1","customer_id":9007199254740993,"entity_id":"9007199254740992","store_id":1.0e1}}`,
		`{"order":{"increment_id":-0,"grand_total":123456789012345678901234567890.123456789e-5}}`,
		`{"order":{"increment_id":"1","grand_total":1E+2}}`, `{"order":{"increment_id":01}}`, `{"order":{"increment_id":-}}`,
		`{"order":{"increment_id":1.}}`, `{"order":{"increment_id":.5}}`, `{"order":{"increment_id":+1}}`,
		`{"invoice":{"increment_id":"1","state":"+2"}}`, `{"invoice":{"increment_id":"1","state":" 2 "}}`,
		`{"invoice":{"increment_id":"1","state":1001}}`, `{"invoice":{"increment_id":"1","state":-1}}`,
		`{"customer":{"id":"0x10"}}`, `{"customer":{"id":"1_000"}}`, `{"customer":{"id":1e3,"email":""}}`,
		// UTF-8 and escapes.
		"{\"order\":{\"increment_id\":\"\xff\"}}", "{\"order\":{\"increment_id\":\"a\xc3\"}}",
		"{\"order\":{\"increment_id\":\"\xed\xa0\x80\"}}", "{\"or\xffder\":{\"increment_id\":\"1\"}}",
		"{\"data\":{\"order\":{\"increment_id\":\"1\",\"\xff\":1,\"\xfe\":2}}}",
		`{"order":{"increment_id":"\ud83d\ude00","customer_email":"\udc00x","state":"\ud800\u0041"}}`,
		`{"order":{"increment_id":"\u0031\u0032","status":"a\/b\"c\\d\b\f\n\r\t","state":"\u00e9"}}`,
		`{"order":{"increment_id":"\u00a0 7 \u2003"}}`, `{"order":{"increment_id":"\x"}}`, `{"order":{"increment_id":"\u12"}}`,
		`{"order":{"increment_id":"1"},"\u0072esult":{"increment_id":"2"}}`,
		// Duplicate keys: the last counts, in any spelling.
		`{"data":{"order":{"increment_id":"1"}},"data":{"order":{"increment_id":"2"}}}`,
		`{"data":{"order":{"increment_id":"1","store_id":3}},"d\u0061ta":{"order":{"increment_id":"2"}}}`,
		`{"data":{"order":{"increment_id":"1"}},"data":null}`, `{"data":{"order":{"increment_id":"1"}},"data":[]}`,
		`{"data":{"order":5,"order":{"increment_id":"3"}}}`, `{"data":{"order":{"increment_id":"3"},"order":5},"order":{"increment_id":"4"}}`,
		`{"order":{"increment_id":"1","increment_id":null}}`, `{"order":{"increment_id":"1","increment_id":"2","store_id":1,"store_id":"x"}}`,
		`{"eventName":"a","eventName":"b","order":{"increment_id":"1"}}`,
		`{"invoice":{"increment_id":"1","state":2,"order":{"increment_id":"9"},"order":{"entity_id":1}}}`,
		`{"invoice":{"increment_id":"1","state":2,"order":{"increment_id":"9","increment_id":"10"}}}`,
		`{"id":"1","type":"t","data":{"value":{}},"data":{"key":"k"}}`,
		`{"id":"1","type":"t","data":{"value":{"increment_id":"1"},"value":[],"_metadata":{"storeId":1},"_metadata":{"websiteId":2}}}`,
		// NUL, BOM, whitespace.
		"{\"order\":{\"increment_id\":\"1\"}}\x00", "{\"order\":{\"increment_id\":\"1\x00\"}}", "\x00",
		"\xef\xbb\xbf{\"order\":{\"increment_id\":\"1\"}}", "\f{\"order\":{\"increment_id\":\"1\"}}",
		" \t\r\n{ \"order\" : { \"increment_id\" : \"1\" , \"store_id\" : [ ] } } \n", "{\"order\":{\"increment_id\":\"1\"}}\v",
		"{\"order\":{\"increment_id\":\"1\"}} {}", "{\"order\":[ \n ]}", "{\"order\":[\f]}",
		// Invalid JSON after or around a complete record.
		`{"order":{"increment_id":"1","items":[1,2,]}}`, `{"order":{"increment_id":"1","x":"\q"}}`,
		`{"order":{"increment_id":"1","x":tru}}`, `{"order":{"increment_id":"1","x":nulls}}`, `{"order":{"increment_id":"1"},}`,
		`{"order":{"increment_id":"1"}`, `{"order":{"increment_id":"1"}}}`, `{"order":{"increment_id":"1" "x":1}}`,
		`{"order":{"increment_id":"1",x:1}}`, `{"order" {"increment_id":"1"}}`, `{"order":{"increment_id":"1"]}`,
		`{"id":"1","type":"t","data":{"value":{}}}]`, "",
	}
	out := make([][]byte, 0, len(s)+8)
	for _, x := range s {
		out = append(out, []byte(x))
	}
	for _, n := range []int{1, 2, len(order) / 2, len(order) - 2, len(order) - 1} {
		out = append(out, order[:n])
	}
	return out
}

// seedDiff adds the simulator's bodies and the hostile ones, and returns
// what it added.
func seedDiff(f *testing.F) [][]byte {
	var all [][]byte
	for _, sb := range simBodies(f) {
		all = append(all, sb.body)
	}
	all = append(all, hostileBodies(f)...)
	for _, s := range []string{phpBody, ioBody} {
		all = append(all, []byte(s))
	}
	var seeds [][]byte
	for _, b := range all {
		// The 10,000-deep bodies (20-60 KB) are TestDecodeMatchesReference's:
		// mutating them slows the fuzzer several times over.
		if len(b) <= 8<<10 {
			f.Add(b)
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func TestDecodeMatchesReference(t *testing.T) {
	n := 0
	for _, sb := range simBodies(t) {
		sameDecode(t, sb.body)
		// Every simulator body is decoded by its own decoder.
		var err error
		switch sb.kind {
		case "order":
			_, err = DecodeOrderPlaced(sb.body)
		case "invoice":
			_, err = DecodeInvoiceSaved(sb.body)
		case "customer":
			_, err = DecodeCustomerCreated(sb.body)
		case "io":
			_, err = DecodeIOEvent(sb.body)
		}
		if err != nil {
			t.Errorf("%s %s: %v", sb.kind, sb.shape, err)
		}
		n++
	}
	for _, b := range hostileBodies(t) {
		sameDecode(t, b)
		n++
	}
	t.Logf("%d bodies agree", n)
}

// Duplicate keys: the last occurrence counts, whatever its type and however
// its key is spelled (escapes are resolved first), at every level, as with
// encoding/json and the decoder before the scanner. A later non-object
// hides an earlier record.
func TestDecodeDuplicateKeys(t *testing.T) {
	cases := []struct{ body, inc, why string }{
		{`{"data":{"order":{"increment_id":"1"}},"data":{"order":{"increment_id":"2"}}}`, "2", ""},
		{`{"data":{"order":{"increment_id":"1","store_id":3}},"d\u0061ta":{"order":{"increment_id":"2"}}}`, "2", ""},
		{`{"data":{"order":{"increment_id":"1"},"order":{"increment_id":"2"}}}`, "2", ""},
		{`{"order":{"increment_id":"1","increment_id":"2"}}`, "2", ""},
		{`{"data":{"order":5,"order":{"increment_id":"3"}}}`, "3", ""},
		{`{"data":{"order":{"increment_id":"3"},"order":5},"order":{"increment_id":"4"}}`, "4", ""},
		{`{"order":{"increment_id":"1","increment_id":null}}`, "", "order.increment_id missing"},
		{`{"data":{"order":{"increment_id":"1"}},"data":null}`, "", "no record object"},
	}
	for _, c := range cases {
		o, err := DecodeOrderPlaced([]byte(c.body))
		switch {
		case c.why == "" && (err != nil || o.IncrementID != c.inc):
			t.Errorf("%s: %+v %v, want increment_id %s", c.body, o, err, c.inc)
		case c.why != "" && (err == nil || !strings.Contains(err.Error(), c.why)):
			t.Errorf("%s: %v, want %q", c.body, err, c.why)
		}
		if o.StoreID != 0 {
			t.Errorf("%s: store_id %d leaked from the replaced record", c.body, o.StoreID)
		}
	}
	inv, err := DecodeInvoiceSaved([]byte(`{"invoice":{"increment_id":"1","state":2,"order":{"increment_id":"9"},"order":{"entity_id":1}}}`))
	if err != nil || inv.OrderIncrementID != "" {
		t.Errorf("nested order replaced by one without increment_id: %+v %v", inv, err)
	}
	ev, err := DecodeIOEvent([]byte(`{"id":"1","type":"t","data":{"value":{},"_metadata":{"storeId":1}},"data":{"value":{"a":1}}}`))
	if err != nil || string(ev.Value) != `{"a":1}` || ev.Metadata.StoreID != 0 {
		t.Errorf("second data: %+v %v", ev, err)
	}
}

// Whatever a body holds before its error, a body that is not JSON is
// refused as one: ingest stores what the decoder accepted without another
// scan.
func TestDecodeRefusesInvalidJSON(t *testing.T) {
	valid := `{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"1","x":%s}}}`
	for _, bad := range []string{`[1,]`, `"\q"`, `tru`, "\"a\x01\"", `01`, `1.`, `-`, `{"a" 1}`, `{"a":1,}`, `[1 2]`,
		strings.Repeat("[", 9998) + strings.Repeat("]", 9998), `"\ud8"`, `nul`, `{]`} {
		body := []byte(strings.Replace(valid, "%s", bad, 1))
		if json.Valid(body) {
			t.Fatalf("test body is valid JSON: %.80q", body)
		}
		if _, err := DecodeOrderPlaced(body); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "body is not a JSON object") {
			t.Errorf("%.80q: %v", bad, err)
		}
	}
	for _, tail := range []string{",", " x", "\x00", "{}", "\f"} {
		body := []byte(strings.Replace(valid, "%s", "1", 1) + tail)
		if _, err := DecodeOrderPlaced(body); err == nil {
			t.Errorf("accepted trailing %q", tail)
		}
	}
	ok := []byte(strings.Replace(valid, "%s", strings.Repeat("[", 9997)+strings.Repeat("]", 9997), 1))
	if _, err := DecodeOrderPlaced(ok); err != nil || !json.Valid(ok) {
		t.Errorf("10,000 deep (encoding/json's limit) refused: %v", err)
	}
}

// go test -run x -fuzz FuzzDecodeDiff -fuzztime 60s ./commerce/
func FuzzDecodeDiff(f *testing.F) {
	seedDiff(f)
	f.Fuzz(func(t *testing.T, b []byte) { sameDecode(t, b) })
}

// The scanner's grammar is json.Valid's, byte for byte.
//
// go test -run x -fuzz FuzzScanValid -fuzztime 60s ./commerce/
func FuzzScanValid(f *testing.F) {
	for _, b := range seedDiff(f) {
		// Members alone too, so mutations reach scalars at the top level.
		if rec, _, _, err := refOrderRecord(b); err == nil {
			f.Add([]byte(rec))
		}
	}
	for _, s := range []string{`0`, `-0.0e-0`, `1E+2`, `"\u0000"`, `[[],{}]`, `{"":""}`, ` null `, `true`, `fals`, "\"\x7f\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := skipValue(b, skipSpace(b, 0), 0)
		got := end >= 0 && skipSpace(b, end) == len(b)
		if want := json.Valid(b); got != want {
			t.Fatalf("scanner says valid=%v, json.Valid %v: %q", got, want, b)
		}
		if got && b[skipSpace(b, 0)] == '"' {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			q := bytes.TrimSpace(b)
			if u := unquote(q[1 : len(q)-1]); string(u) != s {
				t.Fatalf("unquote(%q) = %q, json.Unmarshal %q", q, u, s)
			}
		}
	})
}

// Strings alone: unquote is json.Unmarshal's string decoding.
//
// go test -run x -fuzz FuzzUnquote -fuzztime 60s ./commerce/
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`plain`, `\ud83d\ude00`, `\ud83d`, `\udc00\ud83d\ude00`, `\ud800\u0041`, `\ud800\ud800\udc00`,
		`a\/b\"c\\d\b\f\n\r\t`, "\xff\xfe", "a\xc3", "\xed\xa0\x80", "\xef\xbf\xbd", `\u0000`, `\uFFFF`, "é\u2028"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		q := append(append([]byte{'"'}, s...), '"')
		valid := scanString(q, 0) == len(q)
		var want string
		if err := json.Unmarshal(q, &want); (err == nil) != valid {
			t.Fatalf("scanString(%q) valid=%v, json.Unmarshal: %v", q, valid, err)
		}
		if valid {
			if got := unquote(s); string(got) != want {
				t.Fatalf("unquote(%q) = %q, json.Unmarshal %q", s, got, want)
			}
		}
	})
}
