package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Fact is one Commerce fact to put on the COMMERCE stream.
type Fact struct {
	Kind        string // event.OrderPlaced, event.InvoiceCaptured, event.CustomerCreated
	Store       string
	ID          string // increment_id, or the customer key
	Entity      string // "order", "invoice", "customer": the audit key's prefix
	Origin      string // event.OriginWebhook, OriginPoll, OriginIOEvents
	Schema      string // event.Schema*
	Raw         []byte // the payload exactly as Commerce sent it
	Traceparent string
}

// Publisher puts facts on JetStream with the dedup id of DESIGN.md §3 and
// waits for the stream's ack: a fact is only "received" once it is stored.
type Publisher struct {
	js  jetstream.JetStream
	now func() time.Time
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher {
	return &Publisher{js: js, now: time.Now}
}

// Publish stores f. duplicate is true when JetStream already had a fact
// with the same id (a webhook retry, or webhook and poll overlapping):
// that is success too.
func (p *Publisher) Publish(ctx context.Context, f Fact) (duplicate bool, err error) {
	key := event.Key(f.Entity, f.Store, f.ID)
	ev, err := event.New(event.CommerceType(f.Kind), event.CommerceSource(f.Store), key, f.Raw, p.now())
	if err != nil {
		return false, err
	}
	ev.DataSchema = f.Schema
	body, err := ev.Encode()
	if err != nil {
		return false, err
	}
	msg := nats.NewMsg(event.CommerceSubject(f.Kind, f.Store))
	msg.Data = body
	msg.Header.Set(event.HeaderMsgID, event.MsgID(f.Kind, f.Store, f.ID))
	msg.Header.Set(event.HeaderKey, key)
	msg.Header.Set(event.HeaderOrigin, f.Origin)
	if f.Traceparent != "" {
		msg.Header.Set(event.HeaderTraceparent, f.Traceparent)
	}
	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return false, fmt.Errorf("publish %s: %w", key, err)
	}
	return ack.Duplicate, nil
}
