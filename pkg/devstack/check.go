package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/streams"
)

// Check is what Verify looks at: both simulators (the storefront's records
// are the truth), the JetStream the services ran on, and optionally the
// audit database and the stock the demo left in NetSuite.
type Check struct {
	Commerce *commercesim.Server
	NetSuite *netsuitesim.Server
	JS       jetstream.JetStream
	// Audit, when set, must hold every message of every stream once.
	Audit *audit.Store
	// Stock, when set, is what NetSuite says each SKU's price and quantity
	// are now: Commerce must show the same in every store.
	Stock map[string]StockLevel
	// AllowDLQ accepts dead letters (they still need a reason); by
	// default a dead letter is a problem: something did not get through.
	AllowDLQ bool
	// Since leaves out dead letters from before it (a dev stack's earlier
	// runs).
	Since time.Time
}

// StockLevel is one SKU's price and sellable quantity.
type StockLevel struct {
	Price    decimal.Decimal
	Quantity decimal.Decimal
}

// Report is what Verify found. Problems lists every broken promise, first
// the most telling; an empty list means the flow kept them all.
type Report struct {
	Orders      int `json:"orders"`       // placed in Commerce (committed)
	SalesOrders int `json:"sales_orders"` // in NetSuite
	Invoices    int `json:"invoices"`     // captured in Commerce
	NSInvoices  int `json:"netsuite_invoices"`
	Customers   int `json:"customers"` // NetSuite customer records
	// Duplicates counts records, lines and buyers NetSuite has more than
	// once; Lost the Commerce records NetSuite does not have.
	Duplicates int `json:"duplicates"`
	Lost       int `json:"lost"`
	DLQ        int `json:"dlq"`
	Unacked    int `json:"unacked"` // pending or unacknowledged on the services' consumers
	// Mirrored is how many stream messages the audit holds (of Messages).
	Mirrored uint64   `json:"mirrored"`
	Messages uint64   `json:"messages"`
	Stock    int      `json:"stock_checked"` // SKU x store checked
	Problems []string `json:"problems"`
}

// OK reports whether every promise was kept.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Verify checks the end-to-end promises once: every committed Commerce order
// is exactly one NetSuite sales order, with the lines of its last command
// (none doubled) and an existing customer; every captured invoice is one
// NetSuite invoice; no buyer is in NetSuite twice; nothing is pending or
// unacknowledged on the services' consumers; every dead letter says why
// (and there are none unless AllowDLQ); the audit holds every stream
// message; Commerce shows the stock NetSuite has. Callers poll it until OK
// or their deadline.
func Verify(ctx context.Context, c Check) (Report, error) {
	var r Report
	lines, err := commandLines(ctx, c.JS)
	if err != nil {
		return r, err
	}
	customers := c.NetSuite.Records("customer")
	r.Customers = len(customers)
	customerIDs := map[string]bool{}
	buyers := map[string][]string{}
	for _, cu := range customers {
		customerIDs[cu.ID] = true
		if email := strings.ToLower(str(cu.Fields["email"])); email != "" {
			k := email + "|" + refID(cu.Fields["subsidiary"])
			buyers[k] = append(buyers[k], cu.ID)
		}
	}
	for _, k := range sortedKeys(buyers) {
		if ids := buyers[k]; len(ids) > 1 {
			r.Duplicates += len(ids) - 1
			r.problem("buyer %s is %d NetSuite customers (%s)", strings.SplitN(k, "|", 2)[0], len(ids), strings.Join(ids, ", "))
		}
	}
	checkOrders(&r, c.Commerce.Orders(), c.NetSuite.Records("salesOrder"), lines, customerIDs)
	checkInvoices(&r, c.Commerce.Invoices(), c.NetSuite.Records("invoice"))
	if dups := c.NetSuite.Stats().DuplicateExternalIDs; len(dups) > 0 {
		r.problem("NetSuite refused %d creates of existing external ids: %s", len(dups), strings.Join(dups, ", "))
	}
	if err := checkStreams(ctx, &r, c); err != nil {
		return r, err
	}
	checkStock(&r, c)
	return r, nil
}

func checkOrders(r *Report, orders []commercesim.Order, records []netsuitesim.Record, lines map[string]int, customers map[string]bool) {
	byExt := map[string][]netsuitesim.Record{}
	for _, rec := range records {
		byExt[rec.ExternalID] = append(byExt[rec.ExternalID], rec)
	}
	r.SalesOrders = len(records)
	want := map[string]bool{}
	for _, o := range orders {
		if o.State == "canceled" {
			// Synced before it was canceled, or skipped: either is right.
			if ext, err := event.SalesOrderExternalID(o.Store, o.IncrementID); err == nil {
				want[ext] = true
			}
			continue
		}
		if !o.Placed || o.RolledBack {
			continue
		}
		r.Orders++
		ext, err := event.SalesOrderExternalID(o.Store, o.IncrementID)
		if err != nil {
			r.problem("order %s: %v", o.IncrementID, err)
			continue
		}
		want[ext] = true
		recs := byExt[ext]
		switch {
		case len(recs) == 0:
			r.Lost++
			r.problem("order %s (%s) is not in NetSuite", o.IncrementID, o.Store)
			continue
		case len(recs) > 1:
			r.Duplicates += len(recs) - 1
			r.problem("order %s is %d NetSuite sales orders", o.IncrementID, len(recs))
		}
		rec := recs[0]
		if n, ok := lines[ext]; ok {
			if got := len(items(rec.Fields)); got != n {
				if got > n {
					r.Duplicates += got - n
				}
				r.problem("sales order %s has %d item lines, its command %d", ext, got, n)
			}
		}
		if id := refID(rec.Fields["entity"]); !customers[id] {
			r.problem("sales order %s: customer %q is not in NetSuite", ext, id)
		}
	}
	for _, ext := range sortedKeys(byExt) {
		if !want[ext] {
			r.Duplicates += len(byExt[ext])
			r.problem("NetSuite has sales order %q that no Commerce order explains", ext)
		}
	}
}

func checkInvoices(r *Report, invoices []commercesim.Invoice, records []netsuitesim.Record) {
	byExt := map[string]int{}
	for _, rec := range records {
		byExt[rec.ExternalID]++
	}
	r.NSInvoices = len(records)
	want := map[string]bool{}
	for _, inv := range invoices {
		if inv.State != commercesim.InvoicePaid {
			continue
		}
		r.Invoices++
		ext, err := event.InvoiceExternalID(inv.Store, inv.IncrementID)
		if err != nil {
			r.problem("invoice %s: %v", inv.IncrementID, err)
			continue
		}
		want[ext] = true
		switch n := byExt[ext]; {
		case n == 0:
			r.Lost++
			r.problem("invoice %s (order %s) is not in NetSuite", inv.IncrementID, inv.OrderIncrementID)
		case n > 1:
			r.Duplicates += n - 1
			r.problem("invoice %s is %d NetSuite invoices", inv.IncrementID, n)
		}
	}
	for _, ext := range sortedKeys(byExt) {
		if !want[ext] {
			r.Duplicates += byExt[ext]
			r.problem("NetSuite has invoice %q that no captured Commerce invoice explains", ext)
		}
	}
}

// checkStreams: the services' consumers are drained, dead letters say why,
// and the audit holds every message.
func checkStreams(ctx context.Context, r *Report, c Check) error {
	defs, err := stream.Load(streams.FS)
	if err != nil {
		return err
	}
	for _, d := range defs.Consumers {
		if d.Config.Durable == event.DurableAuditMirror && c.Audit == nil {
			continue // no ClickHouse: the mirror consumes nothing
		}
		cons, err := c.JS.Consumer(ctx, d.Stream, d.Config.Durable)
		if err != nil {
			return fmt.Errorf("consumer %s/%s: %w", d.Stream, d.Config.Durable, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("consumer %s/%s: %w", d.Stream, d.Config.Durable, err)
		}
		if n := int(info.NumPending) + info.NumAckPending; n > 0 {
			r.Unacked += n
			r.problem("consumer %s/%s: %d pending, %d unacknowledged", d.Stream, d.Config.Durable, info.NumPending, info.NumAckPending)
		}
	}
	reasons := map[string]int{}
	_, err = audit.ScanStream(ctx, c.JS, event.StreamDLQ, audit.Scan{}, func(row audit.Row) error {
		if event.IsDLQAction(row.Subject) || row.Published.Before(c.Since) {
			return nil // an operator's action on a letter, or an old one
		}
		r.DLQ++
		reason := row.Header(event.HeaderDLQReason)
		if reason == "" {
			r.problem("dead letter %d (%s) has no reason", row.Seq, row.Subject)
			return nil
		}
		reasons[clip(reason, 200)]++
		return nil
	})
	if err != nil {
		return err
	}
	if r.DLQ > 0 && !c.AllowDLQ {
		for _, reason := range sortedKeys(reasons) {
			r.problem("DLQ (%d): %s", reasons[reason], reason)
		}
	}
	for _, name := range event.Streams() {
		s, err := c.JS.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		r.Messages += info.State.Msgs
		if c.Audit == nil {
			continue
		}
		n, maxSeq, err := c.Audit.StreamCount(ctx, name)
		if err != nil {
			return err
		}
		r.Mirrored += n
		if n != info.State.Msgs || (n > 0 && maxSeq != info.State.LastSeq) {
			r.problem("audit holds %d messages of %s up to seq %d; the stream %d up to %d", n, name, maxSeq, info.State.Msgs, info.State.LastSeq)
		}
	}
	return nil
}

func checkStock(r *Report, c Check) {
	stores := c.Commerce.Config().Stores
	for _, sku := range sortedKeys(c.Stock) {
		want := c.Stock[sku]
		if q, ok := c.Commerce.SourceQuantity(sku, "default"); !ok || !q.Equal(want.Quantity) {
			r.problem("SKU %s: Commerce has quantity %s, NetSuite %s", sku, q, want.Quantity)
		}
		for _, st := range stores {
			r.Stock++
			if p, ok := c.Commerce.ProductPrice(sku, st.ID); !ok || !p.Equal(want.Price) {
				r.problem("SKU %s: store %s has price %s, NetSuite %s", sku, st.Code, p, want.Price)
			}
		}
	}
}

// commandLines is the item line count of the last NETSUITE command for
// each external id: what the record in NetSuite must have.
func commandLines(ctx context.Context, js jetstream.JetStream) (map[string]int, error) {
	out := map[string]int{}
	_, err := audit.ScanStream(ctx, js, event.StreamNetSuite, audit.Scan{Subject: event.NetSuiteSubject(event.KindSalesOrder)}, func(row audit.Row) error {
		cmd, _, err := event.DecodeNetSuiteCommand(row.Data)
		if err != nil {
			return nil // the writer dead-letters it; Verify reports the DLQ
		}
		var rec map[string]any
		if err := json.Unmarshal(cmd.Record, &rec); err != nil {
			return nil
		}
		out[cmd.ExternalID] = len(items(rec))
		return nil
	})
	return out, err
}

// items are the item lines of a record body ({"item":{"items":[...]}}).
func items(fields map[string]any) []any {
	sub, _ := fields["item"].(map[string]any)
	lines, _ := sub["items"].([]any)
	return lines
}

func refID(v any) string {
	m, _ := v.(map[string]any)
	return str(m["id"])
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
