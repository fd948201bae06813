package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/event"
)

// openStore opens a fresh, migrated audit database on srv, dropped when the
// test ends (tests may share one server through MLC_CLICKHOUSE_DSN).
func openStore(t *testing.T, srv *chtest.Server, opts ...audit.Option) *audit.Store {
	t.Helper()
	return openStoreB(t, srv, opts...)
}

func openStoreB(t testing.TB, srv *chtest.Server, opts ...audit.Option) *audit.Store {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := "audit_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	s, err := audit.Open(ctx, srv.Addr, append([]audit.Option{audit.WithDatabase(db)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		s.Close()
	})
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// message is one stream message: what a producer published.
type message struct {
	meta    audit.Meta
	subject string
	hdr     nats.Header
	data    []byte
}

func (m message) row(mirrored time.Time) audit.Row {
	return audit.FromMessage(m.meta, m.subject, m.hdr, m.data, mirrored)
}

func envelope(t testing.TB, m event.Message, at time.Time) []byte {
	t.Helper()
	data, err := m.Data()
	if err != nil {
		t.Fatal(err)
	}
	env, err := event.New(m.Type(), m.Source(), m.Key(), data, at)
	if err != nil {
		t.Fatal(err)
	}
	env.DataSchema = m.Schema()
	b, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func headers(m event.Message, origin string) nats.Header {
	h := nats.Header{}
	h.Set(event.HeaderMsgID, m.MsgID())
	h.Set(event.HeaderKey, m.Key())
	h.Set(event.HeaderOrigin, origin)
	h.Set(event.HeaderTraceparent, event.NewTraceparent().String())
	return h
}

// orderStory is one order's messages: webhook fact, command, a failed and
// an ok outcome, all within a few seconds of t0.
func orderStory(t testing.TB, store, id string, t0 time.Time, seq func(string) uint64) []message {
	t.Helper()
	fact := event.CommerceFact{Kind: event.OrderPlaced, Store: store, ID: id, DataSchema: event.SchemaWebhook,
		Raw: []byte(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"` + id + `"}}}`)}
	ext, _ := event.SalesOrderExternalID(store, id)
	cmd := event.NetSuiteCommand{Kind: event.KindSalesOrder, Store: store, SourceID: id, ExternalID: ext,
		Record: []byte(`{"otherRefNum":"` + id + `"}`), Customer: &event.CustomerRef{BuyerKey: "7", ExternalID: "mlc-cust-x-7", Record: []byte(`{}`)}}
	failed := event.SyncOutcome{Kind: event.KindSalesOrder, Status: event.StatusFailed, BusinessKey: cmd.Key(), Store: store,
		ExternalID: ext, Attempts: 1, Error: "NetSuite busy", ErrorCode: "CONCURRENCY_LIMIT_EXCEEDED", CommandID: "c1", Producer: "netsuite-writer"}
	ok := event.SyncOutcome{Kind: event.KindSalesOrder, Status: event.StatusOK, BusinessKey: cmd.Key(), Store: store,
		ExternalID: ext, InternalID: "9001", Attempts: 2, DurationMS: 340, CommandID: "c1", Producer: "netsuite-writer"}
	var out []message
	for i, m := range []struct {
		stream string
		msg    event.Message
		origin string
	}{{event.StreamCommerce, fact, event.OriginWebhook}, {event.StreamNetSuite, cmd, event.OriginWebhook},
		{event.StreamSync, failed, event.OriginWebhook}, {event.StreamSync, ok, event.OriginWebhook}} {
		at := t0.Add(time.Duration(i) * 1500 * time.Millisecond)
		out = append(out, message{meta: audit.Meta{Stream: m.stream, Seq: seq(m.stream), Published: at.Add(3 * time.Millisecond)},
			subject: m.msg.Subject(), hdr: headers(m.msg, m.origin), data: envelope(t, m.msg, at)})
	}
	return out
}

func sequencer() func(string) uint64 {
	seqs := map[string]uint64{}
	return func(s string) uint64 { seqs[s]++; return seqs[s] }
}

func TestStore(t *testing.T) {
	srv := chtest.Start(t)
	ctx := context.Background()

	t.Run("migrate is idempotent", func(t *testing.T) {
		s := openStore(t, srv)
		for range 3 {
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Migrations(ctx)
		if err != nil || len(got) == 0 || got[0] != 1 {
			t.Fatalf("migrations %v, %v", got, err)
		}
		var n uint64
		q := "SELECT count() FROM system.tables WHERE database = ? AND name IN (?, ?, ?)"
		if err := s.Conn().QueryRow(ctx, q, s.Database(), audit.EventsTable, audit.KeysTable, audit.MigrationsTable).Scan(&n); err != nil || n != 3 {
			t.Fatalf("tables in %s: %d, %v (want events, keys and migrations)", s.Database(), n, err)
		}
	})

	t.Run("rows read once however often mirrored", func(t *testing.T) {
		s := openStore(t, srv)
		seq := sequencer()
		t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		var msgs []message
		for i := range 20 {
			msgs = append(msgs, orderStory(t, "default", fmt.Sprintf("%09d", i+1), t0.Add(time.Duration(i)*time.Second), seq)...)
		}
		rows := make([]audit.Row, len(msgs))
		for i, m := range msgs {
			rows[i] = m.row(time.Now())
		}
		// The whole batch twice (a crash between insert and ack), then
		// a part of it again.
		for _, batch := range [][]audit.Row{rows, rows, rows[10:30]} {
			if err := s.Insert(ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		msgsN, rowsN, err := s.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msgsN != uint64(len(msgs)) || rowsN <= msgsN {
			t.Fatalf("messages %d rows %d, want %d messages and more rows (unmerged copies)", msgsN, rowsN, len(msgs))
		}
		all, err := s.Rows(ctx, audit.Filter{})
		if err != nil || len(all) != len(msgs) {
			t.Fatalf("rows %d, %v; want %d", len(all), err, len(msgs))
		}
		trail, err := s.Trail(ctx, "order:default:000000007")
		if err != nil {
			t.Fatal(err)
		}
		if len(trail) != 4 {
			t.Fatalf("trail has %d rows, want 4: %+v", len(trail), trail)
		}
		wantSteps := []string{"received (webhook)", "transformed", "netsuite failed", "netsuite ok"}
		for i, r := range trail {
			if r.Step() != wantSteps[i] {
				t.Errorf("step %d = %q, want %q", i, r.Step(), wantSteps[i])
			}
		}
		if last := trail[3]; last.InternalID != "9001" || last.Attempts != 2 || last.DurationMS != 340 || !strings.Contains(last.Detail(), "internal id 9001") {
			t.Errorf("outcome row %+v detail %q", last, last.Detail())
		}
		if f := trail[2]; f.ErrorCode != "CONCURRENCY_LIMIT_EXCEEDED" || f.Error != "NetSuite busy" {
			t.Errorf("failed row %+v", f)
		}
		// A bare increment id finds the key through the index.
		byID, err := s.Trail(ctx, "000000007")
		if err != nil || len(byID) != 4 || byID[0].Key != "order:default:000000007" {
			t.Fatalf("trail by id: %d rows, %v", len(byID), err)
		}
		none, err := s.Trail(ctx, "000000999")
		if err != nil || len(none) != 0 {
			t.Fatalf("unknown id: %v %v", none, err)
		}
		// Data comes back byte-for-byte when asked for.
		withData, err := s.Rows(ctx, audit.Filter{Keys: []string{"order:default:000000003"}, Stream: event.StreamCommerce, WithData: true})
		if err != nil || len(withData) != 1 || string(withData[0].Data) != string(msgs[8].data) {
			t.Fatalf("data: %v, %v", withData, err)
		}
		if h := withData[0].Header(event.HeaderMsgID); h != "order.placed:default:000000003" {
			t.Fatalf("header Nats-Msg-Id = %q", h)
		}

		st, err := s.Stats(ctx, t0.Add(-time.Minute), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]uint64{}
		for _, c := range st.Counts {
			counts[c.EventType+"/"+c.Status] = c.Messages
		}
		if counts["commerce.order.placed/"] != 20 || counts["sync.failed.salesorder/failed"] != 20 || counts["sync.ok.salesorder/ok"] != 20 {
			t.Fatalf("counts %v", counts)
		}
		if len(st.ToNS) != 1 || st.ToNS[0].Entity != "order" || st.ToNS[0].Records != 20 || st.ToNS[0].P50 != 4500*time.Millisecond {
			t.Fatalf("latency %+v", st.ToNS)
		}
	})

	t.Run("filters", func(t *testing.T) {
		s := openStore(t, srv)
		seq := sequencer()
		t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		var rows []audit.Row
		for i, store := range []string{"default", "us.east", "en_us"} {
			for _, m := range orderStory(t, store, "1", t0.Add(time.Duration(i)*time.Minute), seq) {
				rows = append(rows, m.row(time.Now()))
			}
		}
		if err := s.Insert(ctx, rows); err != nil {
			t.Fatal(err)
		}
		got, err := s.Rows(ctx, audit.Filter{Subject: "commerce.order.placed.*"})
		if err != nil || len(got) != 3 {
			t.Fatalf("wildcard: %d %v", len(got), err)
		}
		got, err = s.Rows(ctx, audit.Filter{Subject: event.CommerceSubject(event.OrderPlaced, "us.east")})
		if err != nil || len(got) != 1 || got[0].Key != "order:us.east:1" {
			t.Fatalf("escaped store: %+v %v", got, err)
		}
		got, err = s.Rows(ctx, audit.Filter{Subject: "sync.>", Since: t0.Add(time.Minute), Until: t0.Add(2 * time.Minute)})
		if err != nil || len(got) != 2 || got[0].Key != "order:us.east:1" {
			t.Fatalf("window: %+v %v", got, err)
		}
		got, err = s.Rows(ctx, audit.Filter{Stream: event.StreamCommerce, SkipOrigins: []string{event.OriginWebhook}})
		if err != nil || len(got) != 0 {
			t.Fatalf("skip origins: %+v %v", got, err)
		}
		ids, err := s.Keys(ctx, "1")
		if err != nil || strings.Join(ids, ",") != "order:default:1,order:en_us:1,order:us.east:1" {
			t.Fatalf("keys of 1: %v %v", ids, err)
		}
	})
}
