package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
)

// Store is one connected Commerce store as ingest uses it.
type Store struct {
	Code     string
	ID       int64 // numeric store view id; 0 until known
	BaseURL  string
	Verifier commerce.WebhookVerifier
	IOEvents commerce.WebhookVerifier // nil when I/O Events are not configured
	Client   *commerce.Client

	// revoked turns Client off once the connection is deleted or replaced,
	// so a poll run already under way stops using the old credentials.
	revoked *atomic.Bool
	conn    connection.Commerce // what it was built from
}

// ErrStoreRevoked is what a store's REST client answers once its
// connection was deleted or replaced.
var ErrStoreRevoked = errors.New("store connection deleted or replaced")

// revocable fails every request once revoked is set.
type revocable struct {
	base    http.RoundTripper
	revoked *atomic.Bool
	store   string
}

func (r revocable) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.revoked.Load() {
		return nil, fmt.Errorf("store %s: %w", r.store, ErrStoreRevoked)
	}
	return r.base.RoundTrip(req)
}

// Stores holds the connected stores; connections are reloaded when their
// stored credentials change, without a restart.
type Stores struct {
	hc              *http.Client
	allowUnverified bool

	mu     sync.RWMutex
	byCode map[string]Store
	byID   map[int64]string
}

// StoresOption configures NewStores.
type StoresOption func(*Stores)

// AllowUnverified accepts the webhooks of stores connected with
// verification mode none (MLC_INGEST_ALLOW_UNVERIFIED, local development
// only). Without it such a store is polled but its webhooks are refused.
func AllowUnverified(allow bool) StoresOption { return func(s *Stores) { s.allowUnverified = allow } }

// ErrUnverifiedRefused is the answer to a webhook of a store connected with
// verification mode none while AllowUnverified is off.
var ErrUnverifiedRefused = errors.New("webhook verification mode none is refused: set MLC_INGEST_ALLOW_UNVERIFIED=true " +
	"on a development deployment, or reconnect the store with --webhook-mode rsa")

// NewStores returns an empty registry; hc is used by the stores' REST clients.
func NewStores(hc *http.Client, opts ...StoresOption) *Stores {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	s := &Stores{hc: hc, byCode: map[string]Store{}, byID: map[int64]string{}}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// refuseUnverified stands in for the verifier of a store with mode none.
type refuseUnverified struct{ store string }

func (r refuseUnverified) Verify([]byte, http.Header) error {
	return fmt.Errorf("store %s: %w", r.store, ErrUnverifiedRefused)
}

// Set adds or replaces a store from its connection.
func (s *Stores) Set(c connection.Commerce) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if old, ok := s.Get(c.Store); ok && reflect.DeepEqual(old.conn, c) {
		// The watch's first values repeat what was loaded at start: keep
		// the store (and a poll run using its client) as it is.
		return nil
	}
	v, err := c.Verifier()
	if err != nil {
		return err
	}
	if c.Webhook.Mode == commerce.VerifyNone && !s.allowUnverified {
		v = refuseUnverified{store: c.Store}
	}
	st := Store{Code: c.Store, ID: c.StoreID, BaseURL: c.BaseURL, Verifier: v}
	if len(c.IOEvents.PublicKeys) > 0 {
		var keys [][]byte
		for _, k := range c.IOEvents.PublicKeys {
			keys = append(keys, []byte(k))
		}
		io, err := commerce.NewIOEventsVerifier(c.IOEvents.ClientID, keys...)
		if err != nil {
			return fmt.Errorf("store %s: I/O Events: %w", c.Store, err)
		}
		st.IOEvents = io
	}
	st.revoked, st.conn = new(atomic.Bool), c
	base := s.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc := *s.hc
	hc.Transport = revocable{base: base, revoked: st.revoked, store: c.Store}
	client, err := commerce.NewFromConfig(c.ClientConfig(), commerce.WithHTTPClient(&hc), commerce.WithUserAgent("ml-connector-ingest"))
	if err != nil {
		return fmt.Errorf("store %s: %w", c.Store, err)
	}
	st.Client = client
	s.put(st)
	return nil
}

func (s *Stores) put(st Store) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byCode[st.Code]; ok {
		old.revoked.Store(true)
		// A reload of the same connection keeps the id already looked up.
		if st.ID == 0 && st.BaseURL == old.BaseURL {
			st.ID = old.ID
		}
		delete(s.byID, old.ID)
	}
	s.byCode[st.Code] = st
	if st.ID != 0 {
		s.byID[st.ID] = st.Code
	}
}

// Remove forgets a store.
func (s *Stores) Remove(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.byCode[code]; ok {
		old.revoked.Store(true)
		delete(s.byID, old.ID)
	}
	delete(s.byCode, code)
}

// setID records a store's looked-up numeric id, unless its connection was
// replaced or removed meanwhile.
func (s *Stores) setID(st Store, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.byCode[st.Code]
	if !ok || cur.revoked != st.revoked {
		return
	}
	delete(s.byID, cur.ID)
	cur.ID = id
	s.byCode[st.Code] = cur
	s.byID[id] = st.Code
}

// ResolveIDs asks Commerce for the numeric id of every store whose
// connection did not say it. A store that cannot be resolved keeps ID 0.
func (s *Stores) ResolveIDs(ctx context.Context) error {
	var errs []error
	for _, st := range s.All() {
		if st.ID != 0 {
			continue
		}
		id, err := st.Client.StoreID(ctx, st.Code)
		if err != nil {
			errs = append(errs, fmt.Errorf("store %s: %w", st.Code, err))
			continue
		}
		s.setID(st, id)
	}
	return errors.Join(errs...)
}

// ByID returns the connected store with that numeric id. known reports
// whether any connected store's id is known at all: only then is a miss
// meaningful (an order of a store this deployment does not sync).
func (s *Stores) ByID(id int64) (st Store, ok, known bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	code, ok := s.byID[id]
	if ok {
		st = s.byCode[code]
	}
	return st, ok, len(s.byID) > 0
}

// Get returns the store with that code.
func (s *Stores) Get(code string) (Store, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.byCode[code]
	return st, ok
}

// All returns every store, sorted by code.
func (s *Stores) All() []Store {
	s.mu.RLock()
	out := make([]Store, 0, len(s.byCode))
	for _, st := range s.byCode {
		out = append(out, st)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
