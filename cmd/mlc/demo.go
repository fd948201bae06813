package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// demoFlags are mlc dev's demo options.
type demoFlags struct {
	on           bool
	orders       int
	rate         float64
	exitWhenDone bool
	drain        time.Duration // how long the flow may take to settle after the last order
}

// errDemoFailed: the demo's check found broken promises (printed above it).
var errDemoFailed = errors.New("demo: the flow did not keep its promises")

// runDemo drives storefront and ERP traffic through a running dev stack and
// prints one status line a second. With exitWhenDone it returns after
// f.orders orders once Verify passes (nil) or the drain time is over
// (errDemoFailed); otherwise it runs until ctx is done.
func runDemo(ctx context.Context, out io.Writer, st *devstack.Stack, f demoFlags) error {
	if st.Sims == nil {
		return errors.New("--demo needs the simulators (it cannot place orders in a real store)")
	}
	start := time.Now()
	nc, js, err := stream.Connect(st.NATS.ClientURL(), "", "mlc-demo", zerolog.Nop())
	if err != nil {
		return err
	}
	defer nc.Close()
	var store *audit.Store
	if st.AuditDSN != "" {
		if store, err = audit.Open(ctx, st.AuditDSN); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		defer store.Close()
	}
	base, err := devstack.Snapshot(ctx, st.Sims, js)
	if err != nil {
		return err
	}
	demo := devstack.NewDemo(st.Sims.Commerce, st.Sims.NetSuite, devstack.DemoOptions{Rate: f.rate, Orders: f.orders, Seed: time.Now().UnixNano()})
	placed := make(chan error, 1)
	go func() { placed <- demo.Run(ctx) }()
	fmt.Fprintf(out, "demo: %.3g orders/s%s; NetSuite stock and prices change every few orders\n", f.rate, ordersNote(f.orders))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	status := func() {
		if s, err := devstack.Snapshot(ctx, st.Sims, js); err == nil {
			fmt.Fprintln(out, s.Since(base).Line())
		}
	}
	done := placed
	var settleBy time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			done = nil
			c := demo.Counts()
			fmt.Fprintf(out, "demo: placed %d orders, captured %d invoices, %d buyers signed up, %d stock and %d price changes in NetSuite\n",
				c.Orders, c.Invoices, c.Buyers, c.StockChanges, c.PriceChanges)
			if !f.exitWhenDone {
				continue
			}
			settleBy = time.Now().Add(f.drain)
		case <-tick.C:
			status()
			if settleBy.IsZero() {
				continue
			}
			rep, err := devstack.Verify(ctx, devstack.Check{Commerce: st.Sims.Commerce, NetSuite: st.Sims.NetSuite, JS: js,
				Audit: store, Stock: demo.Stock(), Since: start})
			if err != nil && ctx.Err() == nil {
				return err
			}
			if rep.OK() || time.Now().After(settleBy) {
				printDemoReport(out, rep, store != nil, time.Since(start))
				if !rep.OK() {
					return errDemoFailed
				}
				return nil
			}
		}
	}
}

func ordersNote(n int) string {
	if n == 0 {
		return " until Ctrl-C"
	}
	return ", " + strconv.Itoa(n) + " orders"
}

// printDemoReport prints what Verify found: the counts, then every problem.
func printDemoReport(out io.Writer, r devstack.Report, audited bool, took time.Duration) {
	audit := "off (no ClickHouse)"
	if audited {
		audit = fmt.Sprintf("%d of %d messages", r.Mirrored, r.Messages)
	}
	printTable(out, [][]string{
		{"WHAT", "COMMERCE", "NETSUITE"},
		{"orders", strconv.Itoa(r.Orders), strconv.Itoa(r.SalesOrders)},
		{"invoices", strconv.Itoa(r.Invoices), strconv.Itoa(r.NSInvoices)},
		{"customers", "", strconv.Itoa(r.Customers)},
	})
	fmt.Fprintf(out, "duplicates %d, lost %d, DLQ %d, unacknowledged %d, stock checked %d, audit %s, %s\n",
		r.Duplicates, r.Lost, r.DLQ, r.Unacked, r.Stock, audit, took.Round(time.Second))
	for _, p := range r.Problems {
		fmt.Fprintln(out, "  -", p)
	}
	if r.OK() {
		fmt.Fprintln(out, "every order is in NetSuite once with its invoice and customer; every stock change reached Commerce")
	}
}
