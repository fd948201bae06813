package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// ioDeliveries waits until the simulator has no I/O Events delivery pending
// and returns them all.
func (h *harness) ioDeliveries() []commercesim.IOEventDelivery {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.sim.WaitIOEvents(ctx); err != nil {
		h.t.Fatal(err)
	}
	return h.sim.IOEventDeliveries()
}

func TestIOEventsDeliveriesAreStored(t *testing.T) {
	h := newHarness(t, options{noWebhooks: true, io: &ioOptions{}})
	ctx := context.Background()
	// Registration: ingest echoes the challenge.
	if err := h.sim.ChallengeIOEvents(ctx); err != nil {
		t.Fatalf("challenge: %v", err)
	}
	o, err := h.sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
	if err != nil {
		t.Fatal(err)
	}
	if o.Delivery != nil {
		t.Fatalf("a Commerce webhook was sent: %+v", o.Delivery)
	}
	ds := h.ioDeliveries()
	if len(ds) != 1 || !ds[0].Delivered || fmt.Sprint(ds[0].StatusCodes()) != "[200]" || ds[0].Key != o.IncrementID {
		t.Fatalf("deliveries %+v", ds)
	}
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d messages for one order, want 1", n)
	}
	ev, hdr := h.last(orderSubject)
	if !bytes.Equal(ev.Data, ds[0].Body) {
		t.Errorf("event data is not the I/O Events body byte-for-byte:\n%s\n%s", ev.Data, ds[0].Body)
	}
	want := map[string]string{
		event.HeaderMsgID:  "order.placed:default:" + o.IncrementID,
		event.HeaderKey:    "order:default:" + o.IncrementID,
		event.HeaderOrigin: event.OriginIOEvents,
	}
	for k, v := range want {
		if hdr[k] != v {
			t.Errorf("header %s = %q, want %q", k, hdr[k], v)
		}
	}
	if ev.Type != "commerce.order.placed" || ev.DataSchema != event.SchemaIOEvent {
		t.Errorf("envelope %+v", ev)
	}

	// Invoices (paid only) and customers take the same path.
	if _, err := h.sim.SaveInvoice(ctx, o.EntityID, commercesim.InvoiceOpen); err != nil {
		t.Fatal(err)
	}
	paid, err := h.sim.CaptureInvoice(ctx, o.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.sim.RegisterCustomer(ctx, "default", commercesim.CustomerSpec{Email: "zoe@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range h.ioDeliveries() {
		if !d.Delivered {
			t.Fatalf("delivery %s %s: %s %v", d.Event, d.Key, d.Outcome, d.StatusCodes())
		}
	}
	if n := h.count("commerce.invoice.captured.default"); n != 1 {
		t.Fatalf("%d invoice messages, want 1 (the paid one)", n)
	}
	if _, hdr := h.last("commerce.invoice.captured.default"); hdr[event.HeaderMsgID] != "invoice.captured:default:"+paid.IncrementID {
		t.Errorf("invoice msg id %q", hdr[event.HeaderMsgID])
	}
	if n := h.count("commerce.customer.created.default"); n != 1 {
		t.Fatalf("%d customer messages", n)
	}
	if _, hdr := h.last("commerce.customer.created.default"); hdr[event.HeaderKey] != "customer:default:"+itoa(c.ID) || hdr[event.HeaderOrigin] != event.OriginIOEvents {
		t.Errorf("customer headers %v", hdr)
	}
}

// lossyProxy forwards every request to target but answers the first one with
// 503 after ingest has handled it: the response was lost, so I/O Events
// retries an event ingest already stored.
type lossyProxy struct {
	mu       sync.Mutex
	upstream []int // ingest's status per forwarded request
	retry    []string
}

func (p *lossyProxy) start(t *testing.T, target string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := http.NewRequest(r.Method, target, bytes.NewReader(body))
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		p.mu.Lock()
		first := len(p.upstream) == 0
		p.upstream = append(p.upstream, resp.StatusCode)
		p.retry = append(p.retry, r.Header.Get(commercesim.HeaderIORetryCount))
		p.mu.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(rb)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestIOEventsRetriedDeliveryIsStoredOnce(t *testing.T) {
	p := &lossyProxy{}
	h := newHarness(t, options{noWebhooks: true, io: &ioOptions{via: func(target string) string { return p.start(t, target) }}})
	o, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
	if err != nil {
		t.Fatal(err)
	}
	ds := h.ioDeliveries()
	if len(ds) != 1 || !ds[0].Delivered || fmt.Sprint(ds[0].StatusCodes()) != "[503 200]" {
		t.Fatalf("deliveries %+v", ds)
	}
	p.mu.Lock()
	upstream, retry := fmt.Sprint(p.upstream), fmt.Sprintf("%q", p.retry)
	p.mu.Unlock()
	if upstream != "[200 200]" || retry != `["" "1"]` {
		t.Fatalf("ingest answered %s to attempts with retry counts %s", upstream, retry)
	}
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d messages after a retried delivery, want 1", n)
	}
	ev, hdr := h.last(orderSubject)
	if hdr[event.HeaderMsgID] != "order.placed:default:"+o.IncrementID || !bytes.Equal(ev.Data, ds[0].Body) {
		t.Errorf("headers %v", hdr)
	}
	if got := h.metric(`mlc_ingest_duplicates_total{origin="io-events"}`); got != "1" {
		t.Errorf("duplicates metric = %q, want 1", got)
	}
}

func TestIOEventsJetStreamOutageIsRetried(t *testing.T) {
	sched := make([]time.Duration, 60)
	for i := range sched {
		sched[i] = 200 * time.Millisecond
	}
	h := newHarness(t, options{noWebhooks: true, io: &ioOptions{schedule: sched},
		env: map[string]string{"MLC_INGEST_ACK_TIMEOUT": "300ms"}})
	h.StopNATS()
	o, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor("ingest to answer 503", func() bool {
		ds := h.sim.IOEventDeliveries()
		return len(ds) == 1 && len(ds[0].Attempts) > 0
	})
	if first := h.sim.IOEventDeliveries()[0].Attempts[0]; first.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("first attempt during the outage: %d %s %s", first.StatusCode, first.Error, first.ResponseBody)
	}
	h.StartNATS()
	ds := h.ioDeliveries()
	d := ds[0]
	if !d.Delivered || len(d.Attempts) < 2 {
		t.Fatalf("delivery %s %v", d.Outcome, d.StatusCodes())
	}
	if last := d.Attempts[len(d.Attempts)-1]; last.Header.Get(commercesim.HeaderIORetryCount) != itoa(len(d.Attempts)-1) {
		t.Errorf("last attempt retry count %q", last.Header.Get(commercesim.HeaderIORetryCount))
	}
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	if _, hdr := h.last(orderSubject); hdr[event.HeaderOrigin] != event.OriginIOEvents || hdr[event.HeaderMsgID] != "order.placed:default:"+o.IncrementID {
		t.Errorf("headers %v", hdr)
	}
}

func TestIOEventsWrongRecipientIsRejectedAndNotRetried(t *testing.T) {
	h := newHarness(t, options{noWebhooks: true, io: &ioOptions{clientID: "someone-else", rule: commercesim.RetryRuleCurrent}})
	if _, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest}); err != nil {
		t.Fatal(err)
	}
	ds := h.ioDeliveries()
	if len(ds) != 1 || ds[0].Delivered || fmt.Sprint(ds[0].StatusCodes()) != "[400]" ||
		ds[0].Outcome != "not retried: status 400 (current rule)" || !strings.Contains(ds[0].Attempts[0].ResponseBody, "recipient_client_id") {
		t.Fatalf("deliveries %+v", ds)
	}
	if n := h.total(); n != 0 {
		t.Fatalf("%d messages stored from a delivery for another client", n)
	}
}

func TestOrderViaWebhookAndIOEventsIsStoredOnce(t *testing.T) {
	h := newHarness(t, options{io: &ioOptions{}})
	o, err := h.sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{Buyer: commercesim.BuyerGuest})
	if err != nil {
		t.Fatal(err)
	}
	if o.Delivery == nil || !o.Delivery.Success {
		t.Fatalf("webhook %+v", o.Delivery)
	}
	ds := h.ioDeliveries()
	if len(ds) != 1 || !ds[0].Delivered || fmt.Sprint(ds[0].StatusCodes()) != "[200]" {
		t.Fatalf("I/O Events deliveries %+v", ds)
	}
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d messages for an order delivered twice, want 1", n)
	}
	ev, hdr := h.last(orderSubject)
	// The webhook is synchronous, so it was first; the I/O event is the duplicate.
	if hdr[event.HeaderOrigin] != event.OriginWebhook || !bytes.Equal(ev.Data, o.Delivery.Body) {
		t.Errorf("stored %s from %q", ev.DataSchema, hdr[event.HeaderOrigin])
	}
	if got := h.metric(`mlc_ingest_duplicates_total{origin="io-events"}`); got != "1" {
		t.Errorf("io-events duplicates metric = %q, want 1", got)
	}
}
