package devstack_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// The demo's traffic goes all the way through the one-process stack: every
// order, invoice and buyer reaches NetSuite once, and the demo's stock and
// price changes reach the storefront.
func TestDemoFlowKeepsItsPromises(t *testing.T) {
	ctx := context.Background()
	o := devstack.Options{Dir: t.TempDir(), NATSPort: -1, LogOut: &syncBuffer{}, NoClickHouse: true, DemoSettings: true}
	o.Sims.Commerce.Webhooks.DropRate, o.Sims.Commerce.Webhooks.DuplicateRate = 0.1, 0.2
	st, err := devstack.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	_, js := natstest.Connect(t, st.NATS)
	demo := devstack.NewDemo(st.Sims.Commerce, st.Sims.NetSuite, devstack.DemoOptions{Rate: 20, Orders: 12, Seed: 3, ChangeEvery: 2})
	if err := demo.Run(ctx); err != nil {
		t.Fatal(err)
	}
	c := demo.Counts()
	if c.Orders != 12 || c.StockChanges == 0 || c.PriceChanges == 0 {
		t.Fatalf("demo did %+v, want 12 orders and stock and price changes", c)
	}
	var rep devstack.Report
	deadline := time.Now().Add(90 * time.Second)
	for {
		if rep, err = devstack.Verify(ctx, devstack.Check{Commerce: st.Sims.Commerce, NetSuite: st.Sims.NetSuite, JS: js, Stock: demo.Stock()}); err != nil {
			t.Fatal(err)
		}
		if rep.OK() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flow did not settle: %+v", rep)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if rep.Orders != 12 || rep.SalesOrders != 12 || rep.NSInvoices != rep.Invoices || rep.Stock == 0 {
		t.Errorf("report %+v", rep)
	}
	s, err := devstack.Snapshot(ctx, st.Sims, js)
	if err != nil {
		t.Fatal(err)
	}
	if s.Placed != 12 || s.SalesOrders != 12 || s.Lag != 0 || s.StockWrites == 0 || !strings.Contains(s.Line(), "12 in NetSuite") {
		t.Errorf("status %+v: %s", s, s.Line())
	}
}

// Verify reports what is broken: an order NetSuite never got, a message
// no consumer took, a dead letter (with its reason).
func TestVerifyFindsLostOrdersBacklogAndDeadLetters(t *testing.T) {
	ctx := context.Background()
	ns := natstest.RunServer(t)
	_, js := natstest.Connect(t, ns)
	if _, err := stream.ApplyDeclared(ctx, js, nil); err != nil {
		t.Fatal(err)
	}
	cm := commercesim.NewTestServer(t, commercesim.Config{})
	nsim := netsuitesim.NewTestServer(t, netsuitesim.Config{})
	o, err := cm.PlaceOrder(ctx, "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	// A fact nobody consumed, and a dead letter.
	if _, err := js.Publish(ctx, event.CommerceSubject(event.OrderPlaced, "default"), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	dl := event.DeadLetter{Reason: "order 1: SKU X has no NetSuite item", Subject: "commerce.order.placed.default", Stream: "COMMERCE",
		Seq: 1, Consumer: "transform", At: time.Now(), Header: nats.Header{}, Data: []byte("{}")}
	if _, err := js.PublishMsg(ctx, dl.Msg()); err != nil {
		t.Fatal(err)
	}
	rep, err := devstack.Verify(ctx, devstack.Check{Commerce: cm, NetSuite: nsim, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"order " + o.IncrementID + " (default) is not in NetSuite",
		"consumer COMMERCE/transform: 1 pending",
		"DLQ (1): order 1: SKU X has no NetSuite item",
	}
	got := strings.Join(rep.Problems, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	if rep.OK() || rep.Lost != 1 || rep.DLQ != 1 || rep.Unacked != 1 || rep.Orders != 1 {
		t.Errorf("report %+v", rep)
	}
	// A dead letter from before Since is an earlier run's and allowed ones
	// are counted but no problem.
	rep, _ = devstack.Verify(ctx, devstack.Check{Commerce: cm, NetSuite: nsim, JS: js, AllowDLQ: true})
	if rep.DLQ != 1 || strings.Contains(strings.Join(rep.Problems, "\n"), "DLQ") {
		t.Errorf("AllowDLQ: %+v", rep)
	}
	rep, _ = devstack.Verify(ctx, devstack.Check{Commerce: cm, NetSuite: nsim, JS: js, Since: time.Now().Add(time.Minute)})
	if rep.DLQ != 0 {
		t.Errorf("Since: %+v", rep)
	}
}

// A dev stack's earlier runs stay on the streams; the status counts from
// the demo's start and never goes negative.
func TestStatusSince(t *testing.T) {
	got := devstack.Status{Placed: 4, Received: 5, DLQ: 1}.Since(devstack.Status{Received: 3, DLQ: 2})
	if got.Placed != 4 || got.Received != 2 || got.DLQ != 0 {
		t.Fatalf("%+v", got)
	}
}

// Verify counts what NetSuite holds twice: an order's lines doubled by an
// upsert that appended them again, and one buyer as two customers.
func TestVerifyFindsDoubledLinesAndBuyers(t *testing.T) {
	ctx := context.Background()
	ns := natstest.RunServer(t)
	_, js := natstest.Connect(t, ns)
	if _, err := stream.ApplyDeclared(ctx, js, nil); err != nil {
		t.Fatal(err)
	}
	sims, err := devstack.StartSims(devstack.SimOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sims.Stop(ctx)
	o, err := sims.Commerce.PlaceOrder(ctx, "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sims.NetSuiteConnection().Client()
	if err != nil {
		t.Fatal(err)
	}
	var cust string
	for _, eid := range []string{"mlc-cust-default-1", "mlc-cust-default-e0123"} {
		if cust, err = c.Upsert(ctx, "customer", eid, map[string]any{"isPerson": true, "firstName": "Ann", "lastName": "Lee",
			"email": "Ann@Example.com", "subsidiary": map[string]any{"id": "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	ext, err := event.SalesOrderExternalID("default", o.IncrementID)
	if err != nil {
		t.Fatal(err)
	}
	record := map[string]any{"entity": map[string]any{"id": cust}, "item": map[string]any{"items": []any{
		map[string]any{"item": map[string]any{"id": "101"}, "quantity": 1, "rate": 32}}}}
	for range 2 { // an upsert without ?replace=item appends the lines again
		if _, err := c.Upsert(ctx, "salesOrder", ext, record); err != nil {
			t.Fatal(err)
		}
	}
	body, err := json.Marshal(record)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.NewPublisher(js).Publish(ctx, event.NetSuiteCommand{Kind: event.KindSalesOrder, Store: "default",
		SourceID: o.IncrementID, ExternalID: ext, Record: body,
		Customer: &event.CustomerRef{BuyerKey: "1", ExternalID: "mlc-cust-default-1", Record: json.RawMessage(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	rep, err := devstack.Verify(ctx, devstack.Check{Commerce: sims.Commerce, NetSuite: sims.NetSuite, JS: js})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rep.Problems, "\n")
	for _, w := range []string{"sales order " + ext + " has 2 item lines, its command 1", "buyer ann@example.com is 2 NetSuite customers"} {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
	if rep.Duplicates != 2 || rep.Lost != 0 || rep.SalesOrders != 1 || rep.Customers != 2 {
		t.Errorf("report %+v", rep)
	}
}
