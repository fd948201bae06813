package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// PublishAsync stores what Publish stores (same envelope, same headers),
// a duplicate is success, and DataValidated changes nothing stored.
func TestPublishAsyncStoresWhatPublishStores(t *testing.T) {
	js := declared(t)
	ctx := context.Background()
	pub := stream.NewPublisher(js)
	raw := []byte(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"2","n":"Tom & Jerry <b>"}}}` + "\n")
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "us.east", ID: "2", DataSchema: event.SchemaWebhook, Raw: raw}
	pd, err := pub.PublishAsync(fact, stream.WithOrigin(event.OriginWebhook), stream.DataValidated())
	if err != nil {
		t.Fatal(err)
	}
	first, err := pd.Wait(ctx)
	if err != nil || first.Duplicate || first.Stream != event.StreamCommerce || first.EventID != pd.EventID() {
		t.Fatalf("first: %+v %v", first, err)
	}
	pd, err = pub.PublishAsync(fact)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pd.Wait(ctx)
	if err != nil || !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("a second publish is a duplicate of the first: %+v %v", again, err)
	}
	m := lastMsg(t, js, event.StreamCommerce, "commerce.order.placed.us%2Eeast")
	if m.Header.Get(event.HeaderMsgID) != "order.placed:us.east:2" || m.Header.Get(event.HeaderKey) != "order:us.east:2" ||
		m.Header.Get(event.HeaderOrigin) != event.OriginWebhook {
		t.Fatalf("headers %v", m.Header)
	}
	env, err := event.Decode(m.Data)
	if err != nil || string(env.Data) != string(raw) || env.ID != first.EventID || env.Subject != "order:us.east:2" {
		t.Fatalf("stored envelope %+v %v", env, err)
	}
}

// Data that is not JSON is refused before anything is sent, unless the
// caller says it validated it (then it is the caller's word).
func TestPublishAsyncRefusesInvalidData(t *testing.T) {
	js := declared(t)
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: "3", Raw: []byte(`{"a":`)}
	if _, err := stream.NewPublisher(js).PublishAsync(fact); !errors.Is(err, event.ErrInvalidEnvelope) {
		t.Fatalf("err = %v", err)
	}
}

// With no server to answer, Wait ends with the context and says so.
func TestPendingWaitEndsWithContext(t *testing.T) {
	ns := natstest.RunServer(t)
	_, js := natstest.Connect(t, ns)
	if _, err := stream.ApplyDeclared(context.Background(), js, nil); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: "4", Raw: []byte(`{}`)}
	pd, err := stream.NewPublisher(js).PublishAsync(fact)
	if err != nil {
		return // refused at once while reconnecting: also fine
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := pd.Wait(ctx); err == nil {
		t.Fatal("Wait succeeded with the server gone")
	}
}

// plainMessage is a message on any subject, for the edges of the ack path.
type plainMessage struct{ subject, id string }

func (m plainMessage) Subject() string { return m.subject }
func (m plainMessage) MsgID() string   { return m.id }
func (m plainMessage) Key() string     { return "test:" + m.id }
func (m plainMessage) Type() string    { return "test" }
func (m plainMessage) Source() string  { return "mlc://test" }
func (m plainMessage) Schema() string  { return "" }
func (m plainMessage) Data() ([]byte, error) {
	return []byte(`{"x":"` + strings.Repeat("y", 200) + `"}`), nil
}

// Many publishes waiting at once each get their own ack, whoever takes it
// off the reply subscription; the stream's errors keep their sentinels;
// a subject no stream takes is asked again, then reported.
func TestPendingAcksReachTheirOwnWaiter(t *testing.T) {
	js := declared(t)
	ctx := context.Background()
	pub := stream.NewPublisher(js)
	const n = 64
	seqs := make(chan uint64, n)
	errs := make(chan error, n)
	var pendings []*stream.Pending
	for i := range n {
		fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: fmt.Sprint("c", i), Raw: []byte(`{}`)}
		pd, err := pub.PublishAsync(fact)
		if err != nil {
			t.Fatal(err)
		}
		pendings = append(pendings, pd)
	}
	var wg sync.WaitGroup
	for _, pd := range pendings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := pd.Wait(ctx)
			if err != nil || res.Duplicate || res.EventID != pd.EventID() {
				errs <- fmt.Errorf("%+v %v", res, err)
				return
			}
			seqs <- res.Seq
		}()
	}
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("two waiters got the ack of sequence %d", s)
		}
		seen[s] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct acks for %d messages", len(seen), n)
	}

	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SMALL", Subjects: []string{"small.>"}, MaxMsgSize: 128}); err != nil {
		t.Fatal(err)
	}
	pd, err := pub.PublishAsync(plainMessage{subject: "small.x", id: "big"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pd.Wait(ctx); !errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		t.Fatalf("over max_msg_size: %v", err)
	}
	pd, err = pub.PublishAsync(plainMessage{subject: "nostream.x", id: "lost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pd.Wait(ctx); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("no stream: %v", err)
	}
}

// Acks that never come (a subscriber that takes the message and never
// answers stands for a lost reply) leave nothing behind: after more of them
// than jetstream's async publish tolerates (4,000), publishing still works.
func TestLostAcksDoNotWedgePublishing(t *testing.T) {
	ns := natstest.RunServer(t)
	nc, js := natstest.Connect(t, ns)
	if _, err := stream.ApplyDeclared(context.Background(), js, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("quiet.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	pub := stream.NewPublisher(js)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 4100 {
		pd, err := pub.PublishAsync(plainMessage{subject: "quiet.x", id: fmt.Sprint(i)})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if _, err := pd.Wait(gone); !errors.Is(err, context.Canceled) {
			t.Fatalf("wait %d: %v", i, err)
		}
	}
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: "after-lost", Raw: []byte(`{}`)}
	pd, err := pub.PublishAsync(fact)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := pd.Wait(ctx); err != nil || res.Stream != event.StreamCommerce {
		t.Fatalf("after lost acks: %+v %v", res, err)
	}
}

// A Publisher that only builds messages needs no connection.
func TestBuildWithoutConnection(t *testing.T) {
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: "5", Raw: []byte(`{}`)}
	msg, id, err := stream.NewPublisher(nil).Build(fact)
	if err != nil || id == "" || msg.Header.Get(event.HeaderMsgID) != "order.placed:default:5" {
		t.Fatalf("%v %q %v", msg, id, err)
	}
}

// go test -run x -bench Publish ./stream/
func BenchmarkPublish(b *testing.B) {
	raw := []byte(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"1","items":[` +
		`{"sku":"MS09-M-Red","name":"Helios Tee","qty_ordered":1,"price":32}]}}}`)
	for _, mode := range []string{"sync", "async"} {
		b.Run(mode, func(b *testing.B) {
			ns := natstest.RunServer(b)
			_, js := natstest.Connect(b, ns)
			if _, err := stream.ApplyDeclared(context.Background(), js, nil); err != nil {
				b.Fatal(err)
			}
			pub := stream.NewPublisher(js)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				fact := event.CommerceFact{Kind: event.OrderPlaced, Store: "default", ID: fmt.Sprint(i), Raw: raw}
				var err error
				if mode == "sync" {
					_, err = pub.Publish(ctx, fact, stream.WithOrigin(event.OriginWebhook), stream.DataValidated())
				} else {
					var pd *stream.Pending
					if pd, err = pub.PublishAsync(fact, stream.WithOrigin(event.OriginWebhook), stream.DataValidated()); err == nil {
						_, err = pd.Wait(ctx)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU this process has used (the benchmark, the client and
// the embedded server): on a shared machine a steadier measure than time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
