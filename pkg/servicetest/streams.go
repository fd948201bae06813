package servicetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publish puts data on subject with hdr and waits for the stream's ack.
func (e *Env) Publish(t testing.TB, subject string, hdr nats.Header, data []byte) *jetstream.PubAck {
	t.Helper()
	msg := &nats.Msg{Subject: subject, Header: hdr, Data: data}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	ack, err := e.JS.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatalf("servicetest: publish %s: %v", subject, err)
	}
	return ack
}

// Next returns the next message of stream on filterSubject (wildcards
// allowed), waiting up to Wait for it. Successive calls with the same
// stream and filter walk the stream from its first message, one each.
func (e *Env) Next(t testing.TB, streamName, filterSubject string) jetstream.Msg {
	t.Helper()
	c := e.consumer(t, streamName, filterSubject)
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	for {
		m, err := c.Next(jetstream.FetchMaxWait(time.Second))
		if err == nil {
			return m
		}
		if ctx.Err() != nil || !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			t.Fatalf("servicetest: next on %s %s: %v", streamName, filterSubject, err)
		}
	}
}

func (e *Env) consumer(t testing.TB, streamName, filter string) jetstream.Consumer {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	key := streamName + " " + filter
	if c, ok := e.consumers[key]; ok {
		return c
	}
	c, err := e.JS.OrderedConsumer(context.Background(), streamName, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatalf("servicetest: consumer on %s %s: %v", streamName, filter, err)
	}
	e.consumers[key] = c
	return c
}

// Count is how many messages stream holds on subject (wildcards allowed).
func (e *Env) Count(t testing.TB, streamName, subject string) uint64 {
	t.Helper()
	info := e.info(t, streamName, jetstream.WithSubjectFilter(subject))
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// Total is how many messages stream holds.
func (e *Env) Total(t testing.TB, streamName string) uint64 {
	t.Helper()
	return e.info(t, streamName).State.Msgs
}

func (e *Env) info(t testing.TB, streamName string, opts ...jetstream.StreamInfoOpt) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	s, err := e.JS.Stream(ctx, streamName)
	if err != nil {
		t.Fatalf("servicetest: stream %s: %v", streamName, err)
	}
	info, err := s.Info(ctx, opts...)
	if err != nil {
		t.Fatalf("servicetest: stream %s info: %v", streamName, err)
	}
	return info
}

// Last returns the last message of stream on subject.
func (e *Env) Last(t testing.TB, streamName, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	s, err := e.JS.Stream(ctx, streamName)
	if err != nil {
		t.Fatalf("servicetest: stream %s: %v", streamName, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		t.Fatalf("servicetest: last message of %s on %s: %v", streamName, subject, err)
	}
	return m
}
