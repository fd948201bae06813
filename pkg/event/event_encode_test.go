package event

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// encodeHeadJSON is the envelope's attributes as encoding/json writes them
// (HTML escaping off): what Encode wrote before it wrote them itself.
func encodeHeadJSON(t *testing.T, e Envelope) []byte {
	t.Helper()
	head := struct {
		SpecVersion     string    `json:"specversion"`
		ID              string    `json:"id"`
		Type            string    `json:"type"`
		Source          string    `json:"source"`
		Time            time.Time `json:"time"`
		Subject         string    `json:"subject,omitempty"`
		DataContentType string    `json:"datacontenttype,omitempty"`
		DataSchema      string    `json:"dataschema,omitempty"`
	}{e.SpecVersion, e.ID, e.Type, e.Source, e.Time, e.Subject, e.DataContentType, e.DataSchema}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(head); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// Encode writes the attributes exactly as encoding/json does, whatever
// they hold (quotes, control bytes, invalid UTF-8, U+2028, HTML), and the
// data after them byte-for-byte.
func FuzzEncodeMatchesEncodingJSON(f *testing.F) {
	f.Add("id-1", "commerce.order.placed", "commerce://en_us", "order:us.east:0001", "urn:mlc:commerce:webhook", int64(0), []byte(`{"a":1}`))
	f.Add("\"quoted\" \\ back", "t\x00\x1f\x7f", "s\u2028\u2029", "<b>&amp;</b>", "\xff\xfe bad utf8", int64(1700000000123456789), []byte("{\"a\":1}\n"))
	f.Add("Zoë 注文", "", "s", "", "", int64(-62135596800), []byte(``))
	f.Fuzz(func(t *testing.T, id, typ, source, subject, schema string, nanos int64, data []byte) {
		if len(data) > 0 && !json.Valid(data) {
			return
		}
		e := Envelope{SpecVersion: SpecVersion, ID: id, Type: typ, Source: source, Time: time.Unix(0, nanos).UTC(),
			Subject: subject, DataContentType: "application/json", DataSchema: schema, Data: data}
		got, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		head := encodeHeadJSON(t, e)
		if !bytes.HasPrefix(got, head[:len(head)-1]) {
			t.Fatalf("attributes differ:\n got %q\nwant %q", got, head)
		}
		if !json.Valid(got) {
			t.Fatalf("not JSON: %q", got)
		}
		back, err := Decode(got)
		if err == nil && !bytes.Equal(back.Data, data) {
			t.Fatalf("data %q came back as %q", data, back.Data)
		}
		if err == nil && utf8.ValidString(id) && back.ID != id {
			t.Fatalf("id %q came back as %q", id, back.ID)
		}
	})
}

// A time JSON cannot carry is an error, as it was with encoding/json.
func TestEncodeRefusesYearOutOfRange(t *testing.T) {
	e := Envelope{SpecVersion: SpecVersion, ID: "1", Type: "t", Source: "s", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := e.Encode(); err == nil {
		t.Fatal("year 10000 encoded")
	}
}
