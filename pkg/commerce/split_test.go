package commerce

import (
	"bytes"
	"encoding/json"
	"testing"
)

// asObjectStd is the reference decoder's refAsObject (payload_ref_test.go)
// as encoding/json would do it, which keeps that reference, the oracle of
// the scanner's differential fuzz, honest on every input. (Invalid JSON, such
// as a leading form feed that bytes.TrimSpace would forgive, is refused.)
func asObjectStd(raw []byte) (refObject, bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '{':
		var o refObject
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, false
		}
		if o == nil {
			o = refObject{}
		}
		return o, true
	case '[':
		var a []json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil || len(a) != 0 {
			return nil, false
		}
		return refObject{}, true
	}
	return nil, false
}

func sameObject(t *testing.T, in []byte, got, want refObject, gotOK, wantOK bool) {
	t.Helper()
	if gotOK != wantOK {
		t.Fatalf("%q: ok %v, encoding/json says %v", in, gotOK, wantOK)
	}
	if len(got) != len(want) {
		t.Fatalf("%q: %d members, encoding/json has %d (%v vs %v)", in, len(got), len(want), got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !bytes.Equal(g, v) {
			t.Fatalf("%q: member %q = %q, encoding/json has %q", in, k, g, v)
		}
	}
}

func TestSplitObjectAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range []string{
		`{}`, ` { } `, `[]`, `[ ]`, `[1]`, `{"a":1}`, `{"a" : "x\"y" , "b":[1,{"c":"}"}],"a":2}`,
		`{"\u0064ata":{"order":[]}}`, `{"k\u00e9":null}`, "{\"\xff\":1}", `{"a":-1.5e+3,"b":true,"c":false,"d":null}`,
		`{"a":"\\"}`, `{"a":{"b":{"c":[[[]]]}}}`, `null`, `"x"`, `{"a":1,}`, `{"a"}`, `{`, ``, `{"a":1} x`,
	} {
		got, gotOK := refAsObject([]byte(s))
		want, wantOK := asObjectStd([]byte(s))
		sameObject(t, []byte(s), got, want, gotOK, wantOK)
	}
}

func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"1","items":[{"sku":"a\/b"}]}}}`,
		`{"a":[]}`, `[]`, `{"\u0061":1,"a":2}`, `{"a":"\ud800"}`, "{\"a\x00\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotOK := refAsObject(b)
		want, wantOK := asObjectStd(b)
		sameObject(t, b, got, want, gotOK, wantOK)
		// One level down, as the decoders walk: every member that is an
		// object or [] splits the same way.
		for k, v := range want {
			g, gOK := refSplitObject(got[k])
			w, wOK := asObjectStd(v)
			sameObject(t, v, g, w, gOK, wOK)
		}
	})
}
