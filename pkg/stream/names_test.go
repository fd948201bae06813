package stream_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/streams"
)

// The names in pkg/event are the only spellings code uses; they must be
// exactly what streams/ declares, and every subject builder must land in
// the stream that owns it.
func TestEventNamesMatchDeclarations(t *testing.T) {
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	var gotStreams, gotBuckets []string
	for _, s := range defs.Streams {
		gotStreams = append(gotStreams, s.Config.Name)
	}
	for _, b := range defs.Buckets {
		gotBuckets = append(gotBuckets, b.Config.Bucket)
	}
	wantStreams, wantBuckets := event.Streams(), event.Buckets()
	slices.Sort(gotStreams)
	slices.Sort(wantStreams)
	slices.Sort(gotBuckets)
	slices.Sort(wantBuckets)
	if !slices.Equal(gotStreams, wantStreams) {
		t.Errorf("streams/ declares %v, event names %v", gotStreams, wantStreams)
	}
	if !slices.Equal(gotBuckets, wantBuckets) {
		t.Errorf("streams/kv declares %v, event names %v", gotBuckets, wantBuckets)
	}
	durables := map[string]bool{event.DurableTransform: true, event.DurableNetSuiteWriter: true,
		event.DurableCommerceWriter: true, event.DurableAuditMirror: true}
	for _, c := range defs.Consumers {
		if !durables[c.Config.Durable] {
			t.Errorf("consumer %s/%s has no constant in pkg/event", c.Stream, c.Config.Durable)
		}
	}
	for _, c := range []struct{ stream, durable string }{
		{event.StreamCommerce, event.DurableTransform}, {event.StreamNetSuite, event.DurableNetSuiteWriter},
		{event.StreamInventory, event.DurableCommerceWriter},
	} {
		if _, ok := defs.Consumer(c.stream, c.durable); !ok {
			t.Errorf("no consumer %s on %s", c.durable, c.stream)
		}
	}
	for _, s := range event.Streams() {
		if _, ok := defs.Consumer(s, event.DurableAuditMirror); !ok {
			t.Errorf("stream %s has no audit-mirror consumer", s)
		}
	}

	owner := func(subject string) string {
		for _, s := range defs.Streams {
			for _, pat := range s.Config.Subjects {
				if subjectMatches(pat, subject) {
					return s.Config.Name
				}
			}
		}
		return ""
	}
	for subject, want := range map[string]string{
		event.CommerceSubject(event.OrderPlaced, "en_us"):          event.StreamCommerce,
		event.CommerceSubject(event.InvoiceCaptured, "a.b"):        event.StreamCommerce,
		event.CommerceSubject(event.CustomerCreated, "x y"):        event.StreamCommerce,
		event.NetSuiteSubject(event.KindSalesOrder):                event.StreamNetSuite,
		event.SyncSubject(true, event.KindInventory):               event.StreamSync,
		event.SyncSubject(false, event.KindInvoice):                event.StreamSync,
		event.InventorySubject():                                   event.StreamInventory,
		event.DLQSubject(event.NetSuiteSubject(event.KindInvoice)): event.StreamDLQ,
	} {
		if got := owner(subject); got != want {
			t.Errorf("subject %s lands in %q, want %s", subject, got, want)
		}
	}
}

// subjectMatches is NATS wildcard matching: * one token, > the rest.
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}
