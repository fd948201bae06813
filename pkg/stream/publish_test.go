package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

func declared(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if _, err := stream.ApplyDeclared(context.Background(), js, nil); err != nil {
		t.Fatal(err)
	}
	return js
}

func lastMsg(t *testing.T, js jetstream.JetStream, streamName, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), streamName)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		t.Fatalf("last message on %s: %v", subject, err)
	}
	return m
}

func TestPublisherHeadersAndDuplicates(t *testing.T) {
	js := declared(t)
	ctx := context.Background()
	pub := stream.NewPublisher(js)
	raw := []byte(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"1","n":"Tom & Jerry <b>"}}}` + "\n")
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "en_us", ID: "1", DataSchema: event.SchemaWebhook, Raw: raw}
	trace := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	first, err := pub.Publish(ctx, fact, stream.WithOrigin(event.OriginWebhook), stream.WithTraceparent(trace))
	if err != nil || first.Duplicate || first.Stream != event.StreamCommerce {
		t.Fatalf("first publish: %+v %v", first, err)
	}
	again, err := pub.Publish(ctx, fact, stream.WithOrigin(event.OriginPoll))
	if err != nil || !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("second publish must be a duplicate of the first: %+v %v", again, err)
	}
	m := lastMsg(t, js, event.StreamCommerce, "commerce.order.placed.en_us")
	h := m.Header
	if h.Get(event.HeaderMsgID) != "order.placed:en_us:1" || h.Get(event.HeaderKey) != "order:en_us:1" || h.Get(event.HeaderOrigin) != event.OriginWebhook {
		t.Fatalf("headers %v", h)
	}
	tp, ok := event.ParseTraceparent(h.Get(event.HeaderTraceparent))
	if !ok || tp.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || tp.SpanID == "00f067aa0ba902b7" {
		t.Fatalf("traceparent %q does not continue the request's trace", h.Get(event.HeaderTraceparent))
	}
	env, err := event.Decode(m.Data)
	if err != nil || string(env.Data) != string(raw) || env.ID != first.EventID || env.DataSchema != event.SchemaWebhook || env.Subject != "order:en_us:1" {
		t.Fatalf("stored envelope %+v %v", env, err)
	}

	// A command derived from the fact carries its causation, trace and origin.
	cmd := event.NetSuiteCommand{Kind: event.KindCustomer, Store: "en_us", SourceID: "7", ExternalID: "mlc-cust-en__us-7",
		Record: json.RawMessage(`{"email":"a@b.c"}`)}
	if _, err := pub.Publish(ctx, cmd, stream.CausedBy(stream.ParentOf(env, h))); err != nil {
		t.Fatal(err)
	}
	c := lastMsg(t, js, event.StreamNetSuite, "netsuite.upsert.customer")
	ctp, _ := event.ParseTraceparent(c.Header.Get(event.HeaderTraceparent))
	if c.Header.Get(event.HeaderCausation) != env.ID || ctp.TraceID != tp.TraceID || c.Header.Get(event.HeaderOrigin) != event.OriginWebhook {
		t.Fatalf("derived headers %v", c.Header)
	}
	if _, _, err := event.DecodeNetSuiteCommand(c.Data); err != nil {
		t.Fatal(err)
	}
}

func TestPublisherRejectsInvalidAndBadTrace(t *testing.T) {
	js := declared(t)
	pub := stream.NewPublisher(js)
	if _, err := pub.Publish(context.Background(), event.NetSuiteCommand{Kind: "nope"}); !errors.Is(err, event.ErrInvalidMessage) {
		t.Fatalf("invalid command published: %v", err)
	}
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: "2", Raw: []byte(`{}`)}
	msg, _, err := pub.Build(fact, stream.WithTraceparent("00-zz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := event.ParseTraceparent(msg.Header.Get(event.HeaderTraceparent)); !ok {
		t.Fatalf("an invalid incoming trace must be replaced, got %q", msg.Header.Get(event.HeaderTraceparent))
	}
	if msg.Header.Get(event.HeaderOrigin) != "" || msg.Header.Get(event.HeaderCausation) != "" {
		t.Fatalf("unexpected headers %v", msg.Header)
	}
}
