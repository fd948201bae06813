package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/stock"
)

// Entry is the snapshot of one store's SKU: the state last published and
// the INVENTORY sequences of the messages that set its price and its stock.
// The Commerce writer skips a redelivered message older than those (a newer
// change was published after it).
type Entry struct {
	SKU string `json:"sku"`
	stock.State
	PriceSeq uint64 `json:"price_seq,omitempty"`
	StockSeq uint64 `json:"stock_seq,omitempty"`
}

// SnapshotKey is the mlc_inventory key of a store's SKU: both parts
// encoded as mlc_item_map keys are (itemmap.Key), joined by a dot.
func SnapshotKey(store, sku string) string { return itemmap.Key(store) + "." + itemmap.Key(sku) }

// Snapshot is the mlc_inventory bucket with an in-memory copy of the
// stores a run loaded. The copy is reused while the bucket has only seen
// this process's writes since it was loaded (its stream sequence moved by
// exactly that many); any other writer (a replica, `mlc sync inventory`)
// makes the next run load again, so a stale copy never hides a change.
type Snapshot struct {
	kv jetstream.KeyValue

	mu     sync.Mutex
	stores map[string]map[string]Entry
	synced uint64 // bucket stream sequence the copy is current to
	own    uint64 // our writes since
}

// NewSnapshot wraps the mlc_inventory bucket.
func NewSnapshot(kv jetstream.KeyValue) *Snapshot {
	return &Snapshot{kv: kv, stores: map[string]map[string]Entry{}}
}

func (s *Snapshot) lastSeq(ctx context.Context) (uint64, error) {
	st, err := s.kv.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("snapshot status: %w", err)
	}
	bs, ok := st.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return 0, errors.New("snapshot status: not a JetStream bucket")
	}
	return bs.StreamInfo().State.LastSeq, nil
}

// Load returns store's entries by SKU (a copy the caller may keep reading;
// it must not modify it), reading the bucket unless the copy is current.
func (s *Snapshot) Load(ctx context.Context, store string) (map[string]Entry, error) {
	last, err := s.lastSeq(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if last != s.synced+s.own {
		s.stores = map[string]map[string]Entry{} // someone else wrote: reload everything
	}
	s.synced, s.own = last, 0
	if m, ok := s.stores[store]; ok {
		s.mu.Unlock()
		return m, nil
	}
	s.mu.Unlock()

	m, err := s.read(ctx, store)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stores[store] = m
	return m, nil
}

// read loads one store's entries. An entry that does not decode is left
// out: its SKU is then published again, which is the safe direction.
func (s *Snapshot) read(ctx context.Context, store string) (map[string]Entry, error) {
	w, err := s.kv.Watch(ctx, itemmap.Key(store)+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", store, err)
	}
	defer func() { _ = w.Stop() }()
	m := map[string]Entry{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("snapshot of %s: watch closed", store)
			}
			if e == nil {
				return m, nil
			}
			var en Entry
			if json.Unmarshal(e.Value(), &en) != nil || SnapshotKey(store, en.SKU) != e.Key() {
				continue
			}
			m[en.SKU] = en
		}
	}
}

// Put records a published state. The caller must hold no reference to
// the map Load returned expecting it to stay unchanged: Put updates it.
func (s *Snapshot) Put(ctx context.Context, store string, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("snapshot %s %s: %w", store, e.SKU, err)
	}
	if _, err := s.kv.Put(ctx, SnapshotKey(store, e.SKU), b); err != nil {
		return fmt.Errorf("snapshot %s %s: %w", store, e.SKU, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.own++
	if m, ok := s.stores[store]; ok {
		m[e.SKU] = e
	}
	return nil
}

// Get reads one entry from the bucket (not the copy): the writer's
// freshest view of what was published last.
func (s *Snapshot) Get(ctx context.Context, store, sku string) (Entry, bool, error) {
	e, err := s.kv.Get(ctx, SnapshotKey(store, sku))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("snapshot %s %s: %w", store, sku, err)
	}
	var en Entry
	if err := json.Unmarshal(e.Value(), &en); err != nil || en.SKU != sku {
		return Entry{}, false, nil
	}
	return en, true, nil
}
