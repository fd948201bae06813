// Package itemmap is the format of the mlc_item_map bucket: Commerce SKU to
// NetSuite item. inventory-publisher writes it on every inventory run;
// transform reads it to put order lines on NetSuite items. Both go through
// this package, so the key encoding and the value shape live in one place.
//
// Key: the SKU encoded with event.EncodeIDPart (letters, digits and '-'
// stay, '_' is "__", every other byte "_XX"), which is injective and only
// uses characters NATS allows in a key. A SKU whose encoding is longer
// than MaxKeyLen is keyed "sha256=<64 hex digits of sha256(SKU)>" instead
// ('=' never appears in an encoding, so the two forms cannot meet).
//
// Value: JSON {"sku","item_id","type","active","updated_at"}; see Value.
package itemmap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// MaxKeyLen bounds a key's length; longer encodings are hashed.
const MaxKeyLen = 200

// ErrNotFound: the SKU has no NetSuite item (never seen by an inventory
// run, or the item was deleted in NetSuite).
var ErrNotFound = errors.New("itemmap: SKU has no NetSuite item")

// Value is what the map holds for one SKU.
type Value struct {
	// SKU is the Commerce SKU (the key may be a hash of it).
	SKU string `json:"sku"`
	// ItemID is the NetSuite item's internal id.
	ItemID string `json:"item_id"`
	// Type is NetSuite's itemtype: InvtPart, NonInvtPart, Kit, Assembly,
	// Group, Service, GiftCert, ...
	Type string `json:"type"`
	// Active is false for an inactive NetSuite item: it stays in the map
	// (so an order can say why it cannot be mapped) but is never put on an
	// order.
	Active bool `json:"active"`
	// UpdatedAt is when an inventory run last changed this entry.
	UpdatedAt time.Time `json:"updated_at"`
}

// Usable reports whether an order line may use the item.
func (v Value) Usable() bool { return v.Active && v.ItemID != "" }

// Same reports whether v and o map the SKU identically (UpdatedAt aside).
func (v Value) Same(o Value) bool {
	return v.SKU == o.SKU && v.ItemID == o.ItemID && v.Type == o.Type && v.Active == o.Active
}

// Key is the mlc_item_map key of sku.
func Key(sku string) string {
	k := event.EncodeIDPart(sku)
	if len(k) == 0 || len(k) > MaxKeyLen {
		sum := sha256.Sum256([]byte(sku))
		return "sha256=" + hex.EncodeToString(sum[:])
	}
	return k
}

// Encode is the stored form of v.
func Encode(v Value) ([]byte, error) {
	if v.SKU == "" || v.ItemID == "" {
		return nil, fmt.Errorf("itemmap: entry needs a SKU and an item id, got %q -> %q", v.SKU, v.ItemID)
	}
	return json.Marshal(v)
}

// Decode reads a stored value.
func Decode(b []byte) (Value, error) {
	var v Value
	if err := json.Unmarshal(b, &v); err != nil {
		return Value{}, fmt.Errorf("itemmap: decode: %w", err)
	}
	if v.SKU == "" || v.ItemID == "" {
		return Value{}, fmt.Errorf("itemmap: entry without SKU or item id")
	}
	return v, nil
}

// Get reads sku's entry from kv (the mlc_item_map bucket).
func Get(ctx context.Context, kv jetstream.KeyValue, sku string) (Value, error) {
	e, err := kv.Get(ctx, Key(sku))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Value{}, fmt.Errorf("%w: %q", ErrNotFound, sku)
	}
	if err != nil {
		return Value{}, fmt.Errorf("itemmap: get %q: %w", sku, err)
	}
	v, err := Decode(e.Value())
	if err != nil {
		return Value{}, fmt.Errorf("SKU %q: %w", sku, err)
	}
	if v.SKU != sku {
		// Only a hashed key can get here, and only on a sha256 collision.
		return Value{}, fmt.Errorf("%w: %q (key %s holds %q)", ErrNotFound, sku, Key(sku), v.SKU)
	}
	return v, nil
}

// Put stores v under its SKU and returns the entry's revision.
func Put(ctx context.Context, kv jetstream.KeyValue, v Value) (uint64, error) {
	b, err := Encode(v)
	if err != nil {
		return 0, err
	}
	rev, err := kv.Put(ctx, Key(v.SKU), b)
	if err != nil {
		return 0, fmt.Errorf("itemmap: put %q: %w", v.SKU, err)
	}
	return rev, nil
}

// Delete removes sku's entry (its NetSuite item no longer exists).
func Delete(ctx context.Context, kv jetstream.KeyValue, sku string) error {
	if err := kv.Delete(ctx, Key(sku)); err != nil {
		return fmt.Errorf("itemmap: delete %q: %w", sku, err)
	}
	return nil
}

// All reads every entry, keyed by SKU. Entries that do not decode are
// returned in bad (by key) rather than failing the whole read.
func All(ctx context.Context, kv jetstream.KeyValue) (entries map[string]Value, bad []string, err error) {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, fmt.Errorf("itemmap: watch: %w", err)
	}
	defer func() { _ = w.Stop() }()
	entries = map[string]Value{}
	for {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, nil, errors.New("itemmap: watch closed")
			}
			if e == nil {
				return entries, bad, nil
			}
			v, err := Decode(e.Value())
			if err != nil || Key(v.SKU) != e.Key() {
				bad = append(bad, e.Key())
				continue
			}
			entries[v.SKU] = v
		}
	}
}
