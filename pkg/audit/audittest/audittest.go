// Package audittest publishes the messages of a realistic order flow on
// JetStream, as ingest, transform and netsuite-writer would (same message
// types, ids, headers and causation through stream.Publisher), for the
// tests and benchmarks of the audit mirror and the `mlc audit`, `mlc replay`
// and `mlc dlq` commands, before those services run in the same test.
package audittest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Flow describes the orders to publish.
type Flow struct {
	Store string // Commerce store code (default "default")
	First int    // first increment id (default 1); ids are %09d
	// Orders is how many orders to publish.
	Orders int
	// FailEvery makes every n-th order fail in transform: its fact is
	// dead-lettered (an unmapped SKU) and no command follows. 0: none.
	FailEvery int
	// Bodies are the webhook payloads, used in turn (default a small one).
	Bodies [][]byte
}

// Result counts what was published, per stream.
type Result struct {
	Messages map[string]int
	// Failed are the business keys of the dead-lettered orders.
	Failed []string
	// Keys are every order's business key, in order.
	Keys []string
}

// Total is the number of messages published on all streams.
func (r Result) Total() int {
	n := 0
	for _, c := range r.Messages {
		n += c
	}
	return n
}

// SKUReason is the dead-letter reason of a failed order.
const SKUReason = "order %s: SKU TEE-M-RED has no NetSuite item (map it in settings, then `mlc dlq retry`)"

// Publish runs the flow: for each order the webhook fact (COMMERCE), then
// either the sales order command (NETSUITE) and a throttled and a
// successful outcome (SYNC), or the fact's dead letter (DLQ).
func (f Flow) Publish(ctx context.Context, js jetstream.JetStream) (Result, error) {
	if f.Store == "" {
		f.Store = "default"
	}
	if f.First == 0 {
		f.First = 1
	}
	if len(f.Bodies) == 0 {
		f.Bodies = [][]byte{[]byte(`{"eventName":"sales_order_place_after","data":{"order":{"items":[{"sku":"TEE-M-RED","qty_ordered":"1.0000"}]}}}`)}
	}
	pub := stream.NewPublisher(js)
	res := Result{Messages: map[string]int{}}
	for i := range f.Orders {
		msgs, err := Order(pub, f.Store, f.First+i, f.Bodies[i%len(f.Bodies)])
		if err != nil {
			return res, err
		}
		res.Keys = append(res.Keys, msgs[0].Header.Get(event.HeaderKey))
		fail := f.FailEvery > 0 && (i+1)%f.FailEvery == 0
		for j, m := range msgs {
			ack, err := js.PublishMsg(ctx, m)
			if err != nil {
				return res, fmt.Errorf("publish %s: %w", m.Subject, err)
			}
			res.Messages[ack.Stream]++
			if j == 0 && fail {
				id := fmt.Sprintf("%09d", f.First+i)
				if err := deadLetter(ctx, js, stream.Published{Stream: ack.Stream, Seq: ack.Sequence}, fmt.Sprintf(SKUReason, id)); err != nil {
					return res, err
				}
				res.Messages[event.StreamDLQ]++
				res.Failed = append(res.Failed, res.Keys[len(res.Keys)-1])
				break
			}
		}
	}
	return res, nil
}

// Order renders order n's messages (increment id %09d) as the services
// publish them, each caused by the one before: the webhook fact with body
// (ingest), its sales order command (transform), and a throttled and a
// successful outcome of the command (netsuite-writer).
func Order(pub *stream.Publisher, store string, n int, body []byte) ([]*nats.Msg, error) {
	id := fmt.Sprintf("%09d", n)
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: store, ID: id, DataSchema: event.SchemaWebhook, Raw: body}
	fm, factID, err := pub.Build(fact, stream.WithOrigin(event.OriginWebhook))
	if err != nil {
		return nil, err
	}
	parent := stream.Parent{EventID: factID, Header: nats.Header{event.HeaderOrigin: {event.OriginWebhook}}}
	cmd, err := Command(store, id)
	if err != nil {
		return nil, err
	}
	cm, cmdID, err := pub.Build(cmd, stream.CausedBy(parent))
	if err != nil {
		return nil, err
	}
	out := []*nats.Msg{fm, cm}
	cparent := stream.Parent{EventID: cmdID, Header: parent.Header}
	for attempt, o := range []event.SyncOutcome{
		{Status: event.StatusFailed, Error: "NetSuite is busy", ErrorCode: "CONCURRENCY_LIMIT_EXCEEDED", DurationMS: 120},
		{Status: event.StatusOK, InternalID: fmt.Sprint(9000 + n), DurationMS: 340},
	} {
		o.Kind, o.BusinessKey, o.Store, o.ExternalID = event.KindSalesOrder, cmd.Key(), store, cmd.ExternalID
		o.ContentHash, o.Attempts, o.CommandID, o.At, o.Producer = cmd.ContentHash(), attempt+1, cmdID, time.Now().UTC(), "netsuite-writer"
		om, _, err := pub.Build(o, stream.CausedBy(cparent))
		if err != nil {
			return nil, err
		}
		out = append(out, om)
	}
	return out, nil
}

// Command is the sales order command transform would build for an order.
func Command(store, id string) (event.NetSuiteCommand, error) {
	ext, err := event.SalesOrderExternalID(store, id)
	if err != nil {
		return event.NetSuiteCommand{}, err
	}
	cust, err := event.CustomerExternalID(store, "7")
	if err != nil {
		return event.NetSuiteCommand{}, err
	}
	return event.NetSuiteCommand{
		Kind: event.KindSalesOrder, Store: store, SourceID: id, ExternalID: ext, Subsidiary: "1",
		Record:   json.RawMessage(`{"otherRefNum":"` + id + `","item":{"items":[{"item":{"id":"101"},"quantity":1}]}}`),
		Customer: &event.CustomerRef{BuyerKey: "7", ExternalID: cust, Email: "ann@example.com", Record: json.RawMessage(`{"email":"ann@example.com"}`)},
	}, nil
}

// deadLetter files the stored message p as transform would after a
// permanent failure (pkg/stream's dead-letterer).
func deadLetter(ctx context.Context, js jetstream.JetStream, p stream.Published, reason string) error {
	st, err := js.Stream(ctx, p.Stream)
	if err != nil {
		return err
	}
	m, err := st.GetMsg(ctx, p.Seq)
	if err != nil {
		return err
	}
	// A consumer sees the headers as published, without the ones a
	// direct get adds.
	for _, k := range []string{jetstream.StreamHeader, jetstream.SubjectHeader, jetstream.SequenceHeader, jetstream.TimeStampHeaer} {
		m.Header.Del(k)
	}
	letter := event.DeadLetter{Reason: reason, Attempts: 1, Subject: m.Subject, Stream: p.Stream, Seq: p.Seq,
		Consumer: event.DurableTransform, At: time.Now(), Header: m.Header, Data: m.Data}.Msg()
	_, err = js.PublishMsg(ctx, letter)
	return err
}

// OrderBodies captures n real order webhook bodies from the Commerce
// simulator (PHP-style JSON, 2-4 KB each), for realistic payload sizes.
func OrderBodies(ctx context.Context, n int) ([][]byte, error) {
	var mu sync.Mutex
	var bodies [][]byte
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/order-placed") {
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
		}
		_, _ = io.WriteString(w, `{"op":"success"}`)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	sim := commercesim.New(commercesim.Config{Seed: 7, Webhooks: commercesim.WebhookConfig{
		BaseURL: "http://" + ln.Addr().String(), Mode: "none", Timeout: 5 * time.Second}})
	defer sim.Close()
	for range n {
		if _, err := sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{}); err != nil {
			return nil, err
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != n {
		return nil, fmt.Errorf("audittest: captured %d of %d order webhooks", len(bodies), n)
	}
	return bodies, nil
}
