package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The whole system (mlc dev's stack: ingest, transform, netsuite-writer,
// inventory-publisher, audit-mirror, both simulators) with ClickHouse: an
// order with an unmapped SKU is dead-lettered, its SKU is mapped, and
// `mlc dlq retry` (once) or `mlc replay` puts it in NetSuite; the audit
// trail tells the story; every stream message is in ClickHouse once.
func TestFixedOrdersReachNetSuite(t *testing.T) {
	ch := chtest.Start(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := "e2e_" + hex.EncodeToString(b)
	dsn := "clickhouse://" + ch.Addr + "/" + db
	logs := &lockedBuffer{}
	ctx := context.Background()
	st, err := devstack.Start(ctx, devstack.Options{Dir: t.TempDir(), NATSPort: -1, LogOut: logs, Env: map[string]string{
		"MLC_CLICKHOUSE_DSN": dsn, "MLC_AUDIT_BATCH_WAIT": "100ms",
		"MLC_TRANSFORM_UNMAPPED_WAIT": "1s", "MLC_TRANSFORM_UNMAPPED_RETRY": "200ms", "MLC_TRANSFORM_CONFIRM_RETRY": "200ms", "MLC_TRANSFORM_CONFIRM_WINDOW": "10s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		if t.Failed() {
			t.Logf("service logs:\n%s", logs.String())
		}
	})
	for _, r := range st.Services {
		if r.Status != devstack.StatusReady {
			t.Fatalf("%s: %s", r.Name, r.Status)
		}
	}
	t.Setenv("MLC_NATS_URL", st.NATS.ClientURL())
	t.Setenv("MLC_CLICKHOUSE_DSN", dsn)
	_, js := natstest.Connect(t, st.NATS)
	store, err := audit.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = store.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		store.Close()
	})
	items, err := js.KeyValue(ctx, event.BucketItemMap)
	if err != nil {
		t.Fatal(err)
	}

	salesOrder := func(id string) []netsuitesim.Record {
		ext, _ := event.SalesOrderExternalID("default", id)
		var out []netsuitesim.Record
		for _, r := range st.Sims.NetSuite.Records("salesOrder") {
			if r.ExternalID == ext {
				out = append(out, r)
			}
		}
		return out
	}
	waitFor := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %v waiting for %s", within, what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	openLetter := func(key string) letter {
		t.Helper()
		var found letter
		waitFor("the dead letter of "+key, 30*time.Second, func() bool {
			out, err := mlc(t, "", "--json", "dlq", "list", "--key", key)
			var ls []letter
			if err != nil || json.Unmarshal([]byte(out), &ls) != nil || len(ls) == 0 {
				return false
			}
			found = ls[0]
			return true
		})
		return found
	}
	newSKU := func(sku, itemID string) {
		st.Sims.Commerce.AddProduct(sku, "E2E "+sku, decimal.RequireFromString("12.50"))
	}
	mapSKU := func(sku, itemID string) {
		st.Sims.NetSuite.AddItem(netsuitesim.Item{ID: itemID, ItemID: sku, DisplayName: sku, Type: "InvtPart"})
		if _, err := itemmap.Put(ctx, items, itemmap.Value{SKU: sku, ItemID: itemID, Type: "InvtPart", Active: true, UpdatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	place := func(sku string) string {
		t.Helper()
		spec := commercesim.OrderSpec{}
		if sku != "" {
			spec.Lines = []commercesim.LineSpec{{SKU: sku, Qty: 1}}
		}
		o, err := st.Sims.Commerce.PlaceOrder(ctx, "default", spec)
		if err != nil {
			t.Fatal(err)
		}
		if o.Delivery == nil || !o.Delivery.Success {
			t.Fatalf("webhook not delivered: %+v", o.Delivery)
		}
		return o.IncrementID
	}

	// A mapped order goes through.
	okID := place("")
	waitFor("order "+okID+" in NetSuite", 30*time.Second, func() bool { return len(salesOrder(okID)) == 1 })

	// An order with a SKU NetSuite does not know: dead-lettered.
	newSKU("E2E-RETRY-1", "9901")
	retryID := place("E2E-RETRY-1")
	retryKey := event.Key(event.EntityOrder, "default", retryID)
	l := openLetter(retryKey)
	if !strings.Contains(l.Reason, "E2E-RETRY-1") || l.Consumer != event.DurableTransform {
		t.Fatalf("letter %+v", l)
	}
	// Mapped, retried: one sales order; a second retry changes nothing.
	mapSKU("E2E-RETRY-1", "9901")
	if out, err := mlc(t, "", "dlq", "retry", fmt.Sprint(l.Seq), "--note", "mapped E2E-RETRY-1"); err != nil {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	waitFor("the retried order in NetSuite", 30*time.Second, func() bool { return len(salesOrder(retryID)) == 1 })
	if out, err := mlc(t, "", "dlq", "retry", fmt.Sprint(l.Seq)); err != nil || !strings.Contains(out, "already retried") {
		t.Fatalf("second retry: %v\n%s", err, out)
	}

	// Another one fixed by replaying the order.
	newSKU("E2E-REPLAY-1", "9902")
	replayID := place("E2E-REPLAY-1")
	replayKey := event.Key(event.EntityOrder, "default", replayID)
	openLetter(replayKey)
	mapSKU("E2E-REPLAY-1", "9902")
	if out, err := mlc(t, "", "replay", replayKey); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	waitFor("the replayed order in NetSuite", 30*time.Second, func() bool { return len(salesOrder(replayID)) == 1 })
	if out, err := mlc(t, "", "dlq", "resolve", "--all-matching", "--key", replayKey, "--note", "replayed"); err != nil {
		t.Fatalf("resolve: %v\n%s", err, out)
	}

	// Every stream message in ClickHouse once, and the trails tell it.
	waitFor("every message mirrored", 30*time.Second, func() bool {
		var total uint64
		for _, name := range event.Streams() {
			s, _ := js.Stream(ctx, name)
			info, err := s.Info(ctx)
			if err != nil {
				return false
			}
			total += info.State.Msgs
		}
		n, _, err := store.Count(ctx)
		rows, err2 := store.Rows(ctx, audit.Filter{})
		return err == nil && err2 == nil && n == total && uint64(len(rows)) == total
	})
	out, err := mlc(t, "", "audit", "trail", retryKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"received (webhook)", "dead-lettered", "dlq retry", "replayed", "transformed (replay)", "netsuite ok"} {
		if !strings.Contains(out, step) {
			t.Errorf("trail of %s lacks %q:\n%s", retryKey, step, out)
		}
	}
	out, err = mlc(t, "", "audit", "trail", replayID)
	if err != nil || !strings.Contains(out, "replayed") || !strings.Contains(out, "netsuite ok") || !strings.Contains(out, "dlq resolved") {
		t.Errorf("trail of %s: %v\n%s", replayKey, err, out)
	}
	if len(salesOrder(retryID)) != 1 || len(salesOrder(replayID)) != 1 || len(salesOrder(okID)) != 1 {
		t.Fatal("a sales order was written twice")
	}
}
