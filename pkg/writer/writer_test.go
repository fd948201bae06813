package writer_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// client is a NetSuite client on the stored connection, for the test's own
// setup (customers "created outside ml-connector").
func (e *env) client() *netsuite.Client {
	e.t.Helper()
	n, err := connection.LoadNetSuite(e.ctx, e.Secrets)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := n.Client()
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// createElsewhere makes a customer the way another integration or a person
// would: no externalId.
func (e *env) createElsewhere(c *netsuite.Client, b buyer, sub string) string {
	e.t.Helper()
	id, err := c.Create(e.ctx, netsuite.TypeCustomer, map[string]any{"isPerson": true, "firstName": b.first, "lastName": b.last,
		"email": strings.ToUpper(b.email), "subsidiary": map[string]string{"id": sub}})
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// 1,000 orders from many buyers: exactly 1,000 sales orders with their
// lines once, one customer per new buyer, repeat buyers created elsewhere
// matched by e-mail in the subsidiary, never more requests in flight than
// the account allows, and tokens renewed once per expiry.
func TestThousandOrders(t *testing.T) {
	const orders, buyers = 1000, 300
	e := newEnv(t, netsuitesim.Config{ConcurrencyLimit: 5, Latency: time.Millisecond, LatencyJitter: 2 * time.Millisecond,
		TokenLifetime: 4 * time.Second}, settingsFor(5))
	ns := e.client()
	var bs []buyer
	for i := 0; i < buyers; i++ {
		b := buyer{first: fmt.Sprintf("Ann%d", i), last: "Lee", email: fmt.Sprintf("buyer%d@example.com", i)}
		if i%3 == 0 {
			b.id = int64(5000 + i) // registered; the rest are guests
		}
		bs = append(bs, b)
	}
	// Buyers 0..39 exist already (another integration made them): matched.
	// Buyer 40 exists only in another subsidiary: a new customer.
	// Buyer 41 exists twice: the lower id is chosen.
	want := map[string]string{} // buyer's customer externalId -> expected NetSuite id ("" = created)
	for i := 0; i < 40; i++ {
		want[bs[i].ref("default").ExternalID] = e.createElsewhere(ns, bs[i], subsidiary)
	}
	e.createElsewhere(ns, bs[40], "3")
	low := e.createElsewhere(ns, bs[41], subsidiary)
	e.createElsewhere(ns, bs[41], subsidiary)
	want[bs[41].ref("default").ExternalID] = low
	before := len(e.NetSuite.Records(netsuite.TypeCustomer))

	var cmds []event.NetSuiteCommand
	for n := 0; n < orders; n++ {
		b := bs[n%buyers]
		if n%7 == 1 {
			b = bs[(n-1)%buyers] // back to back with the previous order: the same new buyer twice at once
		}
		cmds = append(cmds, orderCommand("default", increment(n), b, linesFor(n)))
	}
	started := time.Now()
	e.start()
	e.publish(cmds...)
	outs := e.waitOutcomes(orders)
	elapsed := time.Since(started)

	sos := records(e.NetSuite, netsuite.TypeSalesOrder)
	if len(sos) != orders {
		t.Fatalf("%d sales orders, want %d", len(sos), orders)
	}
	custs := e.NetSuite.Records(netsuite.TypeCustomer)
	byExt := map[string]int{}
	idOf := map[string]string{}
	for _, c := range custs {
		if c.ExternalID != "" {
			byExt[c.ExternalID]++
			idOf[c.ExternalID] = c.ID
		}
	}
	used := map[string]bool{}
	for n, c := range cmds {
		used[c.Customer.ExternalID] = true
		so, ok := sos[c.ExternalID]
		if !ok {
			t.Fatalf("order %d missing", n)
		}
		if got, want := lineCount(so), len(linesFor(n)); got != want {
			t.Errorf("%s has %d lines, want %d", c.ExternalID, got, want)
		}
		wantCust := want[c.Customer.ExternalID]
		if wantCust == "" {
			wantCust = idOf[c.Customer.ExternalID]
		}
		if got := refID(so.Fields["entity"]); got != wantCust || got == "" {
			t.Errorf("%s entity %q, want %q", c.ExternalID, got, wantCust)
		}
		o := outs[c.ExternalID]
		if o.Status != event.StatusOK || o.InternalID != so.ID || o.NetSuiteCalls < 2 || o.CommandID == "" {
			t.Errorf("%s outcome %+v (record %s)", c.ExternalID, o, so.ID)
		}
	}
	newBuyers := len(used) - len(want)
	if got := len(custs) - before; got != newBuyers {
		t.Errorf("%d customers created, want %d (one per buyer not found by e-mail)", got, newBuyers)
	}
	for ext, n := range byExt {
		if n != 1 {
			t.Errorf("customer %s exists %d times", ext, n)
		}
	}
	if _, ok := byExt[bs[40].ref("default").ExternalID]; !ok {
		t.Error("a buyer known only in another subsidiary was not created in its own")
	}
	st := e.NetSuite.Stats()
	if len(st.DuplicateExternalIDs) != 0 {
		t.Errorf("duplicate creates: %v", st.DuplicateExternalIDs)
	}
	if st.PeakOffered > 5 || st.Throttled != 0 {
		t.Errorf("peak offered %d, throttled %d: the writer went over the account's limit of 5", st.PeakOffered, st.Throttled)
	}
	if got := e.consumerMaxAckPending(); got != 5 {
		t.Errorf("max_ack_pending %d, want the budget 5", got)
	}
	// Tokens last 4 s and are renewed at half-life: one exchange per
	// renewal, not per request or burst (+2: the first and the setup's).
	if limit := int(elapsed/(2*time.Second)) + 3; st.TokenRequests > limit {
		t.Errorf("%d token requests in %v, want at most %d", st.TokenRequests, elapsed.Round(time.Millisecond), limit)
	}
	t.Logf("%d orders in %v: %d NetSuite calls (%.1f per order), %d token requests, peak %d",
		orders, elapsed.Round(time.Millisecond), st.Requests, float64(st.Requests)/orders, st.TokenRequests, st.PeakOffered)
}

// Invoices whose commands arrive before their orders' wait for them (they
// neither fail nor hold the account's concurrency: the orders behind them
// get through) and are then created once each, from their order.
func TestInvoicesWaitForTheirOrders(t *testing.T) {
	const n = 60
	e := newEnv(t, netsuitesim.Config{ConcurrencyLimit: 5, Latency: time.Millisecond}, settingsFor(5))
	b := buyer{id: 77, first: "Bo", last: "Kim", email: "bo@example.com"}
	var invoices, orders []event.NetSuiteCommand
	for i := 0; i < n; i++ {
		mode := event.InvoiceFromOrder
		if i%6 == 5 {
			mode = event.InvoiceDirect
		}
		invoices = append(invoices, invoiceCommand("default", increment(i), b, mode, linesFor(i)))
		orders = append(orders, orderCommand("default", increment(i), b, linesFor(i)))
	}
	e.publish(invoices...)
	e.publish(orders...)
	svc := e.start()
	outs := e.waitOutcomes(2 * n)

	sos := records(e.NetSuite, netsuite.TypeSalesOrder)
	invs := records(e.NetSuite, netsuite.TypeInvoice)
	if len(sos) != n || len(invs) != n {
		t.Fatalf("%d sales orders and %d invoices, want %d each", len(sos), len(invs), n)
	}
	for i, c := range invoices {
		inv, so := invs[c.ExternalID], sos[c.Invoice.SalesOrderExternalID]
		if o := outs[c.ExternalID]; o.Status != event.StatusOK || o.InternalID != inv.ID {
			t.Errorf("%s outcome %+v", c.ExternalID, o)
		}
		// Transaction ids grow: the invoice was made after its order.
		if !idLess(so.ID, inv.ID) {
			t.Errorf("invoice %s (%s) is older than its order %s", c.ExternalID, inv.ID, so.ID)
		}
		if got := lineCount(inv); got != len(linesFor(i)) {
			t.Errorf("%s has %d lines, want %d", c.ExternalID, got, len(linesFor(i)))
		}
		if c.Invoice.Mode == event.InvoiceFromOrder && refID(inv.Fields["createdFrom"]) != so.ID {
			t.Errorf("%s createdFrom %v, want %s", c.ExternalID, inv.Fields["createdFrom"], so.ID)
		}
	}
	if st := e.NetSuite.Stats(); len(st.DuplicateExternalIDs) != 0 || st.PeakOffered > 5 {
		t.Errorf("stats %+v", st)
	}
	if v := svc.Metric(t, `mlc_writer_invoice_waits_total{action="requeue"}`); v == "" || v == "0" {
		t.Errorf("no invoice was requeued behind the orders (requeues %q)", v)
	}
	if got := e.Count(t, event.StreamDLQ, "dlq.>"); got != 0 {
		t.Errorf("%d dead letters", got)
	}
}

func idLess(a, b string) bool { return len(a) < len(b) || len(a) == len(b) && a < b }

// An invoice whose order never comes waits for the invoice_wait setting,
// then goes to the DLQ naming the missing order.
func TestInvoiceWaitIsBounded(t *testing.T) {
	set := settingsFor(3)
	set.InvoiceWait = writer.Duration(1500 * time.Millisecond)
	e := newEnv(t, netsuitesim.Config{}, set)
	b := buyer{id: 8, first: "Cy", last: "Ong", email: "cy@example.com"}
	inv := invoiceCommand("default", increment(1), b, event.InvoiceFromOrder, nil)
	e.publish(inv)
	e.start()
	d := e.deadLetters(1)[0]
	if !strings.Contains(d.Reason, inv.Invoice.SalesOrderExternalID) || !strings.Contains(d.Reason, "still not in NetSuite") ||
		!strings.Contains(d.Reason, inv.ExternalID) {
		t.Fatalf("reason %q", d.Reason)
	}
	o := e.waitOutcomes(1)[inv.ExternalID]
	if o.Status != event.StatusFailed || !strings.Contains(o.Error, inv.Invoice.SalesOrderExternalID) {
		t.Fatalf("outcome %+v", o)
	}
	if n := len(e.NetSuite.Records(netsuite.TypeInvoice)); n != 0 {
		t.Fatalf("%d invoices", n)
	}
}

// With the account's limit at 5 and NetSuite failing at random (500s),
// failing after committing (500 after the write, dropped connections after
// the write), every command succeeds once: no duplicate record, no
// duplicated line, never more than 5 requests in flight.
func TestFaults(t *testing.T) {
	const n = 80
	e := newEnv(t, netsuitesim.Config{ConcurrencyLimit: 5, Latency: time.Millisecond, ErrorRate: 0.05, Seed: 7}, settingsFor(5))
	e.NetSuite.FailNext("record/v1/salesOrder", 40, netsuitesim.Fault500AfterWrite)
	e.NetSuite.FailNext("record/v1/invoice", 20, netsuitesim.Fault500AfterWrite)
	e.NetSuite.FailNext("record/v1/customer", 10, netsuitesim.Fault500AfterWrite)
	e.NetSuite.FailNext("record/v1/salesOrder", 20, netsuitesim.FaultDropAfterWrite)
	var cmds []event.NetSuiteCommand
	for i := 0; i < n; i++ {
		b := buyer{id: int64(1 + i%30), first: "Di", last: fmt.Sprint(i % 30), email: fmt.Sprintf("di%d@example.com", i%30)}
		cmds = append(cmds, orderCommand("default", increment(i), b, linesFor(i)),
			invoiceCommand("default", increment(i), b, event.InvoiceFromOrder, nil))
	}
	e.publish(cmds...)
	e.start()
	outs := e.waitOutcomes(len(cmds))
	for _, c := range cmds {
		if o := outs[c.ExternalID]; o.Status != event.StatusOK {
			t.Errorf("%s: %+v", c.ExternalID, o)
		}
	}
	sos, invs := records(e.NetSuite, netsuite.TypeSalesOrder), records(e.NetSuite, netsuite.TypeInvoice)
	if len(sos) != n || len(invs) != n {
		t.Fatalf("%d orders, %d invoices; want %d each", len(sos), len(invs), n)
	}
	for i := 0; i < n; i++ {
		so := sos[cmds[2*i].ExternalID]
		if lineCount(so) != len(linesFor(i)) || lineCount(invs[cmds[2*i+1].ExternalID]) != len(linesFor(i)) {
			t.Errorf("order %d: %d lines, invoice %d lines, want %d", i, lineCount(so), lineCount(invs[cmds[2*i+1].ExternalID]), len(linesFor(i)))
		}
	}
	if got := len(e.NetSuite.Records(netsuite.TypeCustomer)); got != 30 {
		t.Errorf("%d customers, want 30", got)
	}
	st := e.NetSuite.Stats()
	if st.ErrorsInjected < 60 || len(st.DuplicateExternalIDs) != 0 || st.PeakOffered > 5 || st.Throttled != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A record NetSuite refuses goes to the DLQ with NetSuite's details, the
// field it blames included; the commands around it are not held up.
func TestValidationErrorToDLQ(t *testing.T) {
	e := newEnv(t, netsuitesim.Config{}, nil)
	b := buyer{id: 9, first: "Ed", last: "Nu", email: "ed@example.com"}
	bad := orderCommand("default", increment(1), b, []line{{"101", 1, "32.00", "ok"}, {"9999", 1, "1.00", "no such item"}})
	good := orderCommand("default", increment(2), b, linesFor(2))
	e.publish(bad, good)
	e.start()
	d := e.deadLetters(1)[0]
	for _, want := range []string{bad.ExternalID, "item.items[1].item", "INVALID_CONTENT", "9999"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason %q lacks %q", d.Reason, want)
		}
	}
	if cmd, _, err := event.DecodeNetSuiteCommand(d.Data); err != nil || cmd.ExternalID != bad.ExternalID || d.Attempts != 1 {
		t.Errorf("dead letter does not carry the command: %v %+v", err, d)
	}
	outs := e.waitOutcomes(2)
	o := outs[bad.ExternalID]
	if o.Status != event.StatusFailed || o.ErrorCode != "INVALID_CONTENT" || o.ErrorPath != "item.items[1].item" ||
		!strings.Contains(o.ErrorDetail, "9999") || o.NetSuiteCalls == 0 {
		t.Errorf("failed outcome %+v", o)
	}
	if outs[good.ExternalID].Status != event.StatusOK {
		t.Errorf("good order: %+v", outs[good.ExternalID])
	}
}

// Two replicas give the result of one: one customer per buyer although
// the same new buyer's orders are handled at the same moment, every
// command settled once, the budget shared (never above the limit).
func TestTwoReplicas(t *testing.T) {
	const n = 100
	e := newEnv(t, netsuitesim.Config{ConcurrencyLimit: 4, Latency: 2 * time.Millisecond}, settingsFor(4))
	var cmds []event.NetSuiteCommand
	for i := 0; i < n; i++ {
		b := buyer{first: "Flo", last: fmt.Sprint(i / 5), email: fmt.Sprintf("flo%d@example.com", i/5)} // 5 orders per guest, back to back
		cmds = append(cmds, orderCommand("default", increment(i), b, linesFor(i)))
		if i%3 == 0 {
			cmds = append(cmds, invoiceCommand("default", increment(i), b, event.InvoiceFromOrder, nil))
		}
	}
	e.publish(cmds...)
	e.start()
	e.start()
	outs := e.waitOutcomes(len(cmds))
	if len(outs) != len(cmds) {
		t.Fatalf("%d outcomes for %d commands", len(outs), len(cmds))
	}
	for _, c := range cmds {
		if outs[c.ExternalID].Status != event.StatusOK {
			t.Errorf("%s: %+v", c.ExternalID, outs[c.ExternalID])
		}
	}
	if sos := records(e.NetSuite, netsuite.TypeSalesOrder); len(sos) != n {
		t.Errorf("%d orders", len(sos))
	}
	if got := len(e.NetSuite.Records(netsuite.TypeCustomer)); got != n/5 {
		t.Errorf("%d customers, want %d", got, n/5)
	}
	if got, want := len(e.NetSuite.Records(netsuite.TypeInvoice)), (n+2)/3; got != want {
		t.Errorf("%d invoices, want %d", got, want)
	}
	if st := e.NetSuite.Stats(); len(st.DuplicateExternalIDs) != 0 || st.PeakOffered > 4 || st.Throttled != 0 {
		t.Errorf("stats %+v", st)
	}
}

// Unchanged content is acknowledged from mlc_synced without a NetSuite
// call; a forced replay calls NetSuite and still writes nothing twice; a
// changed order updates the open order's lines (replaced, not appended);
// a change to an order NetSuite has billed goes to the DLQ.
func TestUnchangedReplayAndChanges(t *testing.T) {
	e := newEnv(t, netsuitesim.Config{}, nil)
	b := buyer{id: 3, first: "Gus", last: "Ray", email: "gus@example.com"}
	v1 := orderCommand("default", increment(1), b, linesFor(1))
	e.publish(v1)
	e.start()
	first := e.waitOutcomes(1)[v1.ExternalID]
	if first.Status != event.StatusOK {
		t.Fatalf("%+v", first)
	}
	calls := e.NetSuite.Stats().Requests

	// The same content again (a re-transform past the duplicate window).
	e.publishAgain(v1, "again-1")
	if o := e.waitOutcomes(2)[v1.ExternalID]; o.Status != event.StatusUnchanged || o.InternalID != first.InternalID || o.NetSuiteCalls != 0 {
		t.Fatalf("repeat: %+v", o)
	}
	if got := e.NetSuite.Stats().Requests; got != calls {
		t.Fatalf("an unchanged command made %d NetSuite calls", got-calls)
	}
	// mlc replay --force: NetSuite is asked, the order is found, not rewritten.
	forced := v1
	forced.Replay = "r1"
	e.publish(forced)
	if o := e.waitOutcomes(3)[v1.ExternalID]; o.Status != event.StatusOK || o.InternalID != first.InternalID || o.NetSuiteCalls == 0 {
		t.Fatalf("forced replay: %+v", o)
	}
	// The order changed in Commerce: one more line.
	v2 := orderCommand("default", increment(1), b, append(linesFor(1), line{"106", 1, "14.00", "strap"}))
	e.publish(v2)
	if o := e.waitOutcomes(4)[v1.ExternalID]; o.Status != event.StatusOK || o.InternalID != first.InternalID {
		t.Fatalf("changed order: %+v", o)
	}
	so := records(e.NetSuite, netsuite.TypeSalesOrder)[v1.ExternalID]
	if got := lineCount(so); got != len(linesFor(1))+1 || len(e.NetSuite.Records(netsuite.TypeSalesOrder)) != 1 {
		t.Fatalf("after the change: %d lines (want %d), %d orders", got, len(linesFor(1))+1, len(e.NetSuite.Records(netsuite.TypeSalesOrder)))
	}
	// NetSuite bills the order; a later change must not touch it.
	if err := e.client().Patch(e.ctx, netsuite.TypeSalesOrder, so.ID, map[string]any{"orderStatus": "G"}); err != nil {
		t.Fatal(err)
	}
	v3 := orderCommand("default", increment(1), b, linesFor(5))
	e.publish(v3)
	d := e.deadLetters(1)[0]
	if !strings.Contains(d.Reason, "status G") || !strings.Contains(d.Reason, v1.ExternalID) {
		t.Fatalf("reason %q", d.Reason)
	}
	if got := lineCount(records(e.NetSuite, netsuite.TypeSalesOrder)[v1.ExternalID]); got != len(linesFor(1))+1 {
		t.Fatalf("the billed order was changed: %d lines", got)
	}
}

// publishAgain publishes the command's body under another Nats-Msg-Id, as
// a re-transform after the duplicate window would.
func (e *env) publishAgain(c event.NetSuiteCommand, id string) {
	e.t.Helper()
	msg, _, err := e.pub.Build(c)
	if err != nil {
		e.t.Fatal(err)
	}
	msg.Header.Set(event.HeaderMsgID, id)
	e.Publish(e.t, msg.Subject, msg.Header, msg.Data)
}

// Above its limit the account answers 401 after a delay instead of 429
// (ref §11.2). A 401 right after a fresh token while answers are slow is
// throttling, not bad credentials: the writer backs off and every order
// gets through; it does not pause or dead-letter.
func TestUnauthorizedUnderLoad(t *testing.T) {
	e := newEnv(t, netsuitesim.Config{ConcurrencyLimit: 2, Quirk401: true, Quirk401Delay: 150 * time.Millisecond, Latency: 5 * time.Millisecond},
		settingsFor(6)) // more than the account allows: another integration holds the rest
	b := buyer{id: 4, first: "Hal", last: "Ide", email: "hal@example.com"}
	var cmds []event.NetSuiteCommand
	for i := 0; i < 30; i++ {
		cmds = append(cmds, orderCommand("default", increment(i), b, linesFor(i)))
	}
	e.publish(cmds...)
	svc := e.start(map[string]string{"MLC_NETSUITE_SLOW_THRESHOLD": "100ms"})
	outs := e.waitOutcomes(len(cmds))
	for _, c := range cmds {
		if outs[c.ExternalID].Status != event.StatusOK {
			t.Errorf("%s: %+v", c.ExternalID, outs[c.ExternalID])
		}
	}
	if st := e.NetSuite.Stats(); st.Throttled == 0 {
		t.Fatal("the account never answered with the 401 quirk: the test does not exercise it")
	}
	if status, body := svc.Get(t, "/readyz"); status != 200 {
		t.Errorf("writer not ready after the quirk: %s", body)
	}
	if got := e.Count(t, event.StreamDLQ, "dlq.>"); got != 0 {
		t.Errorf("%d dead letters", got)
	}
}

// Without a connection the writer is not ready and leaves commands in the
// stream; credentials NetSuite refuses pause it (no dead letters); a
// working connection resumes it and the waiting orders go through.
func TestConnectionLifecycle(t *testing.T) {
	e := newEnv(t, netsuitesim.Config{}, nil)
	good, err := connection.LoadNetSuite(e.ctx, e.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Secrets.Delete(e.ctx, connection.NetSuiteSecretName); err != nil {
		t.Fatal(err)
	}
	b := buyer{id: 5, first: "Ivy", last: "Jo", email: "ivy@example.com"}
	e.publish(orderCommand("default", increment(1), b, linesFor(1)))
	svc := e.startUnready()
	if status, body := svc.Get(t, "/readyz"); status == 200 || !strings.Contains(body, "mlc connect netsuite") {
		t.Fatalf("ready without a connection: %d %s", status, body)
	}
	// A certificate the account does not know: the token endpoint refuses it.
	bad := good
	bad.CertificateID = "revoked-cert"
	if err := connection.SaveNetSuite(e.ctx, e.Secrets, bad); err != nil {
		t.Fatal(err)
	}
	waitBody(t, svc, "/readyz", "paused")
	if got := e.Count(t, event.StreamDLQ, "dlq.>"); got != 0 {
		t.Fatalf("%d dead letters for refused credentials", got)
	}
	if err := connection.SaveNetSuite(e.ctx, e.Secrets, good); err != nil {
		t.Fatal(err)
	}
	if o := e.waitOutcomes(1); len(o) != 1 {
		t.Fatalf("outcomes %v", o)
	}
	e.publish(orderCommand("default", increment(2), b, linesFor(2)))
	for ext, o := range e.waitOutcomes(2) {
		if o.Status != event.StatusOK {
			t.Errorf("%s: %+v", ext, o)
		}
	}
	if status, body := svc.Get(t, "/readyz"); status != 200 {
		t.Fatalf("not ready with a good connection: %s", body)
	}
}

// waitBody polls path until its body contains want.
func waitBody(t *testing.T, svc *servicetest.Service, path, want string) {
	t.Helper()
	servicetest.WaitFor(t, path+" saying "+want, func() bool {
		_, body := svc.Get(t, path)
		return strings.Contains(body, want)
	})
}

// The budget follows the settings: a change reaches the consumer's
// max_ack_pending (the bound across replicas) and the limiter.
func TestBudgetFollowsSettings(t *testing.T) {
	e := newEnv(t, netsuitesim.Config{GovernanceLimits: netsuitesim.GovernanceLimits{AccountConcurrencyLimit: 15,
		AccountUnallocatedConcurrencyLimit: 15, IntegrationLimitType: "accountLimit"}}, nil)
	svc := e.start()
	// Discovered: 15 less the default headroom of 1.
	servicetest.WaitFor(t, "max_ack_pending 14", func() bool { return e.consumerMaxAckPending() == 14 })
	kv, err := e.JS.KeyValue(e.ctx, event.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	set := writer.NewSettings()
	set.Headroom = 5
	if err := settings.New(kv).Save(e.ctx, writer.SettingsKey, set); err != nil {
		t.Fatal(err)
	}
	servicetest.WaitFor(t, "max_ack_pending 10", func() bool { return e.consumerMaxAckPending() == 10 })
	servicetest.WaitFor(t, "limiter 10", func() bool { return svc.Metric(t, "mlc_writer_limiter_limit") == "10" })
	if got := svc.Metric(t, "mlc_writer_concurrency_budget"); got != "10" {
		t.Errorf("budget gauge %s", got)
	}

	// Something else sets another value (`mlc streams apply` of an older
	// release, `nats consumer edit`): the writer puts its budget back.
	cons, err := e.JS.Consumer(e.ctx, event.StreamNetSuite, event.DurableNetSuiteWriter)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cons.CachedInfo().Config
	cfg.MaxAckPending = 4
	if _, err := e.JS.UpdateConsumer(e.ctx, event.StreamNetSuite, cfg); err != nil {
		t.Fatal(err)
	}
	servicetest.WaitFor(t, "max_ack_pending back to 10", func() bool { return e.consumerMaxAckPending() == 10 })
}
