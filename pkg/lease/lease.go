// Package lease makes one replica of a service the active one for a job
// (the backfill poll, the inventory schedule): a KV entry naming the holder
// and its expiry, taken and renewed with compare-and-set.
package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lease makes one replica the active poller: a KV entry naming the holder
// and its expiry, taken with compare-and-set on the entry's revision.
type Lease struct {
	kv     jetstream.KeyValue
	key    string
	holder string
	ttl    time.Duration
	now    func() time.Time
}

type leaseValue struct {
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// New returns a lease on key for holder, valid ttl after each renewal.
func New(kv jetstream.KeyValue, key, holder string, ttl time.Duration) *Lease {
	return &Lease{kv: kv, key: key, holder: holder, ttl: ttl, now: time.Now}
}

// Acquire takes or renews the lease. false means another live holder has it.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	val, err := json.Marshal(leaseValue{Holder: l.holder, Expires: l.now().Add(l.ttl)})
	if err != nil {
		return false, err
	}
	e, err := l.kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		_, err := l.kv.Create(ctx, l.key, val)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil
		}
		return err == nil, err
	}
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", l.key, err)
	}
	var cur leaseValue
	if err := json.Unmarshal(e.Value(), &cur); err == nil && cur.Holder != l.holder && l.now().Before(cur.Expires) {
		return false, nil
	}
	if _, err := l.kv.Update(ctx, l.key, val, e.Revision()); err != nil {
		// Someone else renewed or took it between our read and write.
		return false, nil
	}
	return true, nil
}

// Release gives the lease up if we hold it, so another replica can take
// over at once instead of after the ttl.
func (l *Lease) Release(ctx context.Context) error {
	e, err := l.kv.Get(ctx, l.key)
	if err != nil {
		return nil
	}
	var cur leaseValue
	if json.Unmarshal(e.Value(), &cur) != nil || cur.Holder != l.holder {
		return nil
	}
	return l.kv.Delete(ctx, l.key, jetstream.LastRevision(e.Revision()))
}
