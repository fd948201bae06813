// Package settings keeps the operator's non-secret settings as JSON
// documents in the mlc_settings KV bucket, one key per concern (e.g.
// "netsuite.subsidiaries", "mapping", "inventory"). Each service owns the
// keys it reads, with a typed struct, documented defaults and a Validate
// method; this package only stores, validates and watches them.
//
// Decoding is strict: an unknown field is an error, so a typo in
// `mlc settings set` is refused instead of silently ignored.
package settings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// ErrNotFound is returned by Load for a key that was never set; callers
// use their documented defaults then.
var ErrNotFound = errors.New("settings: not set")

// Validator is a settings document.
type Validator interface{ Validate() error }

// Store is the mlc_settings bucket.
type Store struct{ kv jetstream.KeyValue }

// New wraps an open mlc_settings bucket.
func New(kv jetstream.KeyValue) *Store { return &Store{kv: kv} }

// Open opens the mlc_settings bucket (it must exist: services provision it).
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, event.BucketSettings)
	if err != nil {
		return nil, fmt.Errorf("settings: open %s: %w", event.BucketSettings, err)
	}
	return New(kv), nil
}

// Decode parses a settings document strictly into v and validates it.
func Decode(key string, b []byte, v Validator) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("settings %q: %w", key, err)
	}
	if dec.More() {
		return fmt.Errorf("settings %q: trailing data after the JSON document", key)
	}
	if err := v.Validate(); err != nil {
		return fmt.Errorf("settings %q: %w", key, err)
	}
	return nil
}

// Load reads key into v (which should hold the defaults: fields the
// document does not set keep them). ErrNotFound when the key is not set.
func (s *Store) Load(ctx context.Context, key string, v Validator) error {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	if err != nil {
		return fmt.Errorf("settings: get %q: %w", key, err)
	}
	return Decode(key, e.Value(), v)
}

// Save validates v and stores it under key.
func (s *Store) Save(ctx context.Context, key string, v Validator) error {
	if err := v.Validate(); err != nil {
		return fmt.Errorf("settings %q: %w", key, err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("settings %q: encode: %w", key, err)
	}
	if _, err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("settings: put %q: %w", key, err)
	}
	return nil
}

// Raw returns the stored document of key as is.
func (s *Store) Raw(ctx context.Context, key string) ([]byte, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	if err != nil {
		return nil, fmt.Errorf("settings: get %q: %w", key, err)
	}
	return e.Value(), nil
}

// Delete removes key (its readers go back to their defaults).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("settings: delete %q: %w", key, err)
	}
	return nil
}

// Keys lists the keys that are set.
func (s *Store) Keys(ctx context.Context) ([]string, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("settings: list: %w", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

// Watch calls fn with key's document now and on every change until ctx
// ends. newDoc returns a document holding the defaults; a deleted key is
// reported as the defaults with deleted=true; an invalid document as err
// (the caller keeps its previous settings).
func Watch[T Validator](ctx context.Context, s *Store, key string, newDoc func() T, fn func(doc T, deleted bool, err error)) error {
	return stream.WatchKV(ctx, s.kv, key, func(e jetstream.KeyValueEntry, deleted bool) {
		doc := newDoc()
		if deleted {
			fn(doc, true, nil)
			return
		}
		fn(doc, false, Decode(key, e.Value(), doc))
	})
}
