package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

var externalIDCharset = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestExternalIDsAreValidAndInjective(t *testing.T) {
	cases := []struct{ store, id string }{
		{"default", "000000042"},
		{"default", "000000042 "},
		{"default", "#000000042"},
		{"default", "A/42"},
		{"default", "A_42"},
		{"default", "A__42"},
		{"default", "A_5F42"},
		{"default", "A.42"},
		{"default", "Zoë-1"},
		{"default", "注文-7"},
		{"de-fault", "1"},
		{"de", "fault-1"},
		{"de_fault", "1"},
		{"de_2Dfault", "1"},
		{"us store", "1"},
		{"us.store", "1"},
		{"", "1"},
	}
	seen := map[string]string{}
	for _, c := range cases {
		got, err := SalesOrderExternalID(c.store, c.id)
		if err != nil {
			t.Fatalf("SalesOrderExternalID(%q,%q): %v", c.store, c.id, err)
		}
		if !externalIDCharset.MatchString(got) {
			t.Errorf("SalesOrderExternalID(%q,%q) = %q: outside [A-Za-z0-9_-]", c.store, c.id, got)
		}
		if !strings.HasPrefix(got, "mlc-so-") {
			t.Errorf("SalesOrderExternalID(%q,%q) = %q: missing prefix", c.store, c.id, got)
		}
		k := c.store + "\x00" + c.id
		if prev, ok := seen[got]; ok && prev != k {
			t.Errorf("collision: %q and %q both give %q", prev, k, got)
		}
		seen[got] = k
	}
}

func TestExternalIDReadableForPlainKeys(t *testing.T) {
	got, err := InvoiceExternalID("default", "000000007")
	if err != nil || got != "mlc-inv-default-000000007" {
		t.Fatalf("InvoiceExternalID = %q, %v", got, err)
	}
	got, err = CustomerExternalID("uk", "5521")
	if err != nil || got != "mlc-cust-uk-5521" {
		t.Fatalf("CustomerExternalID = %q, %v", got, err)
	}
}

func TestGuestExternalIDIgnoresCaseAndSpace(t *testing.T) {
	a, _ := CustomerExternalID("default", BuyerKey(0, "Ann@Example.com"))
	b, _ := CustomerExternalID("default", BuyerKey(0, " ann@example.com"))
	c, _ := CustomerExternalID("default", BuyerKey(0, "bob@example.com"))
	if a != b {
		t.Errorf("same e-mail, different ids: %q %q", a, b)
	}
	if a == c {
		t.Errorf("different e-mails, same id %q", a)
	}
	if !regexp.MustCompile(`^mlc-cust-default-e[0-9a-f]{16}$`).MatchString(a) {
		t.Errorf("guest id %q has the wrong shape", a)
	}
	if strings.Contains(a, "ann") {
		t.Errorf("guest id %q leaks the e-mail", a)
	}
}

func TestBuyerKey(t *testing.T) {
	if k := BuyerKey(42, "ann@example.com"); k != "42" {
		t.Errorf("registered buyer key = %q", k)
	}
	if k := BuyerKey(0, ""); k != "" {
		t.Errorf("no id, no e-mail: %q", k)
	}
	if _, err := CustomerExternalID("default", ""); err == nil {
		t.Error("empty buyer key accepted")
	}
	// The registered and the guest key spaces cannot meet: ids are digits,
	// guest keys start with 'e'.
	if k := BuyerKey(-1, "x@y.z"); !strings.HasPrefix(k, "e") {
		t.Errorf("negative id not treated as guest: %q", k)
	}
}

func TestExternalIDTooLong(t *testing.T) {
	if _, err := SalesOrderExternalID("default", strings.Repeat("/", 40)); err == nil {
		t.Fatal("want an error for an id over the length limit")
	}
}

func FuzzEncodeIDPart(f *testing.F) {
	for _, s := range []string{"", "a", "_", "__", "_5F", "a/b", "Zoë", "\xff"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ea, eb := EncodeIDPart(a), EncodeIDPart(b)
		if a != "" && !externalIDCharset.MatchString(ea) {
			t.Fatalf("EncodeIDPart(%q) = %q outside charset", a, ea)
		}
		if a != b && ea == eb {
			t.Fatalf("EncodeIDPart collision: %q and %q -> %q", a, b, ea)
		}
		if a != b && encodeStore(a) == encodeStore(b) {
			t.Fatalf("encodeStore collision: %q and %q", a, b)
		}
		if strings.Contains(encodeStore(a), "-") {
			t.Fatalf("encodeStore(%q) contains '-'", a)
		}
	})
}

func TestSubjectsAndIDs(t *testing.T) {
	cases := []struct{ got, want string }{
		{CommerceSubject(OrderPlaced, "default"), "commerce.order.placed.default"},
		{CommerceSubject(InvoiceCaptured, "us.east"), "commerce.invoice.captured.us%2Eeast"},
		{CommerceSubject(CustomerCreated, "a b*>"), "commerce.customer.created.a%20b%2A%3E"},
		{NetSuiteSubject(KindSalesOrder), "netsuite.upsert.salesorder"},
		{SyncSubject(true, KindInvoice), "sync.ok.invoice"},
		{SyncSubject(false, KindCustomer), "sync.failed.customer"},
		{DLQSubject("netsuite.upsert.salesorder"), "dlq.netsuite.upsert.salesorder"},
		{MsgID(OrderPlaced, "default", "000000042"), "order.placed:default:000000042"},
		{Key("order", "default", "000000042"), "order:default:000000042"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if orig, ok := OriginalSubject("dlq.commerce.order.placed.default"); !ok || orig != "commerce.order.placed.default" {
		t.Errorf("OriginalSubject = %q, %v", orig, ok)
	}
	if SubjectToken("50%") == SubjectToken("50%25") {
		t.Error("SubjectToken is not injective for '%'")
	}
}

func TestEnvelopeKeepsDataBytes(t *testing.T) {
	raw := []byte(`{"eventName":"sales_order_place_after","data":{"url":"https:\/\/x","name":"Zo\u00eb"}}`)
	e, err := New(CommerceType(OrderPlaced), CommerceSource("default"), "order:default:1", raw, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.Data) != string(raw) {
		t.Fatalf("data changed:\n got %s\nwant %s", back.Data, raw)
	}
	if back.Type != "commerce.order.placed" || back.Source != "commerce://default" || back.SpecVersion != "1.0" {
		t.Fatalf("envelope fields: %+v", back)
	}
}

func TestEnvelopeRejects(t *testing.T) {
	if _, err := New("t", "s", "k", []byte("{"), time.Now()); err == nil {
		t.Error("New accepted invalid JSON data")
	}
	for _, b := range []string{``, `{}`, `{"specversion":"0.3","id":"1","type":"t","source":"s"}`, `{"specversion":"1.0","type":"t","source":"s"}`} {
		if _, err := Decode([]byte(b)); err == nil {
			t.Errorf("Decode(%s) accepted", b)
		}
	}
}

// A webhook body must come back byte-for-byte, or the stored copy no longer
// matches Commerce's signature: no compaction, no \u0026 for &, and even
// surrounding whitespace survives (via data_base64).
func TestEnvelopeDataIsVerbatim(t *testing.T) {
	for _, raw := range []string{
		`{"eventName":"sales_order_place_after","data":{"order":{"customer_firstname":"Tom & Jerry <b>"}}}`,
		"{\n  \"a\": \"x\",\n  \"b\": [1, 2]\n}",
		"{\"a\":1}\n",
		" {\"a\":1}",
		`"just a string"`,
		`{"u":"\u2028\u2029 Zoë 注文"}`,
	} {
		e, err := New(CommerceType(OrderPlaced), CommerceSource("default"), "order:default:1", []byte(raw), time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("encoded envelope is not JSON: %s", b)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if string(back.Data) != raw {
			t.Errorf("data changed:\n got %q\nwant %q", back.Data, raw)
		}
	}
}

func TestDecodeRejectsDataAndBase64(t *testing.T) {
	b := `{"specversion":"1.0","id":"1","type":"t","source":"s","data":{"a":1},"data_base64":"e30="}`
	if _, err := Decode([]byte(b)); !errors.Is(err, ErrInvalidEnvelope) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzEnvelopeRoundTrip(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":"&<>"}`, "[1,\n2]\n", `"\u0000"`, `null`, ` 1 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		e, err := New("t", "s", "k", data, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %q: %v", b, err)
		}
		if !bytes.Equal(back.Data, data) {
			t.Fatalf("data %q came back as %q", data, back.Data)
		}
	})
}
