package ingest_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

const orderSubject = "commerce.order.placed.default"

func TestOrderDeliveredThreeTimesIsStoredOnce(t *testing.T) {
	h := newHarness(t, options{})
	o, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Delivery == nil || !o.Delivery.Success {
		t.Fatalf("first delivery not a success: %+v", o.Delivery)
	}
	// Commerce never retries, but a repeated business flow or a proxy can
	// deliver the same body again: replay the exact request twice.
	for range 2 {
		status, body := h.post("/webhooks/commerce/order-placed", o.Delivery.Body, o.Delivery.Header)
		if status != http.StatusOK || body != `{"op":"success"}` {
			t.Fatalf("repeat delivery: %d %s", status, body)
		}
	}
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d messages for one order, want 1", n)
	}
	ev, hdr := h.last(orderSubject)
	if string(ev.Data) != string(o.Delivery.Body) {
		t.Errorf("event data is not the webhook body byte-for-byte")
	}
	want := map[string]string{
		event.HeaderMsgID:  "order.placed:default:" + o.IncrementID,
		event.HeaderKey:    "order:default:" + o.IncrementID,
		event.HeaderOrigin: event.OriginWebhook,
	}
	for k, v := range want {
		if hdr[k] != v {
			t.Errorf("header %s = %q, want %q", k, hdr[k], v)
		}
	}
	if ev.Type != "commerce.order.placed" || ev.Source != "commerce://default" || ev.DataSchema != event.SchemaWebhook {
		t.Errorf("envelope = %+v", ev)
	}
	if got := h.metric(`mlc_ingest_duplicates_total{origin="webhook"}`); got != "2" {
		t.Errorf("duplicates metric = %q, want 2", got)
	}
}

func TestDroppedWebhookIsFoundByThePoll(t *testing.T) {
	h := newHarness(t, options{drop: 1, poll: true})
	o, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Delivery == nil || !o.Delivery.Dropped {
		t.Fatalf("delivery was not dropped: %+v", o.Delivery)
	}
	h.waitFor("the poll to publish the order", func() bool { return h.count(orderSubject) == 1 })
	ev, hdr := h.last(orderSubject)
	if hdr[event.HeaderOrigin] != event.OriginPoll || hdr[event.HeaderMsgID] != "order.placed:default:"+o.IncrementID {
		t.Errorf("headers = %v", hdr)
	}
	if ev.DataSchema != event.SchemaRESTOrder || !strings.Contains(string(ev.Data), `"increment_id":"`+o.IncrementID+`"`) {
		t.Errorf("event = %s %s", ev.DataSchema, ev.Data)
	}
	// Later polls see the order again (lookback) and must not store it twice.
	h.afterPolls(2)
	if got := h.metric(`mlc_ingest_duplicates_total{origin="poll"}`); got == "" || got == "0" {
		t.Errorf("later polls did not see the order again (poll duplicates %q)", got)
	}
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d messages after more polls, want 1", n)
	}
	if got := h.metric(`mlc_ingest_poll_only_total{kind="order",store="default"}`); got != "1" {
		t.Errorf("poll-only metric = %q, want 1", got)
	}
}

func TestWebhookAndPollOverlapStoreOnce(t *testing.T) {
	h := newHarness(t, options{poll: true})
	for range 5 {
		if _, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.count(orderSubject); n != 5 {
		t.Fatalf("%d messages for 5 orders delivered by webhook", n)
	}
	// Poll runs that started after the webhooks read the same orders again.
	h.afterPolls(2)
	if got, _ := strconv.Atoi(h.metric(`mlc_ingest_duplicates_total{origin="poll"}`)); got < 5 {
		t.Fatalf("the poll saw %d of the 5 orders", got)
	}
	if n := h.count(orderSubject); n != 5 {
		t.Fatalf("%d messages for 5 orders", n)
	}
	if got := h.metric(`mlc_ingest_poll_only_total{kind="order",store="default"}`); got != "" && got != "0" {
		t.Errorf("poll claims %s orders the webhooks had delivered", got)
	}
}

func TestUnsignedOrTamperedIsRejectedAndNothingStored(t *testing.T) {
	h := newHarness(t, options{})
	body := []byte(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"000009999","store_id":1}}}`)
	good := signCommerce(t, h.WebhookKey, body)
	other := servicetest.RSAKey(t)
	cases := []struct {
		name   string
		body   []byte
		header http.Header
		want   int
	}{
		{"no signature", body, http.Header{}, http.StatusUnauthorized},
		{"garbage signature", body, http.Header{"X-Adobe-Commerce-Webhook-Signature": {"not base64!"}}, http.StatusUnauthorized},
		{"tampered body", append([]byte(nil), strings.Replace(string(body), "9999", "9998", 1)...), http.Header{"X-Adobe-Commerce-Webhook-Signature": {good}}, http.StatusUnauthorized},
		{"other key", body, http.Header{"X-Adobe-Commerce-Webhook-Signature": {signCommerce(t, other, body)}}, http.StatusUnauthorized},
		{"unknown store", body, http.Header{"X-Adobe-Commerce-Webhook-Signature": {good}, "X-Mlc-Store": {"nowhere"}}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		status, resp := h.post("/webhooks/commerce/order-placed", c.body, c.header)
		if status != c.want {
			t.Errorf("%s: status %d (%s), want %d", c.name, status, resp, c.want)
		}
		if strings.Contains(resp, "op") {
			t.Errorf("%s: answer %s looks like a Commerce operation", c.name, resp)
		}
	}
	if n := h.total(); n != 0 {
		t.Fatalf("%d messages stored from rejected requests", n)
	}
	// The same body correctly signed is accepted: the rejections were about the signature.
	if status, _ := h.post("/webhooks/commerce/order-placed", body, http.Header{"X-Adobe-Commerce-Webhook-Signature": {good}}); status != http.StatusOK {
		t.Fatalf("correctly signed body: %d", status)
	}
	if got := h.metric(`mlc_ingest_signature_failures_total{store="default"}`); got != "4" {
		t.Errorf("signature failure metric = %q, want 4", got)
	}
}

func TestMalformedAndOversizedBodies(t *testing.T) {
	h := newHarness(t, options{env: map[string]string{"MLC_INGEST_MAX_BODY": "4096"}})
	sign := func(b []byte) http.Header {
		return http.Header{"X-Adobe-Commerce-Webhook-Signature": {signCommerce(t, h.WebhookKey, b)}}
	}
	for _, c := range []struct {
		name, path, body string
		want             int
		reason           string
	}{
		{"not json", "/webhooks/commerce/order-placed", `{"eventName":`, 400, ""},
		{"no increment id", "/webhooks/commerce/order-placed", `{"eventName":"sales_order_place_after","data":{"order":{"store_id":1}}}`, 400, "increment_id"},
		{"invoice without state", "/webhooks/commerce/invoice-captured", `{"eventName":"sales_order_invoice_save_after","data":{"invoice":{"increment_id":"1"}}}`, 400, "state"},
		{"unknown event", "/webhooks/commerce/order-shipped", `{}`, 404, "order-placed"},
	} {
		status, resp := h.post(c.path, []byte(c.body), sign([]byte(c.body)))
		if status != c.want || !strings.Contains(resp, c.reason) {
			t.Errorf("%s: %d %s, want %d mentioning %q", c.name, status, resp, c.want, c.reason)
		}
	}
	big := []byte(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"1","x":"` + strings.Repeat("a", 5000) + `"}}}`)
	if status, _ := h.post("/webhooks/commerce/order-placed", big, sign(big)); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", status)
	}
	// Without a Content-Length (chunked) the limit holds too.
	req, _ := http.NewRequest(http.MethodPost, h.svc.URL+"/webhooks/commerce/order-placed", strings.NewReader(string(big)))
	req.ContentLength = -1
	req.Header = sign(big)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked oversized body: %d, want 413", resp.StatusCode)
	}
	if n := h.total(); n != 0 {
		t.Fatalf("%d messages stored from bad requests", n)
	}
}

func TestInvoicesOnlyWhenPaidAndCustomers(t *testing.T) {
	h := newHarness(t, options{})
	ctx := context.Background()
	o, err := h.sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	open, err := h.sim.SaveInvoice(ctx, o.EntityID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.count("commerce.invoice.captured.default") != 0 {
		t.Fatalf("open invoice %s was published", open.IncrementID)
	}
	if got := h.metric(`mlc_ingest_ignored_total{reason="invoice-not-paid"}`); got != "1" {
		t.Errorf("ignored metric = %q", got)
	}
	paid, err := h.sim.CaptureInvoice(ctx, o.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("paid invoice", func() bool { return h.count("commerce.invoice.captured.default") == 1 })
	_, hdr := h.last("commerce.invoice.captured.default")
	if hdr[event.HeaderMsgID] != "invoice.captured:default:"+paid.IncrementID {
		t.Errorf("invoice msg id = %q", hdr[event.HeaderMsgID])
	}
	c, err := h.sim.RegisterCustomer(ctx, "default", commercesim.CustomerSpec{Email: "zoe@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("customer", func() bool { return h.count("commerce.customer.created.default") == 1 })
	_, hdr = h.last("commerce.customer.created.default")
	if want := "customer:default:" + itoa(c.ID); hdr[event.HeaderKey] != want {
		t.Errorf("customer key = %q, want %q", hdr[event.HeaderKey], want)
	}
}

func TestJetStreamOutageAnswersErrorAndPollRecovers(t *testing.T) {
	h := newHarness(t, options{poll: true, pollInterval: 300 * time.Millisecond, env: map[string]string{"MLC_INGEST_ACK_TIMEOUT": "500ms"}})
	h.StopNATS()

	o, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Delivery == nil || o.Delivery.Success || o.Delivery.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("delivery during the outage: %+v", o.Delivery)
	}
	// NATS comes back on the same port and data: ingest reconnects and the
	// backfill poll stores the order whose webhook failed.
	h.StartNATS()
	h.waitFor("the order after the outage", func() bool { return h.count(orderSubject) == 1 })
	_, hdr := h.last(orderSubject)
	if hdr[event.HeaderOrigin] != event.OriginPoll {
		t.Errorf("origin = %q, want poll", hdr[event.HeaderOrigin])
	}
}

func TestIOEventsChallenge(t *testing.T) {
	h := newHarness(t, options{})
	resp, err := http.Get(h.svc.URL + "/webhooks/adobe-io?challenge=abc123")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(b.String(), `"challenge":"abc123"`) {
		t.Fatalf("challenge: %d %s", resp.StatusCode, b.String())
	}
	// A delivery for a store without I/O Events keys is refused, not stored.
	status, _ := h.post("/webhooks/adobe-io", []byte(`{"specversion":"1.0"}`), http.Header{})
	if status != http.StatusUnauthorized {
		t.Errorf("unconfigured I/O Events delivery: %d", status)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLogsCarryRequestIDAndKeyButNoSecrets(t *testing.T) {
	h := newHarness(t, options{})
	o, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{Email: "private.buyer@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	sig := o.Delivery.Header.Get("X-Adobe-Commerce-Webhook-Signature")
	// A rejected request is logged too (at warn, always on).
	tampered := []byte(strings.Replace(string(o.Delivery.Body), o.IncrementID, "999999999", 1))
	if status, _ := h.post("/webhooks/commerce/order-placed", tampered, o.Delivery.Header); status != http.StatusUnauthorized {
		t.Fatalf("tampered: %d", status)
	}
	h.svc.Stop()
	logs := h.svc.Logs.String()
	if !strings.Contains(logs, o.Delivery.RequestID) || !strings.Contains(logs, "order:default:"+o.IncrementID) {
		t.Errorf("logs lack the Commerce request id or the business key:\n%s", logs)
	}
	oa := commercesim.DefaultOAuth1()
	for name, secret := range map[string]string{
		"consumer secret": oa.ConsumerSecret, "token secret": oa.AccessTokenSecret, "access token": oa.AccessToken,
		"webhook signature": sig, "buyer e-mail": "private.buyer@example.com",
	} {
		if secret != "" && strings.Contains(logs, secret) {
			t.Errorf("logs contain the %s", name)
		}
	}
}

func TestPollPublishesAnOrderOnlyAtItsFirstSighting(t *testing.T) {
	h := newHarness(t, options{drop: 1, poll: true, env: map[string]string{"MLC_POLL_LOOKBACK": "0s"}})
	ctx := context.Background()
	o, err := h.sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("first sighting", func() bool { return h.count(orderSubject) == 1 })
	// Commerce timestamps have second resolution: let the cursor move past
	// the order's creation, then change the order (updated_at moves).
	h.waitFor("a second after the creation", func() bool { return time.Since(o.CreatedAt) > 1100*time.Millisecond })
	if err := h.sim.UpdateOrderStatus(ctx, o.EntityID, "processing"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the poll to see the update", func() bool {
		return h.metric(`mlc_ingest_ignored_total{reason="order-seen-before"}`) != ""
	})
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d messages after the status change, want 1", n)
	}
}
