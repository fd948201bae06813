package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket holding sealed credentials.
const Bucket = event.BucketCredentials

// Store keeps sealed secrets in a JetStream KV bucket. Only sealed bytes
// reach NATS; names (e.g. "netsuite.default") are not secret.
type Store struct {
	kv   jetstream.KeyValue
	keys *Keyring
}

// NewStore wraps an opened mlc_credentials bucket. Create the bucket with
// History 1 so that rotation leaves no value under a retired master key.
func NewStore(kv jetstream.KeyValue, keys *Keyring) *Store {
	return &Store{kv: kv, keys: keys}
}

// Keyring is the store's keyring.
func (s *Store) Keyring() *Keyring { return s.keys }

// validName accepts KV key characters: letters, digits, - _ = / and dots
// between tokens.
func validName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("secrets: bad name %q", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=/.", r)) {
			return fmt.Errorf("secrets: bad name %q", name)
		}
	}
	return nil
}

// Put seals value and stores it under name.
func (s *Store) Put(ctx context.Context, name string, value []byte) error {
	if err := validName(name); err != nil {
		return err
	}
	sealed, err := s.keys.Seal(name, value)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, name, sealed); err != nil {
		return fmt.Errorf("secrets: put %q: %w", name, err)
	}
	return nil
}

// Get loads and opens the secret name.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: get %q: %w", name, err)
	}
	return s.keys.Open(name, e.Value())
}

// PutJSON stores v (e.g. a netsuite.Credentials) as sealed JSON.
func (s *Store) PutJSON(ctx context.Context, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("secrets: encode %q: %w", name, err)
	}
	return s.Put(ctx, name, b)
}

// GetJSON loads name into out.
func (s *Store) GetJSON(ctx context.Context, name string, out any) error {
	b, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("secrets: decode %q: %w", name, err)
	}
	return nil
}

// List returns the stored names.
//
// With patterns (KV wildcards such as "commerce.*") it lists only names
// matching one, each with its own filtered watch: in production a
// service's NATS user may watch just the keys it may read
// (deploy/nats/permissions.json), and a watch of every key is refused.
func (s *Store) List(ctx context.Context, patterns ...string) ([]string, error) {
	if len(patterns) > 0 {
		return s.listMatching(ctx, patterns)
	}
	names, err := s.kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: list: %w", err)
	}
	return names, nil
}

func (s *Store) listMatching(ctx context.Context, patterns []string) ([]string, error) {
	var names []string
	for _, p := range patterns {
		l, err := s.kv.ListKeysFiltered(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("secrets: list %q: %w", p, err)
		}
		for k := range l.Keys() {
			names = append(names, k)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("secrets: list %q: %w", p, err)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Delete removes name.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, name); err != nil {
		return fmt.Errorf("secrets: delete %q: %w", name, err)
	}
	return nil
}

// Change is one observed state of a watched secret.
type Change struct {
	Name     string
	Value    []byte // opened plaintext; nil when Deleted or Err
	Deleted  bool
	Revision uint64
	Err      error // ErrDecrypt / ErrUnknownKey: the stored value could not be opened
}

// Watch calls fn with the current value of name (a KV pattern such as
// "netsuite.*" also works) and then with every change, until ctx ends; it
// returns nil then. Services use it to reload credentials without restart.
func (s *Store) Watch(ctx context.Context, name string, fn func(Change)) error {
	err := stream.WatchKV(ctx, s.kv, name, func(e jetstream.KeyValueEntry, deleted bool) {
		c := Change{Name: e.Key(), Revision: e.Revision(), Deleted: deleted}
		if !deleted {
			c.Value, c.Err = s.keys.Open(e.Key(), e.Value())
		}
		fn(c)
	})
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	return nil
}

// Rotate makes newKey the current master key and rewraps every secret's
// data key under it. Afterwards the old key is no longer needed (with a
// History-1 bucket). A secret written concurrently is retried; one that
// cannot be opened stops the rotation with its error, leaving the rest
// readable (the keyring still holds the old key).
func (s *Store) Rotate(ctx context.Context, newKey []byte) (rewrapped int, err error) {
	if _, err := s.keys.SetCurrent(newKey); err != nil {
		return 0, err
	}
	names, err := s.List(ctx)
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		changed, err := s.rewrapOne(ctx, name)
		if err != nil {
			return rewrapped, err
		}
		if changed {
			rewrapped++
		}
	}
	return rewrapped, nil
}

func (s *Store) rewrapOne(ctx context.Context, name string) (bool, error) {
	for try := 0; ; try++ {
		e, err := s.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil // deleted meanwhile
		}
		if err != nil {
			return false, fmt.Errorf("secrets: rotate %q: %w", name, err)
		}
		out, changed, err := s.keys.Rewrap(name, e.Value())
		if err != nil || !changed {
			if err != nil {
				err = fmt.Errorf("secrets: rotate %q: %w", name, err)
			}
			return false, err
		}
		_, err = s.kv.Update(ctx, name, out, e.Revision())
		if err == nil {
			return true, nil
		}
		if try >= 3 || !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return false, fmt.Errorf("secrets: rotate %q: %w", name, err)
		}
	}
}
