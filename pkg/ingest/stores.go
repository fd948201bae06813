package ingest

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
)

// Store is one connected Commerce store as ingest uses it.
type Store struct {
	Code     string
	Verifier commerce.WebhookVerifier
	IOEvents commerce.WebhookVerifier // nil when I/O Events are not configured
	Client   *commerce.Client
}

// Stores holds the connected stores; connections are reloaded when their
// stored credentials change, without a restart.
type Stores struct {
	hc *http.Client

	mu     sync.RWMutex
	byCode map[string]Store
}

// NewStores returns an empty registry; hc is used by the stores' REST clients.
func NewStores(hc *http.Client) *Stores {
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Stores{hc: hc, byCode: map[string]Store{}}
}

// Set adds or replaces a store from its connection.
func (s *Stores) Set(c connection.Commerce) error {
	if err := c.Validate(); err != nil {
		return err
	}
	v, err := c.Verifier()
	if err != nil {
		return err
	}
	st := Store{Code: c.Store, Verifier: v}
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
	client, err := commerce.NewFromConfig(c.ClientConfig(), commerce.WithHTTPClient(s.hc), commerce.WithUserAgent("ml-connector-ingest"))
	if err != nil {
		return fmt.Errorf("store %s: %w", c.Store, err)
	}
	st.Client = client
	s.mu.Lock()
	s.byCode[c.Store] = st
	s.mu.Unlock()
	return nil
}

// Remove forgets a store.
func (s *Stores) Remove(code string) {
	s.mu.Lock()
	delete(s.byCode, code)
	s.mu.Unlock()
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
