package writer_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
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

var _ = json.Marshal
