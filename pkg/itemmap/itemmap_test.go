package itemmap_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/natstest"
)

// validKey is NATS's KV key rule.
var validKey = regexp.MustCompile(`^[-/_=\.a-zA-Z0-9]+$`)

var oddSKUs = []string{
	"MS09-M-Red", "with space", "a/b/c", "dots.in.sku", "under_score", "_x", "x_2F", "Größe-XL", "日本語-SKU",
	"emoji-🙂", "parent : child", strings.Repeat("L", 64), strings.Repeat("ü", 300), "%2F", "=", "sha256=abc",
}

func TestKeyIsValidAndInjective(t *testing.T) {
	seen := map[string]string{}
	for _, sku := range oddSKUs {
		k := itemmap.Key(sku)
		if !validKey.MatchString(k) || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") {
			t.Errorf("Key(%q) = %q is not a valid KV key", sku, k)
		}
		if len(k) > itemmap.MaxKeyLen && !strings.HasPrefix(k, "sha256=") {
			t.Errorf("Key(%q) is %d characters", sku, len(k))
		}
		if other, dup := seen[k]; dup {
			t.Errorf("Key(%q) = Key(%q) = %q", sku, other, k)
		}
		seen[k] = sku
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range oddSKUs {
		f.Add(s, s+"x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := itemmap.Key(a), itemmap.Key(b)
		if !validKey.MatchString(ka) {
			t.Fatalf("Key(%q) = %q is not a valid KV key", a, ka)
		}
		if a != b && ka == kb {
			t.Fatalf("Key(%q) = Key(%q) = %q", a, b, ka)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"sku":"A","item_id":"1","type":"InvtPart","active":true,"updated_at":"2025-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"sku":"","item_id":"1"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := itemmap.Decode(b)
		if err == nil && (v.SKU == "" || v.ItemID == "") {
			t.Fatalf("decoded an entry without SKU or item id: %+v", v)
		}
	})
}

func TestPutGetAllOnJetStream(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: event.BucketItemMap})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i, sku := range oddSKUs {
		if _, err := itemmap.Put(ctx, kv, itemmap.Value{SKU: sku, ItemID: string(rune('1' + i%9)), Type: "InvtPart", Active: i%2 == 0, UpdatedAt: now}); err != nil {
			t.Fatalf("put %q: %v", sku, err)
		}
	}
	for i, sku := range oddSKUs {
		v, err := itemmap.Get(ctx, kv, sku)
		if err != nil || v.SKU != sku || v.Active != (i%2 == 0) || !v.UpdatedAt.Equal(now) {
			t.Fatalf("get %q: %+v %v", sku, v, err)
		}
	}
	all, bad, err := itemmap.All(ctx, kv)
	if err != nil || len(bad) != 0 || len(all) != len(oddSKUs) {
		t.Fatalf("all: %d entries, bad %v, %v", len(all), bad, err)
	}
	if err := itemmap.Delete(ctx, kv, "with space"); err != nil {
		t.Fatal(err)
	}
	if _, err := itemmap.Get(ctx, kv, "with space"); !errors.Is(err, itemmap.ErrNotFound) {
		t.Fatalf("deleted SKU: %v", err)
	}
	if _, err := itemmap.Put(ctx, kv, itemmap.Value{SKU: "x"}); err == nil {
		t.Fatal("an entry without item id was stored")
	}
	if _, err := kv.Put(ctx, itemmap.Key("garbage"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := itemmap.Get(ctx, kv, "garbage"); err == nil || errors.Is(err, itemmap.ErrNotFound) {
		t.Fatalf("undecodable entry: %v", err)
	}
	if _, bad, _ := itemmap.All(ctx, kv); len(bad) != 1 {
		t.Fatalf("bad entries: %v", bad)
	}
}
