package devstack

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Status is the flow at one moment, as the demo's status line shows it.
type Status struct {
	At          time.Time `json:"at"`
	Placed      int       `json:"placed"`   // orders placed in Commerce
	Received    uint64    `json:"received"` // order facts stored on COMMERCE
	SalesOrders int       `json:"sales_orders"`
	Invoices    int       `json:"invoices"` // NetSuite invoices
	Customers   int       `json:"customers"`
	DLQ         uint64    `json:"dlq"`
	// StockWrites counts the price and stock rows written to Commerce.
	StockWrites int `json:"stock_writes"`
	// Lag is what the business consumers (transform, netsuite-writer,
	// commerce-writer) have not acknowledged yet.
	Lag uint64 `json:"lag"`
}

// Since is the status counting from base: what an earlier run left on the
// streams (a dev stack keeps them) is not counted again. The simulators
// start empty, so their counts stay as they are.
func (s Status) Since(base Status) Status {
	s.Received -= min(base.Received, s.Received)
	s.DLQ -= min(base.DLQ, s.DLQ)
	return s
}

// Line is the status as one line of a terminal.
func (s Status) Line() string {
	return fmt.Sprintf("%s  orders %d placed, %d received, %d in NetSuite  invoices %d  customers %d  DLQ %d  stock writes %d  lag %d",
		s.At.Format("15:04:05"), s.Placed, s.Received, s.SalesOrders, s.Invoices, s.Customers, s.DLQ, s.StockWrites, s.Lag)
}

// Snapshot reads the status from the simulators and JetStream.
func Snapshot(ctx context.Context, sims *Sims, js jetstream.JetStream) (Status, error) {
	s := Status{At: time.Now()}
	s.Placed = len(sims.Commerce.Orders())
	s.SalesOrders = len(sims.NetSuite.Records("salesOrder"))
	s.Invoices = len(sims.NetSuite.Records("invoice"))
	s.Customers = len(sims.NetSuite.Records("customer"))
	s.StockWrites = len(sims.Commerce.StockWrites("")) + len(sims.Commerce.PriceWrites(""))
	cs, err := js.Stream(ctx, event.StreamCommerce)
	if err != nil {
		return s, err
	}
	info, err := cs.Info(ctx, jetstream.WithSubjectFilter(event.CommerceType(event.OrderPlaced)+".*"))
	if err != nil {
		return s, err
	}
	for _, n := range info.State.Subjects {
		s.Received += n
	}
	dlq, err := js.Stream(ctx, event.StreamDLQ)
	if err != nil {
		return s, err
	}
	if info, err = dlq.Info(ctx); err != nil {
		return s, err
	}
	s.DLQ = info.State.Msgs
	for _, c := range []struct{ stream, durable string }{
		{event.StreamCommerce, event.DurableTransform},
		{event.StreamNetSuite, event.DurableNetSuiteWriter},
		{event.StreamInventory, event.DurableCommerceWriter},
	} {
		cons, err := js.Consumer(ctx, c.stream, c.durable)
		if err != nil {
			return s, err
		}
		ci, err := cons.Info(ctx)
		if err != nil {
			return s, err
		}
		s.Lag += ci.NumPending + uint64(ci.NumAckPending)
	}
	return s, nil
}
