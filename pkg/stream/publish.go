package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Publisher is the one way every producer puts a message on JetStream: it
// wraps the message's data in a CloudEvents envelope, applies the headers
// of DESIGN.md §3 (Nats-Msg-Id, Mlc-Key, Mlc-Origin, Mlc-Causation,
// traceparent), and returns only once the stream has stored it. A
// duplicate ack (JetStream already had the message id) is success.
type Publisher struct {
	js   jetstream.JetStream
	now  func() time.Time
	acks *ackRouter
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher {
	// The ack router subscribes on first use: a Publisher that only Builds
	// may be made without a connection (NewPublisher(nil)).
	return &Publisher{js: js, now: time.Now, acks: &ackRouter{}}
}

// Published says what the stream did with a message.
type Published struct {
	// EventID is the CloudEvents id of the envelope sent (for a duplicate,
	// the stored message keeps the id of the first one).
	EventID string
	// Stream and Seq locate the stored message.
	Stream string
	Seq    uint64
	// Duplicate is true when the stream already had a message with the
	// same Nats-Msg-Id: nothing new was stored, which is success too.
	Duplicate bool
}

// Parent is the message a new one is derived from: its CloudEvents id and
// headers give Mlc-Causation, traceparent and the inherited origin.
type Parent struct {
	EventID string
	Header  nats.Header
}

// ParentOf returns the Parent of a received message whose envelope has
// already been decoded.
func ParentOf(env event.Envelope, hdr nats.Header) Parent {
	return Parent{EventID: env.ID, Header: hdr}
}

type publishOptions struct {
	origin      string
	traceparent string
	parent      *Parent
	header      nats.Header
	validated   bool
}

// PublishOption configures one Publish.
type PublishOption func(*publishOptions)

// WithOrigin sets Mlc-Origin (event.OriginWebhook, ...). A derived message
// inherits its parent's origin unless this is given.
func WithOrigin(origin string) PublishOption { return func(o *publishOptions) { o.origin = origin } }

// WithTraceparent continues the given W3C trace (e.g. the webhook request's
// header). An invalid value is replaced by a new trace, never passed on.
func WithTraceparent(tp string) PublishOption {
	return func(o *publishOptions) { o.traceparent = tp }
}

// CausedBy derives the message from p: Mlc-Causation is p's event id, the
// trace continues p's, and the origin is p's unless WithOrigin says else.
func CausedBy(p Parent) PublishOption { return func(o *publishOptions) { o.parent = &p } }

// WithHeader adds a header (for example a replay marker).
func WithHeader(key, value string) PublishOption {
	return func(o *publishOptions) {
		if o.header == nil {
			o.header = nats.Header{}
		}
		o.header.Set(key, value)
	}
}

// DataValidated says the message's data is known to be what json.Valid
// accepts (ingest's webhook decoder validates every body in the pass that
// reads it), so Build does not scan the same bytes again. Never give it for
// data that was not validated.
func DataValidated() PublishOption { return func(o *publishOptions) { o.validated = true } }

// Publish stores m and waits for the stream's ack.
func (p *Publisher) Publish(ctx context.Context, m event.Message, opts ...PublishOption) (Published, error) {
	msg, id, err := p.Build(m, opts...)
	if err != nil {
		return Published{}, err
	}
	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return Published{EventID: id}, fmt.Errorf("publish %s to %s: %w", m.Key(), msg.Subject, err)
	}
	return Published{EventID: id, Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// Pending is a message sent by PublishAsync whose ack has not been
// awaited yet. The message is stored only once Wait returns without error.
// Wait must be called: it also forgets the message, so a publish whose ack
// never comes (a wait that timed out) leaves nothing behind.
type Pending struct {
	acks    *ackRouter
	nc      *nats.Conn
	msg     *nats.Msg
	token   string
	ch      chan *nats.Msg // its own ack, when another waiter took it
	prefix  string         // of the reply subject
	in      chan *nats.Msg // the router's replies
	eventID string
	what    string // key and subject, for errors
}

// PublishAsync sends m without waiting for the stream; Wait collects the
// ack. A producer still answers or acks its input only after Wait
// succeeded. The acks of all of a Publisher's messages arrive on one reply
// subscription that the connection's read loop feeds straight into a
// channel, and whoever is waiting takes them from there: with few
// messages in flight each waiter usually reads its own ack, a goroutine
// hand-off and a lock on the connection fewer than a request takes. (The
// jetstream package's own async publish keeps a message it never got an
// ack for until the connection drops, and refuses new ones after 4,000 of
// them: a front door must not wedge on lost acks.)
func (p *Publisher) PublishAsync(m event.Message, opts ...PublishOption) (*Pending, error) {
	msg, id, err := p.Build(m, opts...)
	if err != nil {
		return nil, err
	}
	what := m.Key() + " to " + msg.Subject
	pd, err := p.acks.send(p.js.Conn(), msg)
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", what, err)
	}
	pd.eventID, pd.what = id, what
	return pd, nil
}

// EventID is the CloudEvents id of the envelope sent.
func (pd *Pending) EventID() string { return pd.eventID }

// Wait waits for the stream's ack (a duplicate is success, as in Publish)
// or for ctx. After ctx ends the message may still be stored: like a
// Publish that timed out, the outcome is unknown. A stream that does not
// answer yet (no responders, e.g. during a leader election) is asked again
// as jetstream's Publish does: the same message id, so never stored twice.
func (pd *Pending) Wait(ctx context.Context) (Published, error) {
	defer pd.acks.forget(pd.token)
	for attempt := 0; ; attempt++ {
		reply, err := pd.acks.await(ctx, pd)
		if err != nil {
			return Published{EventID: pd.eventID}, fmt.Errorf("publish %s: waiting for the ack: %w", pd.what, err)
		}
		if len(reply.Data) == 0 && reply.Header.Get("Status") == "503" {
			if attempt >= jetstream.DefaultPubRetryAttempts {
				return Published{EventID: pd.eventID}, fmt.Errorf("publish %s: %w", pd.what, jetstream.ErrNoStreamResponse)
			}
			select {
			case <-ctx.Done():
				return Published{EventID: pd.eventID}, fmt.Errorf("publish %s: %w", pd.what, ctx.Err())
			case <-time.After(jetstream.DefaultPubRetryWait):
			}
			if err := pd.nc.PublishMsg(pd.msg); err != nil {
				return Published{EventID: pd.eventID}, fmt.Errorf("publish %s: %w", pd.what, err)
			}
			continue
		}
		var ack struct {
			Error     *jetstream.APIError `json:"error"`
			Stream    string              `json:"stream"`
			Seq       uint64              `json:"seq"`
			Duplicate bool                `json:"duplicate"`
		}
		switch err := json.Unmarshal(reply.Data, &ack); {
		case err != nil:
			return Published{EventID: pd.eventID}, fmt.Errorf("publish %s: %w", pd.what, jetstream.ErrInvalidJSAck)
		case ack.Error != nil:
			return Published{EventID: pd.eventID}, fmt.Errorf("publish %s: nats: %w", pd.what, ack.Error)
		case ack.Stream == "":
			return Published{EventID: pd.eventID}, fmt.Errorf("publish %s: %w", pd.what, jetstream.ErrInvalidJSAck)
		}
		return Published{EventID: pd.eventID, Stream: ack.Stream, Seq: ack.Seq, Duplicate: ack.Duplicate}, nil
	}
}

// ackRouter hands JetStream acks to the Pending they answer.
type ackRouter struct {
	next atomic.Uint64

	mu      sync.Mutex
	prefix  string                    // reply subjects are prefix + token
	in      chan *nats.Msg            // every reply, from the read loop; nil until subscribed
	waiting map[string]chan *nats.Msg // token -> its Pending's channel
}

// ackBuffer bounds the replies queued for waiters. Waiting publishes take
// them at once; only acks of publishes whose wait already ended linger
// until the next waiter drops them.
const ackBuffer = 1 << 14

func (a *ackRouter) send(nc *nats.Conn, msg *nats.Msg) (*Pending, error) {
	token := strconv.FormatUint(a.next.Add(1), 36)
	pd := &Pending{acks: a, nc: nc, msg: msg, token: token, ch: make(chan *nats.Msg, 1)}
	a.mu.Lock()
	if a.in == nil {
		// Subscribed on first use; a failure (a closed connection) is
		// returned and tried again by the next publish.
		prefix, in := nc.NewInbox()+".", make(chan *nats.Msg, ackBuffer)
		if _, err := nc.ChanSubscribe(prefix+"*", in); err != nil {
			a.mu.Unlock()
			return nil, fmt.Errorf("ack subscription: %w", err)
		}
		a.prefix, a.in, a.waiting = prefix, in, map[string]chan *nats.Msg{}
	}
	a.waiting[token] = pd.ch
	pd.prefix, pd.in = a.prefix, a.in
	a.mu.Unlock()
	msg.Reply = pd.prefix + token
	if err := nc.PublishMsg(msg); err != nil {
		a.forget(token)
		return nil, err
	}
	return pd, nil
}

// await returns the next reply for pd, routing every other reply it takes
// on the way to its own waiter (or dropping it when that one has stopped
// waiting).
func (a *ackRouter) await(ctx context.Context, pd *Pending) (*nats.Msg, error) {
	for {
		select {
		case m := <-pd.ch:
			return m, nil
		case m := <-pd.in:
			t := m.Subject[len(pd.prefix):]
			if t == pd.token {
				return m, nil
			}
			a.mu.Lock()
			ch := a.waiting[t]
			a.mu.Unlock()
			if ch != nil {
				select {
				case ch <- m:
				default: // a second reply to the same message: the first counts
				}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (a *ackRouter) forget(token string) {
	a.mu.Lock()
	delete(a.waiting, token)
	a.mu.Unlock()
}

// Build renders m as the NATS message Publish would send, and returns its
// CloudEvents id. It is exported for producers that batch or publish
// asynchronously; they must still wait for every ack.
func (p *Publisher) Build(m event.Message, opts ...PublishOption) (*nats.Msg, string, error) {
	var o publishOptions
	for _, opt := range opts {
		opt(&o)
	}
	data, err := m.Data()
	if err != nil {
		return nil, "", err
	}
	key := m.Key()
	var env event.Envelope
	if o.validated {
		env = event.NewValidated(m.Type(), m.Source(), key, data, p.now())
	} else if env, err = event.New(m.Type(), m.Source(), key, data, p.now()); err != nil {
		return nil, "", err
	}
	env.DataSchema = m.Schema()
	body, err := env.Encode()
	if err != nil {
		return nil, "", err
	}
	msg := &nats.Msg{Subject: m.Subject(), Data: body, Header: make(nats.Header, len(o.header)+5)}
	for k, v := range o.header {
		msg.Header[k] = v
	}
	msg.Header.Set(event.HeaderMsgID, m.MsgID())
	msg.Header.Set(event.HeaderKey, key)

	origin, trace := o.origin, o.traceparent
	if o.parent != nil {
		msg.Header.Set(event.HeaderCausation, o.parent.EventID)
		if origin == "" {
			origin = o.parent.Header.Get(event.HeaderOrigin)
		}
		if trace == "" {
			trace = o.parent.Header.Get(event.HeaderTraceparent)
		}
	}
	if origin != "" {
		msg.Header.Set(event.HeaderOrigin, origin)
	}
	tp, ok := event.ParseTraceparent(trace)
	if ok {
		tp = tp.Child()
	} else {
		tp = event.NewTraceparent()
	}
	msg.Header.Set(event.HeaderTraceparent, tp.String())
	return msg, env.ID, nil
}
