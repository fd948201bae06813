package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/event"
)

func TestRedactJSON(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{"password_hash":"abc$def","email":"a@b.c"}`, `{"password_hash":"[redacted]","email":"a@b.c"}`},
		{`{"data":{"customer":{"rp_token":"t0k","Name":"x"}}}`, `{"data":{"customer":{"rp_token":"[redacted]","Name":"x"}}}`},
		{`{"a":[{"client-secret": {"nested":[1,2,"}"]}, "b":2}]}`, `{"a":[{"client-secret": "[redacted]", "b":2}]}`},
		{`{"Authorization" : "Bearer x" , "n":null}`, `{"Authorization" : "[redacted]" , "n":null}`},
		{`{"api_key":123,"cc_number_enc":"0:3:xyz","cc_last4":"4242"}`, `{"api_key":"[redacted]","cc_number_enc":"[redacted]","cc_last4":"4242"}`},
		// A value that merely contains a secret-looking word stays.
		{`{"note":"password reset requested","x":"token"}`, `{"note":"password reset requested","x":"token"}`},
		// Escapes in names are decoded before matching.
		{`{"pass\u0077ord":"x"}`, `{"pass\u0077ord":"[redacted]"}`},
		{`["password","secret"]`, `["password","secret"]`},
		{`not json "password":"x"`, `not json "password":"x"`},
		{``, ``},
	}
	for _, c := range cases {
		got, changed := redactJSON([]byte(c.in))
		if string(got) != c.want || changed != (c.in != c.want) {
			t.Errorf("redactJSON(%s) = %s, %v; want %s", c.in, got, changed, c.want)
		}
	}
	// CloudEvents data_base64 (a body with surrounding whitespace) is
	// decoded, redacted and re-encoded.
	inner := "\n{\"password\":\"hunter2\",\"ok\":1}\n"
	body := `{"specversion":"1.0","data_base64":"` + base64.StdEncoding.EncodeToString([]byte(inner)) + `"}`
	got, changed := redactJSON([]byte(body))
	if !changed || strings.Contains(string(got), base64.StdEncoding.EncodeToString([]byte(inner))) {
		t.Fatalf("data_base64 not redacted: %s", got)
	}
	env, err := event.Decode(append([]byte(`{"id":"1","type":"t","source":"s",`), got[1:]...))
	if err != nil || string(env.Data) != "\n{\"password\":\"[redacted]\",\"ok\":1}\n" {
		t.Fatalf("decoded data %q, %v", env.Data, err)
	}
}

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"Authorization": true, "Proxy-Authorization": true, "X-Api-Key": true, "Cookie": true, "Set-Cookie": true,
		"x-adobe-commerce-webhook-signature": true, "password_hash": true, "PrivateKeyPEM": true, "access_token": true,
		"Mlc-Key": false, "Nats-Msg-Id": false, "traceparent": false, "buyer_key": false, "content_hash": false,
		"increment_id": false, "cc_last4": false, "ab": false,
	} {
		if got := secretName(name); got != want {
			t.Errorf("secretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestFromMessage(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	raw := []byte(`{"data":{"order":{"increment_id":"42","customer":{"password_hash":"$2y$10$abc"}}}}`)
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: "42", DataSchema: event.SchemaWebhook, Raw: raw}
	env, _ := event.New(fact.Type(), fact.Source(), fact.Key(), raw, now)
	body, _ := env.Encode()
	hdr := nats.Header{}
	hdr.Set(event.HeaderKey, fact.Key())
	hdr.Set(event.HeaderOrigin, event.OriginWebhook)
	hdr.Set("Authorization", "Bearer sk-live-123")
	hdr.Add("X-Multi", "b")
	hdr.Add("X-Multi", "a")
	r := FromMessage(Meta{Stream: event.StreamCommerce, Seq: 7, Published: now.Add(time.Millisecond)}, fact.Subject(), hdr, body, now.Add(time.Second))
	if r.EventID != env.ID || r.EventType != "commerce.order.placed" || r.Key != "order:default:42" || r.Origin != "webhook" ||
		!r.Received.Equal(now) || r.Seq != 7 || !r.Redacted || r.Status != "" {
		t.Fatalf("row %+v", r)
	}
	if bytes.Contains(r.Data, []byte("$2y$10$abc")) || !bytes.Contains(r.Data, []byte(`"increment_id":"42"`)) {
		t.Fatalf("data %s", r.Data)
	}
	if r.Header("Authorization") != Redacted || strings.Join(r.HeaderNames, ",") != "Authorization,Mlc-Key,Mlc-Origin,X-Multi,X-Multi" ||
		strings.Join(r.HeaderValues[3:], ",") != "b,a" {
		t.Fatalf("headers %v %v", r.HeaderNames, r.HeaderValues)
	}
	if r.Headers().Get(event.HeaderKey) != "order:default:42" {
		t.Fatal("Headers() lost Mlc-Key")
	}

	// A plain body is kept byte-for-byte, whitespace and escapes included.
	plain := []byte(`{"specversion":"1.0","id":"x","type":"commerce.order.placed","source":"commerce://default","time":"2024-01-01T00:00:00Z","data":{"url":"https:\/\/x","n":"Zo\u00eb"}}`)
	r = FromMessage(Meta{Stream: event.StreamCommerce, Seq: 8}, "commerce.order.placed.default", nats.Header{}, plain, now)
	if !bytes.Equal(r.Data, plain) || r.Redacted || r.Key != "" || r.HeaderNames == nil {
		t.Fatalf("plain body changed: %s %+v", r.Data, r)
	}

	// Garbage is mirrored, marked invalid.
	r = FromMessage(Meta{Stream: event.StreamNetSuite, Seq: 9}, "netsuite.upsert.salesorder", nil, []byte("\xff not json"), now)
	if r.Status != StatusInvalid || r.Error == "" || string(r.Data) != "\xff not json" {
		t.Fatalf("garbage row %+v", r)
	}

	// A dead letter keeps its reason, attempts and origin.
	lhdr := nats.Header{}
	lhdr.Set(event.HeaderKey, "order:default:42")
	letter := event.DeadLetter{Reason: "SKU X has no NetSuite item", Attempts: 3, Subject: fact.Subject(), Stream: event.StreamCommerce,
		Seq: 7, Consumer: event.DurableTransform, At: now, Header: lhdr, Data: body}.Msg()
	r = FromMessage(Meta{Stream: event.StreamDLQ, Seq: 1}, letter.Subject, letter.Header, letter.Data, now)
	if r.Status != StatusDead || r.Error != "SKU X has no NetSuite item" || r.Attempts != 3 || r.OrigStream != event.StreamCommerce ||
		r.OrigSeq != 7 || r.Consumer != event.DurableTransform || r.EventType != "commerce.order.placed" || r.Step() != "dead-lettered" {
		t.Fatalf("letter row %+v", r)
	}

	// A DLQ action names its letter and operator.
	a := event.DLQAction{Action: event.DLQResolve, LetterSeq: 1, LetterSubject: letter.Subject, BusinessKey: "order:default:42",
		Note: "cancelled in Commerce", Operator: "ops@host", At: now}
	data, _ := a.Data()
	aenv, _ := event.New(a.Type(), a.Source(), a.Key(), data, now)
	abody, _ := aenv.Encode()
	r = FromMessage(Meta{Stream: event.StreamDLQ, Seq: 2}, a.Subject(), nats.Header{event.HeaderKey: {a.Key()}}, abody, now)
	if r.Status != event.DLQResolve || r.OrigSeq != 1 || r.Consumer != "ops@host" || r.Step() != "dlq resolved" ||
		!strings.Contains(r.Detail(), "cancelled in Commerce") {
		t.Fatalf("action row %+v %q", r, r.Detail())
	}
}

func TestSubjectRegexp(t *testing.T) {
	for _, c := range []struct {
		filter, want string
	}{
		{"commerce.order.placed.*", `^commerce\.order\.placed\.[^.]+$`},
		{"sync.>", `^sync\..+$`},
		{"commerce.order.placed.us%2Eeast", `^commerce\.order\.placed\.us%2Eeast$`},
		{"a+b.c", `^a\+b\.c$`},
	} {
		if got := subjectRegexp(c.filter); got != c.want {
			t.Errorf("subjectRegexp(%q) = %q, want %q", c.filter, got, c.want)
		}
	}
}

func TestParseVersionAndDialect(t *testing.T) {
	for s, want := range map[string]Version{"18.16.1": {18, 16}, "24.8.4.13": {24, 8}, "20.3": {20, 3}, "23.10.1.1-stable": {23, 10}} {
		if v, err := ParseVersion(s); err != nil || v != want {
			t.Errorf("ParseVersion(%q) = %v, %v", s, v, err)
		}
	}
	for _, bad := range []string{"", "x", "18", "a.b"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) accepted", bad)
		}
	}
	old, cur := Dialect{Version{18, 16}}.Schema("mlc", 90), Dialect{Version{24, 8}}.Schema("mlc", 90)
	for _, bad := range []string{"LowCardinality", "CODEC", "TTL", "DateTime64"} {
		if strings.Contains(old, bad) {
			t.Errorf("18.16 schema uses %s:\n%s", bad, old)
		}
		if !strings.Contains(cur, bad) {
			t.Errorf("current schema lacks %s", bad)
		}
	}
	if !strings.Contains(cur, "TTL toDateTime(intDiv(published_ms, 1000)) + INTERVAL 90 DAY") {
		t.Errorf("TTL clause:\n%s", cur)
	}
	if strings.Contains(Dialect{Version{24, 8}}.Schema("mlc", 0), "TTL") {
		t.Error("retention 0 still has a TTL")
	}
}

func TestParseDSN(t *testing.T) {
	o, db, err := ParseDSN("127.0.0.1:9000, 127.0.0.2:9000")
	if err != nil || db != DefaultDatabase || len(o.Addr) != 2 || o.Addr[1] != "127.0.0.2:9000" {
		t.Fatalf("host list: %+v %q %v", o, db, err)
	}
	o, db, err = ParseDSN("clickhouse://default:pw@clickhouse:9000/audit?dial_timeout=1s")
	if err != nil || db != "audit" || o.Auth.Password != "pw" || o.Auth.Database != "" || o.DialTimeout != time.Second {
		t.Fatalf("url: %+v %q %v", o, db, err)
	}
	for _, bad := range []string{"", "  ", "clickhouse://h:9000/bad-name", "http://h:8123/mlc", "clickhouse://h:9000/x;DROP"} {
		if _, _, err := ParseDSN(bad); err == nil {
			t.Errorf("ParseDSN(%q) accepted", bad)
		}
	}
}

func TestMonthExpired(t *testing.T) {
	cutoff := time.Date(2024, 5, 15, 0, 0, 0, 0, time.Local)
	for p, want := range map[string]bool{"202403": true, "202404": true, "202405": false, "202406": false, "x": false, "2024": false} {
		if got := monthExpired(p, cutoff); got != want {
			t.Errorf("monthExpired(%s) = %v", p, got)
		}
	}
}

// Redaction keeps every byte outside secret values, never panics and never
// lets a secret value through.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"password":"x"}`, `{"a":{"token":[1,{"b":"}"}]}}`, `[{"secret":"\"q\""}]`,
		`{"data_base64":"eyJwYXNzd29yZCI6MX0="}`, `{"x":"\u0070assword"}`, `{"pass\u0077ord":{"":""}}`, `"s"`, `{`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		out, changed := redactJSON(b)
		if !json.Valid(b) {
			if changed || !bytes.Equal(out, b) {
				t.Fatalf("invalid JSON changed: %q -> %q", b, out)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("redacted JSON invalid: %q -> %q", b, out)
		}
		if !changed {
			if !bytes.Equal(out, b) {
				t.Fatalf("unchanged flag but bytes differ")
			}
			assertNoSecrets(t, out)
			return
		}
		assertNoSecrets(t, out)
	})
}

// assertNoSecrets decodes b and checks every secret-named member holds
// "[redacted]".
func assertNoSecrets(t *testing.T, b []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if secretName(k) && e != Redacted {
					// Duplicate member names: the decoder keeps the last,
					// which the scan redacted too.
					t.Fatalf("member %q kept %v in %s", k, e, b)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

func FuzzFromMessage(f *testing.F) {
	f.Add("commerce.order.placed.default", "COMMERCE", []byte(`{"specversion":"1.0","id":"1","type":"commerce.order.placed","source":"s","data":{}}`))
	f.Add("sync.ok.salesorder", "SYNC", []byte(`{"specversion":"1.0","id":"1","type":"sync.ok.salesorder","source":"s","data":{"kind":"salesorder"}}`))
	f.Add("dlq.commerce.order.placed.x", "DLQ", []byte(`{}`))
	f.Add("dlq.action.retry", "DLQ", []byte(`{"specversion":"1.0","id":"1","type":"dlq.action.retry","source":"s","data":{"action":"retry"}}`))
	f.Fuzz(func(t *testing.T, subject, stream string, data []byte) {
		hdr := nats.Header{"Mlc-Dlq-Seq": {"x"}, "Mlc-Dlq-Attempts": {"-5"}}
		r := FromMessage(Meta{Stream: stream, Seq: 1}, subject, hdr, data, time.Now())
		if !r.Redacted && !bytes.Equal(r.Data, data) {
			t.Fatalf("data changed without redaction")
		}
		if len(r.HeaderNames) != len(r.HeaderValues) {
			t.Fatal("header arrays differ in length")
		}
	})
}

// readHead gives event.Decode's verdict and fields on valid JSON.
func FuzzReadHead(f *testing.F) {
	for _, s := range []string{
		`{"specversion":"1.0","id":"1","type":"t","source":"s","time":"2024-01-01T00:00:00Z","subject":"k","data":{"a":1}}`,
		`{"specversion":"1.0","ID":"1","Type":"t","SOURCE":"s","data_base64":"eyJhIjoxfQ=="}`,
		`{"specversion":"1.0","id":"1","type":"t","source":"s","data":null,"data_base64":"eA=="}`,
		`{"specversion":"1.0","id":"1","type":"t","source":"s","data_base64":"!!"}`,
		`{"specversion":"1.0","id":5,"type":"t","source":"s"}`,
		`{"specversion":"1.0","id":"1","id":null,"type":"t","source":"s","time":null}`,
		`{"specversion":"1.0","id":"\u00e9\ud800","type":"t","source":"s","subject":"a\"b"}`,
		`{"specversion":"1.0","id":"1","type":"t","source":"s","time":"yesterday"}`,
		`{"specversion":"1.0","id":"1","type":"t","source":"s","dataschema":1}`,
		`{"ſpecversion":"1.0","id":"1","type":"t","source":"s"}`,
		`[]`, `null`, `"x"`, `{}`, ` {"specversion" : "1.0" , "id":"1","type":"t","source":"s"} `,
		// SYNC outcomes: as published, with a data_base64, a null data, the wrong type, an unknown field, duplicates.
		`{"specversion":"1.0","id":"1","type":"sync.ok.salesorder","source":"s","data":{"kind":"salesorder","status":"ok","attempts":2}}`,
		`{"specversion":"1.0","id":"1","type":"sync.ok.salesorder","source":"s","data_base64":"eyJraW5kIjoic2FsZXNvcmRlciIsInN0YXR1cyI6Im9rIn0="}`,
		`{"specversion":"1.0","id":"1","type":"sync.failed.salesorder","source":"s","data":null}`,
		`{"specversion":"1.0","id":"1","type":"sync.failed.salesorder","source":"s","data":{"kind":"salesorder","status":"ok"}}`,
		`{"specversion":"1.0","id":"1","type":"sync.ok.salesorder","source":"s","data":{"kind":"salesorder","status":"ok","extra":1}}`,
		`{"specversion":"1.0","id":"1","type":"sync.ok.salesorder","source":"s","data":{"status":"failed"},"DATA":{"kind":"salesorder","status":"ok"}}`,
		`{"specversion":"1.0","id":"1","type":"order.placed","source":"s","data":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		h, herr := readHead(b)
		env, eerr := event.Decode(b)
		if (herr == nil) != (eerr == nil) {
			t.Fatalf("readHead error %v, event.Decode error %v for %s", herr, eerr, b)
		}
		if herr != nil {
			return
		}
		if h.ID != env.ID || h.Type != env.Type || h.Source != env.Source || h.Subject != env.Subject || !h.Time.Equal(env.Time) {
			t.Fatalf("readHead %+v, event.Decode %+v for %s", h, env, b)
		}
		if !h.b64 && !bytes.Equal(h.data, env.Data) {
			t.Fatalf("readHead data %q, event.Decode data %q for %s", h.data, env.Data, b)
		}
		// The SYNC fast path gives DecodeSyncOutcome's outcome and verdict.
		o, oerr := syncOutcome(h, b)
		want, _, werr := event.DecodeSyncOutcome(b)
		if fmt.Sprint(oerr) != fmt.Sprint(werr) || !reflect.DeepEqual(o, want) {
			t.Fatalf("syncOutcome %+v, %v; DecodeSyncOutcome %+v, %v for %s", o, oerr, want, werr, b)
		}
	})
}
