package commercesim

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

func TestPHPJSON(t *testing.T) {
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"slash", "a/b", `"a\/b"`},
		{"url", "https://shop.example.com/x.html", `"https:\/\/shop.example.com\/x.html"`},
		{"latin", "Zoë", `"Zo\u00eb"`},
		{"polish", "Łódź", `"\u0141\u00f3d\u017a"`},
		{"astral", "🚲", `"\ud83d\udeb2"`},
		{"controls", "a\nb\tc\r\x01\b\f", `"a\nb\tc\r\u0001\b\f"`},
		{"quotes", `say "hi" \ o`, `"say \"hi\" \\ o"`},
		{"html not escaped", "<a>&'", `"<a>&'"`},
		{"empty object", Object{}, `[]`},
		{"empty map", map[string]any{}, `[]`},
		{"nil slice", []string(nil), `[]`},
		{"ordered", Object{{"b", 1}, {"a", true}, {"c", nil}}, `{"b":1,"a":true,"c":null}`},
		{"map sorted", map[string]any{"b": 1, "a": "x"}, `{"a":"x","b":1}`},
		{"nested", Object{{"data", Object{{"order", Object{{"extension_attributes", Object{}}}}}}}, `{"data":{"order":{"extension_attributes":[]}}}`},
		{"float", 104.59, `104.59`},
		{"float integral", 32.0, `32.0`},
		{"float zero", 0.0, `0.0`},
		{"float small", 0.0001, `0.0001`},
		{"float tiny", 0.00001, `1.0e-5`},
		{"float big", 1e25, `1.0e+25`},
		{"float 1e17", 1e17, `1.0e+17`},
		{"float 1e16", 1e16, `10000000000000000.0`},
		{"float neg", -5.5, `-5.5`},
		{"decimal", decimal.RequireFromString("104.59"), `104.59`},
		{"decimal integral", decimal.NewFromInt(32), `32.0`},
		{"number", json.Number("32"), `32`},
		{"ints", []int{1, -2}, `[1,-2]`},
		{"struct", struct {
			A string `json:"a"`
		}{"x/y"}, `{"a":"x\/y"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := PHPJSON(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got %s want %s", got, c.want)
			}
		})
	}
	for _, bad := range []any{"\xff", math.NaN(), math.Inf(1), json.Number("x")} {
		if _, err := PHPJSON(bad); err == nil {
			t.Errorf("%v: want error", bad)
		}
	}
}

// normalize turns empty objects into empty arrays, as PHP does.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return []any{}
		}
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func FuzzPHPJSONRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`{"eventName":"sales_order_place_after","data":{"order":{"customer_firstname":"Zoë","city":"Łódź","url":"https://x/y","grand_total":104.59,"extension_attributes":{}}}}`,
		`[1,2.5,-0.0001,1e25,1e-7,"🚲",null,true,false,{}]`,
		`"a\u0000b\u001f\u007f"`,
		`{"":{"":[]},"\ud83d\ude00":"\\\"/"}`,
		`12345678901234567890`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var v any
		if err := json.Unmarshal(in, &v); err != nil {
			return
		}
		out, err := PHPJSON(v)
		if err != nil {
			t.Fatalf("encode %s: %v", in, err)
		}
		for _, c := range out {
			if c >= 0x80 {
				t.Fatalf("non-ASCII byte in %s", out)
			}
		}
		var back any
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
		if !reflect.DeepEqual(normalize(v), back) {
			t.Fatalf("round trip: %s -> %s", in, out)
		}
	})
}

func FuzzPHPJSONString(f *testing.F) {
	f.Add("Zoë/Łódź 🚲 \"\\\n")
	f.Fuzz(func(t *testing.T, s string) {
		out, err := PHPJSON(Object{{"s", s}})
		if err != nil {
			return // invalid UTF-8: json_encode fails too
		}
		var back map[string]string
		if err := json.Unmarshal(out, &back); err != nil || back["s"] != s {
			t.Fatalf("round trip %q -> %s (%v)", s, out, err)
		}
	})
}
