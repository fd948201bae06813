package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/shopspring/decimal"
)

// wrap is what pkg/stream's Publisher does with a Message, minus the headers.
func wrap(t *testing.T, m Message) []byte {
	t.Helper()
	data, err := m.Data()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(m.Type(), m.Source(), m.Key(), data, time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleCommand() NetSuiteCommand {
	return NetSuiteCommand{
		Kind: KindSalesOrder, Store: "en_us", SourceID: "000000042", ExternalID: "mlc-so-en__us-000000042",
		Record:     json.RawMessage(`{"otherRefNum":"000000042","item":{"items":[{"item":{"id":"101"},"quantity":1}]}}`),
		Subsidiary: "2",
		Customer: &CustomerRef{BuyerKey: "7", ExternalID: "mlc-cust-en__us-7", Email: "a@b.c",
			Record: json.RawMessage(`{"email":"a@b.c"}`)},
		Totals: &Totals{Currency: "USD", CommerceTotal: decimal.RequireFromString("10.00"),
			NetSuiteTotal: decimal.RequireFromString("10.00")},
	}
}

func TestNetSuiteCommandRoundTrip(t *testing.T) {
	c := sampleCommand()
	back, env, err := DecodeNetSuiteCommand(wrap(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if back.ContentHash() != c.ContentHash() || back.MsgID() != c.MsgID() || back.Key() != "order:en_us:000000042" {
		t.Fatalf("round trip changed the command: %+v", back)
	}
	if env.Type != "netsuite.upsert.salesorder" || c.Subject() != "netsuite.upsert.salesorder" {
		t.Fatalf("type %q subject %q", env.Type, c.Subject())
	}
}

func TestNetSuiteCommandIDs(t *testing.T) {
	a, b := sampleCommand(), sampleCommand()
	if a.MsgID() != b.MsgID() {
		t.Fatal("same content, different message ids")
	}
	b.Record = json.RawMessage(`{"otherRefNum":"000000042","item":{"items":[{"item":{"id":"101"},"quantity":2}]}}`)
	if a.ContentHash() == b.ContentHash() || a.MsgID() == b.MsgID() {
		t.Fatal("changed record, same hash")
	}
	r := sampleCommand()
	r.Replay = "r1"
	if r.ContentHash() != a.ContentHash() {
		t.Fatal("a replay must keep the content hash")
	}
	if r.MsgID() == a.MsgID() {
		t.Fatal("a replay must not be dropped as a duplicate")
	}
	if strings.ContainsAny(a.MsgID(), " \t\n") {
		t.Fatalf("message id %q has whitespace", a.MsgID())
	}
}

func TestNetSuiteCommandRejects(t *testing.T) {
	bad := []func(*NetSuiteCommand){
		func(c *NetSuiteCommand) { c.Kind = "salesOrder" },
		func(c *NetSuiteCommand) { c.ExternalID = "" },
		func(c *NetSuiteCommand) { c.Record = json.RawMessage(`{`) },
		func(c *NetSuiteCommand) { c.Customer = nil },
		func(c *NetSuiteCommand) { c.Kind = KindInvoice },
	}
	for i, mutate := range bad {
		c := sampleCommand()
		mutate(&c)
		if _, err := c.Data(); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("case %d: err = %v", i, err)
		}
	}
	// A field the consumer does not know is a contract mismatch, not silence.
	body := []byte(`{"specversion":"1.0","id":"1","type":"netsuite.upsert.customer","source":"s","data":{"kind":"customer","store":"x","source_id":"1","external_id":"e","record":{},"surprise":1}}`)
	if _, _, err := DecodeNetSuiteCommand(body); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("unknown field: %v", err)
	}
	body = []byte(`{"specversion":"1.0","id":"1","type":"netsuite.upsert.invoice","source":"s","data":{"kind":"customer","store":"x","source_id":"1","external_id":"e","record":{}}}`)
	if _, _, err := DecodeNetSuiteCommand(body); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("type/kind mismatch: %v", err)
	}
}

func TestSyncOutcome(t *testing.T) {
	o := SyncOutcome{Kind: KindSalesOrder, Status: StatusFailed, BusinessKey: "order:default:1", Attempts: 3,
		CommandID: "c1", ErrorCode: "INVALID_KEY_OR_REF", ErrorPath: "item[0].item", Producer: "netsuite-writer"}
	if o.Subject() != "sync.failed.salesorder" || o.OK() {
		t.Fatalf("subject %q", o.Subject())
	}
	back, _, err := DecodeSyncOutcome(wrap(t, o))
	if err != nil || back.ErrorPath != o.ErrorPath || back.Key() != o.Key() || back.MsgID() != o.MsgID() {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	o.Status = StatusUnchanged
	if o.Subject() != "sync.ok.salesorder" {
		t.Fatalf("unchanged is a success: %q", o.Subject())
	}
	if _, err := (SyncOutcome{Kind: KindInvoice}).Data(); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("outcome without status/key: %v", err)
	}
}

func TestInventoryChange(t *testing.T) {
	p := decimal.RequireFromString("19.90")
	c := InventoryChange{Store: "default", SKU: "MS09-M-Red", ItemID: "101", Price: &p, Currency: "USD",
		Sources: []SourceQuantity{{SourceCode: "wh-b", Quantity: decimal.NewFromInt(3), InStock: true},
			{SourceCode: "wh-a", Quantity: decimal.Zero}}, ObservedAt: time.Unix(1, 0)}
	back, _, err := DecodeInventoryChange(wrap(t, c))
	if err != nil || !back.Price.Equal(p) || len(back.Sources) != 2 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	// Same values read later, sources in another order: same id.
	again := c
	again.ObservedAt = time.Unix(999, 0)
	again.Sources = []SourceQuantity{c.Sources[1], c.Sources[0]}
	if again.MsgID() != c.MsgID() {
		t.Fatal("a re-run with the same values must have the same message id")
	}
	q := decimal.RequireFromString("19.91")
	again.Price = &q
	if again.MsgID() == c.MsgID() {
		t.Fatal("a new price must have a new id")
	}
	neg := c
	neg.Sources = []SourceQuantity{{SourceCode: "x", Quantity: decimal.NewFromInt(-1)}}
	if _, err := neg.Data(); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("negative quantity: %v", err)
	}
	if _, err := (InventoryChange{SKU: "x"}).Data(); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("empty change: %v", err)
	}
}

func TestDeadLetterRoundTrip(t *testing.T) {
	hdr := nats.Header{}
	hdr.Set(HeaderKey, "order:default:1")
	hdr.Set(HeaderMsgID, "order.placed:default:1")
	d := DeadLetter{Reason: "order 1: SKU X has no NetSuite item" + strings.Repeat("!", 2*MaxDLQReason), Attempts: 5,
		Subject: "commerce.order.placed.default", Stream: StreamCommerce, Seq: 77, Consumer: DurableTransform,
		At: time.Unix(5, 0), Header: hdr, Data: []byte(`{"a":1}`)}
	m := d.Msg()
	if m.Subject != "dlq.commerce.order.placed.default" || len(m.Header.Get(HeaderDLQReason)) != MaxDLQReason {
		t.Fatalf("subject %q, reason length %d", m.Subject, len(m.Header.Get(HeaderDLQReason)))
	}
	back, err := ReadDeadLetter(m.Subject, m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Seq != 77 || back.Attempts != 5 || back.Consumer != DurableTransform || !back.At.Equal(d.At) ||
		back.Header.Get(HeaderKey) != "order:default:1" || back.Header.Get(HeaderMsgID) != "" || string(back.Data) != `{"a":1}` {
		t.Fatalf("round trip: %+v", back)
	}
	if _, err := ReadDeadLetter("commerce.order.placed.default", m.Header, nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("non-DLQ subject: %v", err)
	}
	m.Header.Set(HeaderDLQSeq, "x")
	if _, err := ReadDeadLetter(m.Subject, m.Header, nil); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("bad seq: %v", err)
	}
}

func FuzzDecodeMessages(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","type":"netsuite.upsert.customer","source":"s","data":{"kind":"customer"}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","type":"sync.ok.invoice","source":"s","data":{}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","type":"inventory.item.changed","source":"s","data":{"sku":"x","price":"-1"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = DecodeNetSuiteCommand(b)
		_, _, _ = DecodeSyncOutcome(b)
		_, _, _ = DecodeInventoryChange(b)
	})
}

func TestTraceparent(t *testing.T) {
	good := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tp, ok := ParseTraceparent(good)
	if !ok || tp.String() != good {
		t.Fatalf("parse %q: %+v %v", good, tp, ok)
	}
	c := tp.Child()
	if c.TraceID != tp.TraceID || c.SpanID == tp.SpanID || c.Flags != "01" {
		t.Fatalf("child %+v", c)
	}
	if _, ok := ParseTraceparent(c.String()); !ok {
		t.Fatalf("child %q does not parse", c)
	}
	for _, bad := range []string{"", good + " ", strings.ToUpper(good), "01" + good[2:],
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		strings.Repeat("a", 900000)} {
		if _, ok := ParseTraceparent(bad); ok {
			t.Errorf("accepted %.60q", bad)
		}
	}
	if _, ok := ParseTraceparent(NewTraceparent().String()); !ok {
		t.Error("a new traceparent does not parse")
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Fuzz(func(t *testing.T, s string) {
		if tp, ok := ParseTraceparent(s); ok && tp.String() != s {
			t.Fatalf("%q parsed as %q", s, tp)
		}
	})
}
