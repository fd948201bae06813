package commerce

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeOrderPlaced(t *testing.T) {
	ok := []struct {
		name, body string
		want       OrderPlaced
	}{
		{"observer, php strings", phpBody, OrderPlaced{EventName: "sales_order_place_after", IncrementID: "000000042", StoreID: 1, CustomerEmail: "josé@example.com"}},
		{"observer with entity id", `{"eventName":"sales_order_place_after","data":{"order":{"entity_id":17,"increment_id":"100","customer_id":"5","customer_is_guest":"0","updated_at":"2026-01-02 03:04:05","status_histories":[],"addresses":[],"payment":[]}}}`,
			OrderPlaced{EventName: "sales_order_place_after", IncrementID: "100", EntityID: 17, CustomerID: 5, UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		{"numeric increment id", `{"data":{"order":{"increment_id":100000001}}}`, OrderPlaced{IncrementID: "100000001"}},
		{"plugin shape", `{"order":{"increment_id":"A-1","customer_is_guest":true},"subject":[]}`, OrderPlaced{IncrementID: "A-1", CustomerIsGuest: true}},
		{"after-plugin result", `{"result":{"increment_id":"A-2"}}`, OrderPlaced{IncrementID: "A-2"}},
		{"extra fields, data as list for subject", `{"eventName":"x","data":{"order":{"increment_id":"7","extension_attributes":{"a":[]}},"other":1},"subject":[],"more":null}`, OrderPlaced{EventName: "x", IncrementID: "7"}},
	}
	for _, c := range ok {
		got, err := DecodeOrderPlaced([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got.GrandTotal = c.want.GrandTotal
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	g, _ := DecodeOrderPlaced([]byte(phpBody))
	if g.GrandTotal.String() != "104.59" {
		t.Errorf("grand total %s", g.GrandTotal)
	}

	bad := []struct{ name, body, why string }{
		{"not json", `nope`, "order webhook: body is not a JSON object"},
		{"array", `[1]`, "body is not a JSON object"},
		{"no order", `{"eventName":"sales_order_place_after","data":{"quote":{}}}`, "no record object (want one of data.order, order, result)"},
		{"missing id", `{"data":{"order":{"entity_id":1}}}`, "order webhook: data.order.increment_id missing"},
		{"empty id", `{"data":{"order":{"increment_id":""}}}`, "data.order.increment_id missing"},
		{"null id", `{"order":{"increment_id":null}}`, "order webhook: order.increment_id missing"},
		{"object id", `{"data":{"order":{"increment_id":{"a":1}}}}`, "data.order.increment_id is not a string"},
		{"bool id", `{"data":{"order":{"increment_id":true}}}`, "data.order.increment_id is not a string"},
		{"order is a list", `{"data":{"order":[1,2]}}`, "no record object"},
	}
	for _, c := range bad {
		_, err := DecodeOrderPlaced([]byte(c.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: got %v, want ErrMalformed saying %q", c.name, err, c.why)
		}
	}
}

func TestDecodeInvoiceSaved(t *testing.T) {
	ok := []struct {
		name, body string
		want       InvoiceSaved
	}{
		{"data.invoice", `{"eventName":"sales_order_invoice_save_after","data":{"invoice":{"increment_id":"000000009","state":2,"order_id":"3","entity_id":"9"},"data_object":{"increment_id":"other"}}}`,
			InvoiceSaved{EventName: "sales_order_invoice_save_after", IncrementID: "000000009", State: 2, OrderID: 3, EntityID: 9}},
		{"data.data_object, string state", `{"eventName":"e","data":{"data_object":{"increment_id":"10","state":"1","order_increment_id":"000000003"}}}`,
			InvoiceSaved{EventName: "e", IncrementID: "10", State: 1, OrderIncrementID: "000000003"}},
		{"nested order", `{"data":{"invoice":{"increment_id":"11","state":"2","order":{"increment_id":"55"},"extension_attributes":[]}}}`,
			InvoiceSaved{IncrementID: "11", State: 2, OrderIncrementID: "55"}},
		{"plugin entity", `{"entity":{"increment_id":12,"state":3}}`, InvoiceSaved{IncrementID: "12", State: 3}},
		{"float state", `{"invoice":{"increment_id":"13","state":2.0}}`, InvoiceSaved{IncrementID: "13", State: 2}},
	}
	for _, c := range ok {
		got, err := DecodeInvoiceSaved([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	if inv, _ := DecodeInvoiceSaved([]byte(ok[0].body)); !inv.Captured() {
		t.Error("state 2 not captured")
	}
	if inv, _ := DecodeInvoiceSaved([]byte(ok[1].body)); inv.Captured() {
		t.Error("state 1 captured")
	}
	bad := []struct{ name, body, why string }{
		{"no invoice", `{"data":{"order":{}}}`, "invoice webhook: no record object"},
		{"no increment", `{"data":{"invoice":{"state":2}}}`, "invoice webhook: data.invoice.increment_id missing"},
		{"no state", `{"data":{"invoice":{"increment_id":"1"}}}`, "invoice webhook: data.invoice.state missing"},
		{"state word", `{"data":{"data_object":{"increment_id":"1","state":"paid"}}}`, "data.data_object.state"},
		{"state fraction", `{"data":{"invoice":{"increment_id":"1","state":2.5}}}`, "data.invoice.state"},
		{"state object", `{"data":{"invoice":{"increment_id":"1","state":{}}}}`, "data.invoice.state is not an integer"},
	}
	for _, c := range bad {
		_, err := DecodeInvoiceSaved([]byte(c.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: got %v, want ErrMalformed saying %q", c.name, err, c.why)
		}
	}
}

func TestDecodeCustomerCreated(t *testing.T) {
	ok := []struct {
		name, body string
		want       CustomerCreated
	}{
		{"register success", `{"eventName":"customer_register_success","data":{"customer":{"id":"12","email":"ann@example.com","firstname":"Ann","website_id":"1","group_id":1,"addresses":[],"extension_attributes":[]},"account_controller":[]}}`,
			CustomerCreated{EventName: "customer_register_success", ID: 12, Email: "ann@example.com", Firstname: "Ann", WebsiteID: 1, GroupID: 1}},
		{"email only", `{"data":{"customer":{"email":"b@example.com"}}}`, CustomerCreated{Email: "b@example.com"}},
		{"id only, entity_id", `{"data":{"data_object":{"entity_id":4}}}`, CustomerCreated{ID: 4}},
		{"plugin", `{"customer":{"id":5,"email":"c@example.com"},"passwordHash":null}`, CustomerCreated{ID: 5, Email: "c@example.com"}},
	}
	for _, c := range ok {
		got, err := DecodeCustomerCreated([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
	bad := []struct{ name, body, why string }{
		{"neither", `{"data":{"customer":{"firstname":"x"}}}`, "customer webhook: data.customer has neither id nor email"},
		{"empty object as []", `{"data":{"customer":[]}}`, "data.customer has neither id nor email"},
		{"bad id", `{"data":{"customer":{"id":"abc","email":"a@b"}}}`, "data.customer.id"},
		{"negative id", `{"data":{"customer":{"id":-3}}}`, "data.customer.id is negative"},
		{"email object", `{"data":{"customer":{"email":{}}}}`, "data.customer.email is not a string"},
		{"nothing", `{}`, "customer webhook: no record object"},
	}
	for _, c := range bad {
		_, err := DecodeCustomerCreated([]byte(c.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: got %v, want ErrMalformed saying %q", c.name, err, c.why)
		}
	}
}

func TestDecodeIOEvent(t *testing.T) {
	e, err := DecodeIOEvent([]byte(ioBody))
	if err != nil {
		t.Fatal(err)
	}
	if e.EventID != "ev-1" || e.ID != "ce-1" || e.RecipientClientID != "client-1" || e.Key != "k1" || e.DataSource != "shop.prod" ||
		e.Metadata.StoreID != 1 || e.EventName() != "sales_order_invoice_save_after" {
		t.Fatalf("%+v", e)
	}
	inv, err := e.Invoice()
	if err != nil || inv.IncrementID != "000000007" || !inv.Captured() || inv.OrderID != 3 || inv.GrandTotal.String() != "10.5" {
		t.Fatalf("%+v %v", inv, err)
	}
	if _, err := e.Order(); err != nil {
		t.Fatalf("order from invoice value: increment_id present, %v", err)
	}
	if _, err := e.Customer(); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "io event: data.value has neither id nor email") {
		t.Fatalf("customer: %v", err)
	}
	bad := []struct{ body, why string }{
		{`{"type":"t","data":{"value":{}}}`, "io event: event_id missing"},
		{`{"id":"1","data":{"value":{}}}`, "io event: type missing"},
		{`{"id":"1","type":"t"}`, "io event: data missing"},
		{`{"id":"1","type":"t","data":{"value":"x"}}`, "io event: data.value missing or not an object"},
	}
	for _, c := range bad {
		if _, err := DecodeIOEvent([]byte(c.body)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%s: %v", c.body, err)
		}
	}
}

func seedPayloads(f *testing.F) {
	for _, s := range []string{phpBody, ioBody, `{}`, `[]`, `null`, `{"data":[]}`, `{"data":{"order":[]}}`,
		`{"data":{"invoice":{"increment_id":"1","state":"2"}}}`, `{"data":{"customer":{"id":"1e3"}}}`,
		`{"order":{"increment_id":1e400}}`, `{"data":{"order":{"increment_id":"\u0000"}}}`} {
		f.Add([]byte(s))
	}
}

func FuzzDecodeOrderPlaced(f *testing.F) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOrderPlaced(b)
		if err == nil && o.IncrementID == "" {
			t.Fatal("accepted an empty increment_id")
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error without ErrMalformed: %v", err)
		}
	})
}

func FuzzDecodeInvoiceSaved(f *testing.F) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		i, err := DecodeInvoiceSaved(b)
		if err == nil && i.IncrementID == "" {
			t.Fatal("accepted an empty increment_id")
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error without ErrMalformed: %v", err)
		}
	})
}

func FuzzDecodeCustomerCreated(f *testing.F) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCustomerCreated(b)
		if err == nil && c.ID == 0 && c.Email == "" {
			t.Fatal("accepted a customer without id or email")
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error without ErrMalformed: %v", err)
		}
	})
}

func FuzzDecodeIOEvent(f *testing.F) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeIOEvent(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error without ErrMalformed: %v", err)
			}
			return
		}
		if e.EventID == "" {
			t.Fatal("accepted an event without id")
		}
		_, _ = e.Order()
		_, _ = e.Invoice()
		_, _ = e.Customer()
	})
}
