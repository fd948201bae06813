package ingest_test

import (
	"context"
	"net/http"
	"testing"

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
