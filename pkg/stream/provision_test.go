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
