package ingest

import (
	"encoding/json"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/event"
)

func FuzzDecodeWebhook(f *testing.F) {
	seeds := []string{
		`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"000000001","store_id":1}}}`,
		`{"order":{"increment_id":7}}`,
		`{"eventName":"sales_order_invoice_save_after","data":{"invoice":{"increment_id":"1","state":2},"data_object":[]}}`,
		`{"eventName":"customer_register_success","data":{"customer":{"id":"5","email":"a@b.c"},"account_controller":[]}}`,
		`{"data":{"customer":{"email":"A@B.C"}}}`,
		`[]`, `null`, `{"data":[]}`, "\xff",
	}
	for _, s := range seeds {
		for _, kind := range []string{event.OrderPlaced, event.InvoiceCaptured, event.CustomerCreated} {
			f.Add(kind, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		fact, _, ignore, err := decodeWebhook(kind, "default", raw)
		if err == nil && !json.Valid(raw) {
			// publish trusts the decoder's validation (stream.DataValidated).
			t.Fatalf("decoded a body that is not JSON: %q", raw)
		}
		if err != nil || ignore != "" {
			return
		}
		switch kind {
		case event.OrderPlaced, event.InvoiceCaptured, event.CustomerCreated:
			if fact.ID == "" {
				t.Fatalf("accepted %s without a business key: %+v", kind, fact)
			}
			if string(fact.Raw) != string(raw) {
				t.Fatal("raw body not kept byte-for-byte")
			}
		}
	})
}
