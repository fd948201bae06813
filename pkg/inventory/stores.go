package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

// store is one Commerce store as the writer uses it.
type store struct {
	code    string
	client  *commerce.Client
	storeID int64 // store view id; 0 until looked up
	key     [32]byte
}

// stores builds Commerce clients from the stored connections and keeps
// them until a connection or the batch size changes.
type stores struct {
	creds *secrets.Store
	hc    *http.Client
	m     *Metrics
	poll  time.Duration

	mu     sync.Mutex
	byCode map[string]*store
}

func newStores(creds *secrets.Store, m *Metrics, bulkPoll time.Duration) *stores {
	return &stores{creds: creds, m: m, poll: bulkPoll, byCode: map[string]*store{},
		hc: &http.Client{Timeout: 60 * time.Second, Transport: http.DefaultTransport}}
}

// forget drops a store whose connection changed or was deleted.
func (s *stores) forget(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byCode, code)
}

// get returns the store's client for batches of batchSize rows.
func (s *stores) get(ctx context.Context, code string, batchSize int) (*store, error) {
	c, err := connection.LoadCommerce(ctx, s.creds, code)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(fmt.Appendf(raw, "|%d", batchSize))
	s.mu.Lock()
	if st, ok := s.byCode[code]; ok && st.key == key {
		s.mu.Unlock()
		return st, nil
	}
	s.mu.Unlock()
	hc := &http.Client{Timeout: s.hc.Timeout, Transport: countingTransport{next: s.hc.Transport, store: code, m: s.m}}
	client, err := commerce.NewFromConfig(c.ClientConfig(), commerce.WithHTTPClient(hc), commerce.WithBatchSize(batchSize),
		commerce.WithBulkPollInterval(s.poll), commerce.WithUserAgent("ml-connector-inventory-publisher"))
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", code, err)
	}
	st := &store{code: code, client: client, storeID: c.StoreID, key: key}
	s.mu.Lock()
	s.byCode[code] = st
	s.mu.Unlock()
	return st, nil
}

// id is the store view's numeric id, looked up once when the connection
// does not say it.
func (s *stores) id(ctx context.Context, st *store) (int64, error) {
	s.mu.Lock()
	id := st.storeID
	s.mu.Unlock()
	if id != 0 {
		return id, nil
	}
	id, err := st.client.StoreID(ctx, st.code)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", st.code, err)
	}
	s.mu.Lock()
	st.storeID = id
	s.mu.Unlock()
	return id, nil
}

// countingTransport counts the writer's Commerce requests by endpoint.
type countingTransport struct {
	next  http.RoundTripper
	store string
	m     *Metrics
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ep := "other"
	switch p := r.URL.Path; {
	case strings.Contains(p, "/bulk/") && strings.HasSuffix(p, "status"):
		ep = "bulk-status"
	case strings.HasSuffix(p, "/products/base-prices"):
		ep = "base-prices"
	case strings.HasSuffix(p, "/inventory/source-items"):
		ep = "source-items"
	}
	if strings.Contains(r.URL.Path, "/async/") {
		ep = "bulk " + ep
	}
	t.m.Calls.WithLabelValues(t.store, ep).Inc()
	return t.next.RoundTrip(r)
}
