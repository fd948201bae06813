package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Synced is the mlc_synced entry of one NetSuite record, keyed by its
// externalId: what was last written (content hash, internal id, the
// NETSUITE sequence of the command) and, while a worker writes it, that
// worker's claim. The claim serialises commands for the same record across
// replicas; the last command on the stream wins.
type Synced struct {
	Kind string `json:"kind,omitempty"`
	// Hash is the ContentHash of the last command written ("" before the
	// first success).
	Hash string `json:"hash,omitempty"`
	// ID is NetSuite's internal id.
	ID string `json:"id,omitempty"`
	// Seq is the NETSUITE stream sequence of the command that wrote Hash.
	Seq uint64    `json:"seq,omitempty"`
	At  time.Time `json:"at"`
	// Claim is set while a command for this record is being written.
	Claim *Claim `json:"claim,omitempty"`
}

// Claim marks a record as being written by the command at Seq.
type Claim struct {
	Seq   uint64    `json:"seq"`
	Hash  string    `json:"hash"`
	Owner string    `json:"owner"` // the writer instance, for operators
	At    time.Time `json:"at"`
}

// errBusy: another command for the same record holds a fresh claim.
var errBusy = errors.New("another command for this record is being written")

// syncedStore reads and claims mlc_synced entries.
type syncedStore struct {
	kv       jetstream.KeyValue
	owner    string
	claimTTL time.Duration // a claim older than this belongs to a dead worker
	now      func() time.Time
}

// get returns the entry (nil when absent) and its revision (0 when absent).
func (s *syncedStore) get(ctx context.Context, externalID string) (*Synced, uint64, error) {
	e, err := s.kv.Get(ctx, externalID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("mlc_synced %s: %w", externalID, err)
	}
	var st Synced
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		// A damaged entry only costs the shortcut: NetSuite is the final word.
		return nil, e.Revision(), nil
	}
	return &st, e.Revision(), nil
}

// claim marks the record as being written by the command at seq. A fresh
// claim of another command is errBusy; a claim of the same command (a
// redelivery: whoever held it lost the message) or an old one is taken
// over. It returns the entry as claimed and its revision.
func (s *syncedStore) claim(ctx context.Context, externalID, kind string, prev *Synced, rev, seq uint64, hash string) (*Synced, uint64, error) {
	now := s.now()
	next := Synced{Kind: kind}
	if prev != nil {
		if c := prev.Claim; c != nil && c.Seq != seq && now.Sub(c.At) < s.claimTTL {
			return nil, 0, fmt.Errorf("%w (command %d since %s)", errBusy, c.Seq, c.At.Format(time.RFC3339))
		}
		next = *prev
	}
	next.Claim = &Claim{Seq: seq, Hash: hash, Owner: s.owner, At: now}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, 0, err
	}
	var newRev uint64
	if rev == 0 {
		newRev, err = s.kv.Create(ctx, externalID, b)
	} else {
		newRev, err = s.kv.Update(ctx, externalID, b, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return nil, 0, fmt.Errorf("%w (claimed at the same moment)", errBusy)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("mlc_synced %s: claim: %w", externalID, err)
	}
	return &next, newRev, nil
}

// done records a successful write and drops the claim.
func (s *syncedStore) done(ctx context.Context, externalID string, claimed *Synced, rev uint64, hash, id string, seq uint64) error {
	next := *claimed
	next.Hash, next.ID, next.Seq, next.At, next.Claim = hash, id, seq, s.now(), nil
	return s.update(ctx, externalID, next, rev)
}

// release drops the claim, keeping what was last written.
func (s *syncedStore) release(ctx context.Context, externalID string, claimed *Synced, rev uint64) error {
	next := *claimed
	next.Claim = nil
	if next.Hash == "" && next.ID == "" {
		// Nothing was ever written: leave no entry behind.
		if err := s.kv.Delete(ctx, externalID, jetstream.LastRevision(rev)); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return fmt.Errorf("mlc_synced %s: release: %w", externalID, err)
		}
		return nil
	}
	return s.update(ctx, externalID, next, rev)
}

func (s *syncedStore) update(ctx context.Context, externalID string, v Synced, rev uint64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = s.kv.Update(ctx, externalID, b, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		// Our claim went stale and a newer command took the record over:
		// its entry stands.
		return nil
	}
	if err != nil {
		return fmt.Errorf("mlc_synced %s: %w", externalID, err)
	}
	return nil
}

// CustomerLink is the mlc_customer_map entry of one buyer, keyed by the
// customer's externalId (store and buyer key): the NetSuite customer and
// how it was found.
type CustomerLink struct {
	ID string `json:"id"`
	// How is "external_id" (our own record), "email" (a customer created
	// outside ml-connector, matched by e-mail in the subsidiary) or
	// "created".
	How string    `json:"how"`
	At  time.Time `json:"at"`
}

// How a customer was resolved.
const (
	howMap        = "map"
	howExternalID = "external_id"
	howEmail      = "email"
	howCreated    = "created"
)

type customerMap struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

func (m *customerMap) get(ctx context.Context, externalID string) (*CustomerLink, error) {
	e, err := m.kv.Get(ctx, externalID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mlc_customer_map %s: %w", externalID, err)
	}
	var l CustomerLink
	if err := json.Unmarshal(e.Value(), &l); err != nil || l.ID == "" {
		return nil, nil // unreadable: resolve again
	}
	return &l, nil
}

func (m *customerMap) put(ctx context.Context, externalID, id, how string) error {
	b, err := json.Marshal(CustomerLink{ID: id, How: how, At: m.now()})
	if err != nil {
		return err
	}
	if _, err := m.kv.Put(ctx, externalID, b); err != nil {
		return fmt.Errorf("mlc_customer_map %s: %w", externalID, err)
	}
	return nil
}

func (m *customerMap) forget(ctx context.Context, externalID string) error {
	if err := m.kv.Delete(ctx, externalID); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("mlc_customer_map %s: %w", externalID, err)
	}
	return nil
}
