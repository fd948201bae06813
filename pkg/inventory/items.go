package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/stock"
)

// ItemMapCounts say what a run changed in mlc_item_map.
type ItemMapCounts struct {
	Added   int `json:"added"`
	Changed int `json:"changed"`
	Removed int `json:"removed"`
}

// itemMap keeps mlc_item_map current with an in-memory copy, reused like
// the snapshot's (only while nobody else wrote the bucket), so a run
// writes only the entries that changed.
type itemMap struct {
	kv      jetstream.KeyValue
	workers int

	mu      sync.Mutex
	entries map[string]itemmap.Value
	synced  uint64
	own     uint64
}

func newItemMap(kv jetstream.KeyValue, workers int) *itemMap {
	return &itemMap{kv: kv, workers: workers}
}

func (m *itemMap) load(ctx context.Context) (map[string]itemmap.Value, error) {
	st, err := m.kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("item map status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return nil, errors.New("item map status: not a JetStream bucket")
	}
	last := bs.StreamInfo().State.LastSeq
	m.mu.Lock()
	if m.entries != nil && last == m.synced+m.own {
		m.synced, m.own = last, 0
		defer m.mu.Unlock()
		return m.entries, nil
	}
	m.mu.Unlock()
	entries, _, err := itemmap.All(ctx, m.kv)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries, m.synced, m.own = entries, last, 0
	return entries, nil
}

// Sync writes the entries of bySKU that differ from the map. With full (a
// run over the whole item table) it also removes SKUs NetSuite no longer
// has; a run for some SKUs only adds and updates.
func (m *itemMap) Sync(ctx context.Context, bySKU map[string]stock.Item, full bool, now time.Time) (ItemMapCounts, error) {
	cur, err := m.load(ctx)
	if err != nil {
		return ItemMapCounts{}, err
	}
	var counts ItemMapCounts
	var puts []itemmap.Value
	for sku, it := range bySKU {
		v := itemmap.Value{SKU: sku, ItemID: it.ID, Type: it.Type, Active: !it.Inactive, UpdatedAt: now}
		old, ok := cur[sku]
		switch {
		case !ok:
			counts.Added++
		case !old.Same(v):
			counts.Changed++
		default:
			continue
		}
		puts = append(puts, v)
	}
	var dels []string
	if full {
		for sku := range cur {
			if _, ok := bySKU[sku]; !ok {
				dels = append(dels, sku)
			}
		}
	}
	counts.Removed = len(dels)
	sort.Slice(puts, func(i, j int) bool { return puts[i].SKU < puts[j].SKU })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.workers)
	for _, v := range puts {
		g.Go(func() error {
			if _, err := itemmap.Put(gctx, m.kv, v); err != nil {
				return err
			}
			m.wrote(v.SKU, &v)
			return nil
		})
	}
	for _, sku := range dels {
		g.Go(func() error {
			if err := itemmap.Delete(gctx, m.kv, sku); err != nil {
				return err
			}
			m.wrote(sku, nil)
			return nil
		})
	}
	return counts, g.Wait()
}

func (m *itemMap) wrote(sku string, v *itemmap.Value) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.own++
	if m.entries == nil {
		return
	}
	if v == nil {
		delete(m.entries, sku)
	} else {
		m.entries[sku] = *v
	}
}
