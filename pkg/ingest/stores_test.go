package ingest_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// Commerce lists every store's orders through any store code, and one hook
// serves all stores with the same headers: each fact must still be filed
// under its own store, exactly once.
func TestEachOrderIsFiledUnderItsOwnStore(t *testing.T) {
	h := newHarness(t, options{stores: []string{"default", "uk"}, poll: true, drop: 1})
	ctx := context.Background()
	want := map[string]string{} // increment id -> store
	for _, store := range []string{"default", "uk", "uk", "default", "uk"} {
		o, err := h.sim.PlaceOrder(ctx, store, commercesim.OrderSpec{})
		if err != nil {
			t.Fatal(err)
		}
		want[o.IncrementID] = store
	}
	h.waitFor("the poll to file every order", func() bool {
		return h.count("commerce.order.placed.default")+h.count("commerce.order.placed.uk") >= 5
	})
	h.afterPolls(2) // more poll runs over the same orders: nothing may be filed twice or under the other store
	if d, u := h.count("commerce.order.placed.default"), h.count("commerce.order.placed.uk"); d != 2 || u != 3 {
		t.Fatalf("default %d, uk %d; want 2 and 3", d, u)
	}
}

func TestWebhookIsFiledByPayloadStoreNotHeader(t *testing.T) {
	h := newHarness(t, options{stores: []string{"default", "uk"}})
	o, err := h.sim.PlaceOrder(context.Background(), "uk", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if h.count("commerce.order.placed.uk") != 1 {
		t.Fatal("uk order not filed under uk")
	}
	// The same body with the header of the other store (one global hook).
	hdr := o.Delivery.Header.Clone()
	hdr.Set("X-Mlc-Store", "default")
	if status, body := h.post("/webhooks/commerce/order-placed", o.Delivery.Body, hdr); status != http.StatusOK {
		t.Fatalf("repeat with the default header: %d %s", status, body)
	}
	if d, u := h.count("commerce.order.placed.default"), h.count("commerce.order.placed.uk"); d != 0 || u != 1 {
		t.Fatalf("default %d, uk %d; want 0 and 1", d, u)
	}
	_, hdrs := h.last("commerce.order.placed.uk")
	if hdrs[event.HeaderMsgID] != "order.placed:uk:"+o.IncrementID {
		t.Errorf("msg id %q", hdrs[event.HeaderMsgID])
	}
}

func TestOrderOfAStoreNotConnectedIsIgnored(t *testing.T) {
	h := newHarness(t, options{})
	o, err := h.sim.PlaceOrder(context.Background(), "uk", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	// The simulator's per-store header names uk, which is not connected.
	if o.Delivery.StatusCode != http.StatusUnauthorized {
		t.Fatalf("uk webhook with the uk header: %d", o.Delivery.StatusCode)
	}
	// Through the default store's hook the payload still says store 2.
	hdr := o.Delivery.Header.Clone()
	hdr.Set("X-Mlc-Store", "default")
	if status, body := h.post("/webhooks/commerce/order-placed", o.Delivery.Body, hdr); status != http.StatusOK {
		t.Fatalf("through the default hook: %d %s", status, body)
	}
	if n := h.total(); n != 0 {
		t.Fatalf("%d messages stored for a store that is not connected", n)
	}
	if got := h.metric(`mlc_ingest_ignored_total{reason="store-not-connected"}`); got != "1" {
		t.Errorf("ignored metric = %q", got)
	}
}

// `mlc credentials delete commerce.en__us` revokes store en_us: its signed
// webhooks are refused and the poll no longer reads it with the deleted
// credentials, whatever characters the store code has.
func TestDeletedConnectionIsRevokedWhateverTheStoreCode(t *testing.T) {
	for _, code := range []string{"en_us", "us.east"} {
		t.Run(code, func(t *testing.T) {
			h := newHarness(t, options{poll: true, stores: []string{"default", code},
				simStores: []commercesim.Store{{Code: "default", ID: 1}, {Code: code, ID: 2}}})
			ctx := context.Background()
			subject := event.CommerceSubject(event.OrderPlaced, code)
			o, err := h.sim.PlaceOrder(ctx, code, commercesim.OrderSpec{})
			if err != nil {
				t.Fatal(err)
			}
			if !o.Delivery.Success || h.count(subject) != 1 {
				t.Fatalf("before the deletion: %+v, %d stored", o.Delivery, h.count(subject))
			}
			if err := h.Secrets.Delete(ctx, connection.CommerceSecretName(code)); err != nil {
				t.Fatal(err)
			}
			h.waitFor("ingest to drop the store", func() bool { return h.logged(`"store":"`+code+`"`, "store disconnected") })

			o2, err := h.sim.PlaceOrder(ctx, code, commercesim.OrderSpec{})
			if err != nil {
				t.Fatal(err)
			}
			if o2.Delivery.StatusCode != http.StatusUnauthorized {
				t.Fatalf("webhook of the deleted store: %d %s", o2.Delivery.StatusCode, o2.Delivery.ResponseBody)
			}
			// Through the other store's hook the payload still names store 2.
			hdr := o2.Delivery.Header.Clone()
			hdr.Set("X-Mlc-Store", "default")
			if status, body := h.post("/webhooks/commerce/order-placed", o2.Delivery.Body, hdr); status != http.StatusOK {
				t.Fatalf("through the default hook: %d %s", status, body)
			}
			h.afterPolls(2)
			if n := h.count(subject); n != 1 {
				t.Fatalf("%d orders stored for %s after its deletion, want 1 (from before)", n, code)
			}
		})
	}
}
