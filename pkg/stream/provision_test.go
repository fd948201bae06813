package stream_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/streams"
)

func TestApplyEveryDefinitionTwice(t *testing.T) {
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	if len(defs.Streams) != len(event.Streams()) || len(defs.Buckets) != len(event.Buckets()) || len(defs.Consumers) < 8 {
		t.Fatalf("loaded %d streams, %d consumers, %d buckets", len(defs.Streams), len(defs.Consumers), len(defs.Buckets))
	}
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx := context.Background()

	first, err := stream.Apply(ctx, js, defs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range first {
		if r.Action != stream.Created {
			t.Errorf("first apply: %s %s %s, want created", r.Kind, r.Name, r.Action)
		}
	}
	if len(first) != len(defs.Streams)+len(defs.Consumers)+len(defs.Buckets) {
		t.Fatalf("first apply touched %d definitions", len(first))
	}
	second, err := stream.Apply(ctx, js, defs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range second {
		if r.Action != stream.Unchanged {
			t.Errorf("second apply: %s %s %s, want unchanged", r.Kind, r.Name, r.Action)
		}
	}
	// What the files say is what the server has.
	w, err := js.Consumer(ctx, "NETSUITE", "netsuite-writer")
	if err != nil {
		t.Fatal(err)
	}
	if got := w.CachedInfo().Config.MaxAckPending; got != 4 {
		t.Errorf("netsuite-writer max_ack_pending = %d, want 4", got)
	}
	st, err := js.Stream(ctx, "COMMERCE")
	if err != nil {
		t.Fatal(err)
	}
	if st.CachedInfo().Config.Duplicates.Hours() != 24 {
		t.Errorf("COMMERCE duplicate window = %v", st.CachedInfo().Config.Duplicates)
	}
	if _, err := js.KeyValue(ctx, "mlc_credentials"); err != nil {
		t.Errorf("mlc_credentials bucket: %v", err)
	}
}

func TestApplyUpdatesAChangedDefinition(t *testing.T) {
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx := context.Background()
	fs1 := fstest.MapFS{
		"S.json":     {Data: []byte(`{"name":"S","subjects":["s.>"],"storage":"file","max_age":60000000000,"num_replicas":1}`)},
		"S/c.json":   {Data: []byte(`{"durable_name":"c","ack_policy":"explicit","max_ack_pending":10}`)},
		"kv/b1.json": {Data: []byte(`{"bucket":"b1","history":1,"storage":"file"}`)},
	}
	defs, err := stream.Load(fs1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Apply(ctx, js, defs); err != nil {
		t.Fatal(err)
	}
	fs1["S.json"].Data = []byte(`{"name":"S","subjects":["s.>"],"storage":"file","max_age":120000000000,"num_replicas":1}`)
	fs1["S/c.json"].Data = []byte(`{"durable_name":"c","ack_policy":"explicit","max_ack_pending":20}`)
	fs1["kv/b1.json"].Data = []byte(`{"bucket":"b1","history":5,"storage":"file"}`)
	defs, err = stream.Load(fs1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := stream.Apply(ctx, js, defs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != stream.Updated {
			t.Errorf("%s %s: %s, want updated", r.Kind, r.Name, r.Action)
		}
	}
}

// netsuite-writer sets its consumer's max_ack_pending to the NetSuite budget
// at run time: a service applying the files at start must not put the
// file's 4 back, while the rest of the definition is still applied; the
// operator's apply (WithDeclaredRuntimeValues) does set it.
func TestApplyKeepsTheWritersLiveMaxAckPending(t *testing.T) {
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx := context.Background()
	if _, err := stream.Apply(ctx, js, defs); err != nil {
		t.Fatal(err)
	}
	w, err := js.Consumer(ctx, event.StreamNetSuite, event.DurableNetSuiteWriter)
	if err != nil {
		t.Fatal(err)
	}
	cfg := w.CachedInfo().Config
	cfg.MaxAckPending = 15 // the writer's budget
	cfg.MaxDeliver = 3     // and a drift the files must correct
	if _, err := js.UpdateConsumer(ctx, event.StreamNetSuite, cfg); err != nil {
		t.Fatal(err)
	}
	res, err := stream.Apply(ctx, js, defs)
	if err != nil {
		t.Fatal(err)
	}
	updated := false
	for _, r := range res {
		if r.Name == event.StreamNetSuite+"/"+event.DurableNetSuiteWriter {
			updated = r.Action == stream.Updated
		}
	}
	if w, err = js.Consumer(ctx, event.StreamNetSuite, event.DurableNetSuiteWriter); err != nil {
		t.Fatal(err)
	}
	got := w.CachedInfo().Config
	if !updated || got.MaxAckPending != 15 || got.MaxDeliver != 12 {
		t.Errorf("after apply: updated %v, max_ack_pending %d (want the live 15), max_deliver %d (want the file's 12)", updated, got.MaxAckPending, got.MaxDeliver)
	}
	// Only max_ack_pending differs now: nothing to update.
	res, err = stream.Apply(ctx, js, defs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Action != stream.Unchanged {
			t.Errorf("third apply: %s %s %s, want unchanged", r.Kind, r.Name, r.Action)
		}
	}
	// The operator's apply sets the file's value.
	if _, err := stream.Apply(ctx, js, defs, stream.WithDeclaredRuntimeValues()); err != nil {
		t.Fatal(err)
	}
	if w, err = js.Consumer(ctx, event.StreamNetSuite, event.DurableNetSuiteWriter); err != nil || w.CachedInfo().Config.MaxAckPending != 4 {
		t.Errorf("with WithDeclaredRuntimeValues max_ack_pending is not the file's 4: %v", err)
	}
	// Other consumers' max_ack_pending is the file's.
	tr, err := js.Consumer(ctx, event.StreamCommerce, event.DurableTransform)
	if err != nil {
		t.Fatal(err)
	}
	tcfg := tr.CachedInfo().Config
	declared := tcfg.MaxAckPending
	tcfg.MaxAckPending = declared + 1
	if _, err := js.UpdateConsumer(ctx, event.StreamCommerce, tcfg); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Apply(ctx, js, defs); err != nil {
		t.Fatal(err)
	}
	if tr, err = js.Consumer(ctx, event.StreamCommerce, event.DurableTransform); err != nil || tr.CachedInfo().Config.MaxAckPending != declared {
		t.Errorf("transform max_ack_pending not put back to %d: %v", declared, err)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	cases := map[string]fstest.MapFS{
		"unknown field":    {"S.json": {Data: []byte(`{"name":"S","subjectz":["s"]}`)}},
		"name mismatch":    {"S.json": {Data: []byte(`{"name":"T","subjects":["s"]}`)}},
		"orphan consumer":  {"X/c.json": {Data: []byte(`{"durable_name":"c"}`)}},
		"durable mismatch": {"S.json": {Data: []byte(`{"name":"S"}`)}, "S/c.json": {Data: []byte(`{"durable_name":"d"}`)}},
		"bucket mismatch":  {"kv/a.json": {Data: []byte(`{"bucket":"b"}`)}},
		"invalid json":     {"S.json": {Data: []byte(`{"name":`)}},
	}
	for name, fsys := range cases {
		if _, err := stream.Load(fsys); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
}
