package connection

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

func validCommerce() Commerce {
	return Commerce{Store: "default", BaseURL: "https://shop.example.com/rest/default", Auth: "oauth1",
		OAuth1:  OAuth1{ConsumerKey: "ck", ConsumerSecret: "consumer-secret-value", AccessToken: "at", AccessTokenSecret: "token-secret-value"},
		Webhook: Webhook{Mode: "hmac", Secrets: []string{"webhook-shared-secret"}}}
}

func TestCommerceValidate(t *testing.T) {
	if err := validCommerce().Validate(); err != nil {
		t.Fatalf("valid connection: %v", err)
	}
	cases := map[string]func(*Commerce){
		"no store":             func(c *Commerce) { c.Store = "" },
		"no base url":          func(c *Commerce) { c.BaseURL = "" },
		"rsa without key":      func(c *Commerce) { c.Webhook = Webhook{Mode: "rsa"} },
		"hmac without secret":  func(c *Commerce) { c.Webhook = Webhook{Mode: "hmac"} },
		"guessed mode":         func(c *Commerce) { c.Webhook.Mode = "auto" },
		"io events, no client": func(c *Commerce) { c.IOEvents = IOEvents{PublicKeys: []string{"pem"}} },
	}
	for name, mutate := range cases {
		c := validCommerce()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCommerceRoundTripMaskedAndWatched(t *testing.T) {
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: secrets.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secrets.GenerateKey()
	keys, _ := secrets.NewKeyring(key)
	store := secrets.NewStore(kv, keys)

	if _, err := LoadCommerce(ctx, store, "default"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("load before save: %v", err)
	}
	c := validCommerce()
	if err := SaveCommerce(ctx, store, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCommerce(ctx, store, "default")
	if err != nil || got.OAuth1 != c.OAuth1 || got.Webhook.Secrets[0] != "webhook-shared-secret" {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, got)
		for _, secret := range []string{"consumer-secret-value", "token-secret-value", "webhook-shared-secret"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s prints %s", f, secret)
			}
		}
	}
	// The raw KV value is ciphertext.
	e, err := kv.Get(ctx, CommerceSecretName("default"))
	if err != nil || strings.Contains(string(e.Value()), "consumer-secret-value") {
		t.Fatalf("stored value is not encrypted: %v", err)
	}

	seen := make(chan Commerce, 4)
	go func() {
		_ = WatchCommerce(ctx, store, func(c Commerce, deleted bool, err error) {
			if err == nil && !deleted {
				seen <- c
			}
		})
	}()
	if first := <-seen; first.Store != "default" {
		t.Fatalf("watch initial value: %+v", first)
	}
	c.Webhook.Secrets = []string{"rotated-secret"}
	if err := SaveCommerce(ctx, store, c); err != nil {
		t.Fatal(err)
	}
	if next := <-seen; next.Webhook.Secrets[0] != "rotated-secret" {
		t.Fatalf("watch did not see the change: %+v", next.Webhook)
	}
	all, err := ListCommerce(ctx, store)
	if err != nil || len(all) != 1 {
		t.Fatalf("list: %v %d", err, len(all))
	}
}

// A deletion names only the key: the watcher must read the store code back
// exactly, whatever characters it has, or a revoked store stays connected.
func TestCommerceDeletionNamesTheStoreExactly(t *testing.T) {
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: secrets.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secrets.GenerateKey()
	keys, _ := secrets.NewKeyring(key)
	store := secrets.NewStore(kv, keys)
	codes := []string{"en_us", "us.east", "a b", "x-y", "über", "en__us", "_2E", "default"}
	for _, code := range codes {
		c := validCommerce()
		c.Store = code
		if err := SaveCommerce(ctx, store, c); err != nil {
			t.Fatalf("%q: %v", code, err)
		}
	}
	type change struct {
		store   string
		deleted bool
	}
	seen := make(chan change, 2*len(codes))
	go func() {
		_ = WatchCommerce(ctx, store, func(c Commerce, deleted bool, err error) {
			if err != nil {
				t.Errorf("watch: %v", err)
				return
			}
			seen <- change{c.Store, deleted}
		})
	}()
	for range codes {
		<-seen // the initial values
	}
	for _, code := range codes {
		if err := store.Delete(ctx, CommerceSecretName(code)); err != nil {
			t.Fatal(err)
		}
		select {
		case ch := <-seen:
			if !ch.deleted || ch.store != code {
				t.Errorf("deleting %q reported %+v", code, ch)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no change after deleting %q", code)
		}
	}
}

func FuzzCommerceStoreFromName(f *testing.F) {
	for _, s := range []string{"default", "en_us", "us.east", "a b", "über", "", "_", "__", "_2", "_zz", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		got, ok := storeFromSecretName(CommerceSecretName(code))
		if !ok || got != code {
			t.Fatalf("%q -> %q -> %q %v", code, CommerceSecretName(code), got, ok)
		}
		// Any other name decodes to a store whose name is that name, or not at all.
		if s, ok := storeFromSecretName(commercePrefix + code); ok && CommerceSecretName(s) != commercePrefix+code {
			t.Fatalf("%q decoded to %q, which encodes differently", code, s)
		}
	})
}
