// Package commercesim is a strict, in-process simulator of Adobe Commerce:
// the REST API and the Commerce Webhooks module's emitter, following
// shared/reference/adobe-commerce.md (§15 "What a faithful simulator must do").
//
// REST (PaaS /rest/<store>/[async/[bulk/]]V1/..., SaaS /<tenant>/V1/[async/[bulk/]]...):
//
//   - auth: OAuth 1.0a HMAC-SHA256 (query parameters signed, 600 s skew,
//     nonce reuse refused), the integration token as Bearer only with
//     Config.BearerEnabled (else the misleading 401 "%resources" body), IMS
//     tokens from POST /ims/token/v3 with x-api-key and x-gw-ims-org-id
//     (SaaS; also accepted on PaaS);
//   - GET V1/orders, V1/orders/{id}, V1/invoices, V1/invoices/{id},
//     V1/customers/search, V1/customers/{id}, V1/inventory/source-items,
//     V1/stockItems/{sku}, V1/products/{sku}: searchCriteria is required (send
//     "searchCriteria=" for everything); OR within a filter group, AND
//     across; a currentPage beyond the last page returns the last page;
//     sparse "fields=" responses;
//   - writes: POST V1/order/{id}/invoice, PUT V1/products/{sku},
//     POST V1/products/base-prices (200 with per-row failures),
//     POST V1/inventory/source-items, PUT V1/products/{sku}/stockItems/{id};
//     the same under async (202 + bulk_uuid) and bulk (array body,
//     bySku-style segments), processed by a simulated consumer
//     (Stop/StartBulkConsumer) and reported by V1/bulk/{uuid}/status,
//     /detailed-status and /operation-status/{n}.
//
// Webhooks: PlaceOrder, SaveInvoice/CaptureInvoice and RegisterCustomer fire
// observer hooks synchronously to WebhookConfig.BaseURL + "/order-placed",
// "/invoice-captured", "/customer-created", with PHP json_encode bytes
// (PHPJSON), the module's RSA signature over base64(body) or an HMAC, and the
// module's response judgement. Orders become visible through REST only
// Config.CommitDelay after their webhook; RollbackOrder makes a phantom.
//
// I/O Events (Config.IOEvents.URL set): the same three events are also
// delivered asynchronously as Adobe I/O Events CloudEvents, signed twice over
// the raw body, retried on the configured schedule under the "current" or
// "legacy" retry rule (ref §6); ChallengeIOEvents probes the endpoint.
//
// Inspection: Deliveries, IOEventDeliveries, Orders, Invoices, Customers, PriceWrites,
// StockWrites, Requests, and the same as JSON under /_sim/ (see handleInspect).
package commercesim

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Flavour selects the URL layout and the auth scheme.
type Flavour string

const (
	// PaaS: /rest/<store>/V1/..., /rest/<store>/async/V1/..., /rest/<store>/async/bulk/V1/...; OAuth 1.0a.
	PaaS Flavour = "paas"
	// SaaS: /<tenant>/V1/..., /<tenant>/V1/async/..., /<tenant>/V1/async/bulk/...; IMS only.
	SaaS Flavour = "saas"
)

// Store is one store view.
type Store struct {
	Code      string
	ID        int
	WebsiteID int
	Currency  string
	Name      string // store view name, default "<Code> Store View"
}

// OAuth1Credentials are an integration's four OAuth 1.0a values.
type OAuth1Credentials struct {
	ConsumerKey       string
	ConsumerSecret    string
	AccessToken       string
	AccessTokenSecret string
}

// String masks the secrets.
func (c OAuth1Credentials) String() string {
	return fmt.Sprintf("OAuth1Credentials{ConsumerKey:%s, ConsumerSecret:***, AccessToken:***, AccessTokenSecret:***}", c.ConsumerKey)
}

// DefaultOAuth1 returns the fixed test integration credentials used when
// Config.OAuth1 is zero.
func DefaultOAuth1() OAuth1Credentials {
	return OAuth1Credentials{
		ConsumerKey:       "mlcsimconsumerkey0000000000000001",
		ConsumerSecret:    "mlcsimconsumersecret000000000001",
		AccessToken:       "mlcsimaccesstoken000000000000001",
		AccessTokenSecret: "mlcsimaccesstokensecret000000001",
	}
}

// IMSConfig is the IMS server-to-server client the simulator accepts.
type IMSConfig struct {
	ClientID      string
	ClientSecret  string
	OrgID         string
	TokenLifetime time.Duration // default 24h (expires_in 86399)
}

// String masks the client secret.
func (c IMSConfig) String() string {
	return fmt.Sprintf("IMSConfig{ClientID:%s, ClientSecret:***, OrgID:%s}", c.ClientID, c.OrgID)
}

// DefaultIMS returns the IMS client used when Config.IMS.ClientID is empty.
func DefaultIMS() IMSConfig {
	return IMSConfig{ClientID: "mlc-sim-client", ClientSecret: "mlc-sim-client-secret", OrgID: "0123456789ABCDEF01234567@AdobeOrg", TokenLifetime: 24 * time.Hour}
}

// WebhookConfig configures the emulated Commerce Webhooks module.
type WebhookConfig struct {
	BaseURL       string            // events POST to BaseURL+"/order-placed", "/invoice-captured", "/customer-created"; empty = no hooks
	Mode          string            // "rsa" (default when PrivateKey set), "hmac" (default when Secret set), "none"
	PrivateKey    *rsa.PrivateKey   // rsa: x-adobe-commerce-webhook-signature = base64(RSA PKCS#1 v1.5 SHA-256 over ASCII of base64(body))
	Secret        []byte            // hmac: base64(HMAC-SHA256(secret, raw body))
	Headers       map[string]string // extra configured hook headers
	Timeout       time.Duration     // hard timeout; 0 = wait forever, like Commerce
	SoftTimeout   time.Duration     // only flags the delivery
	Required      bool              // a failed hook aborts the business flow (order not placed)
	DropRate      float64           // fraction of deliveries silently not sent
	DuplicateRate float64           // fraction delivered twice
}

// Config configures a Server. The zero value is a usable PaaS store.
type Config struct {
	Stores        []Store
	Flavour       Flavour
	Tenant        string
	OAuth1        OAuth1Credentials
	BearerEnabled bool
	IMS           IMSConfig
	Webhooks      WebhookConfig
	IOEvents      IOEventsConfig
	CommitDelay   time.Duration
	InputLimits   bool
	RateLimit     int
	Latency       time.Duration
	Seed          int64
	// FirstNumber is the sequence number of each store's first order and
	// invoice (default 1). A dev stack that keeps its JetStream data across
	// restarts starts elsewhere, so new orders do not reuse increment ids.
	FirstNumber int
}

// ErrNotFound is returned by the Go API for unknown orders, invoices, SKUs.
var ErrNotFound = errors.New("commercesim: not found")

// ErrCheckoutAborted is returned when a required webhook failed (or answered
// an exception operation) and the simulated business flow was aborted.
var ErrCheckoutAborted = errors.New("commercesim: business flow aborted by webhook")

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	cfg Config

	mu       sync.Mutex
	clock    func() time.Time
	baseURL  string
	rng      *rand.Rand
	stores   []Store
	products map[string]*product

	orders          []*Order
	ordersByEntity  map[int]*Order
	ordersByIncr    map[string]*Order
	ordersByFold    map[string][]*Order // ASCII-folded increment_id -> orders as placed: the REST search's eq
	invoices        []*Invoice
	invoicesByOrder map[int][]*Invoice // order entity id -> its invoices as saved
	customers       []*Customer
	nextOrderEntity int
	nextInvoiceID   int
	nextCustomerID  int
	nextItemID      int
	orderSeq        map[int]int
	invoiceSeq      map[int]int

	deliveries   []Delivery
	io           *ioEvents
	ioDeliveries []*IOEventDelivery
	ioPending    int           // deliveries still running
	ioIdle       chan struct{} // closed when ioPending drops to 0
	priceWrites  map[string][]PriceWrite
	stockWrites  map[string][]StockWrite
	sourceItems  map[string]*sourceItem // key sku|source
	requests     []RequestRecord

	nonces    map[string]int64 // consumer|nonce -> timestamp
	imsTokens map[string]time.Time

	bulks           map[string]*bulk
	bulkOrder       []string
	consumerRunning bool
	wake            chan struct{}
	done            chan struct{}
	wg              sync.WaitGroup
	closeOnce       sync.Once

	rateSecond int64
	rateCount  int
	failNext   int
	failStatus int

	hookClient *http.Client
	routes     []route
	ts         *httptest.Server
}

// New builds a simulator with defaults filled in. Call Close when done (it
// stops the bulk consumer goroutine); NewTestServer does that for you.
func New(cfg Config) *Server {
	if len(cfg.Stores) == 0 {
		cfg.Stores = []Store{
			{Code: "default", ID: 1, WebsiteID: 1, Currency: "USD", Name: "Default Store View"},
			{Code: "uk", ID: 2, WebsiteID: 2, Currency: "GBP", Name: "UK Store View"},
		}
	}
	for i := range cfg.Stores {
		if cfg.Stores[i].Name == "" {
			cfg.Stores[i].Name = cfg.Stores[i].Code + " Store View"
		}
		if cfg.Stores[i].Currency == "" {
			cfg.Stores[i].Currency = "USD"
		}
	}
	if cfg.Flavour == "" {
		cfg.Flavour = PaaS
	}
	if cfg.Tenant == "" {
		cfg.Tenant = "tenant1"
	}
	if cfg.OAuth1 == (OAuth1Credentials{}) {
		cfg.OAuth1 = DefaultOAuth1()
	}
	if cfg.IMS.ClientID == "" {
		lt := cfg.IMS.TokenLifetime
		cfg.IMS = DefaultIMS()
		if lt > 0 {
			cfg.IMS.TokenLifetime = lt
		}
	}
	if cfg.IMS.TokenLifetime <= 0 {
		cfg.IMS.TokenLifetime = 24 * time.Hour
	}
	if cfg.Webhooks.Mode == "" {
		switch {
		case cfg.Webhooks.PrivateKey != nil:
			cfg.Webhooks.Mode = "rsa"
		case len(cfg.Webhooks.Secret) > 0:
			cfg.Webhooks.Mode = "hmac"
		default:
			cfg.Webhooks.Mode = "none"
		}
	}
	io := newIOEvents(cfg.IOEvents)
	cfg.IOEvents = io.cfg
	seed := uint64(cfg.Seed)
	s := &Server{
		io:              io,
		cfg:             cfg,
		clock:           time.Now,
		rng:             rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		stores:          cfg.Stores,
		ordersByEntity:  map[int]*Order{},
		ordersByIncr:    map[string]*Order{},
		ordersByFold:    map[string][]*Order{},
		invoicesByOrder: map[int][]*Invoice{},
		orderSeq:        map[int]int{},
		invoiceSeq:      map[int]int{},
		priceWrites:     map[string][]PriceWrite{},
		stockWrites:     map[string][]StockWrite{},
		sourceItems:     map[string]*sourceItem{},
		nonces:          map[string]int64{},
		imsTokens:       map[string]time.Time{},
		bulks:           map[string]*bulk{},
		consumerRunning: true,
		wake:            make(chan struct{}, 1),
		done:            make(chan struct{}),
		hookClient:      &http.Client{},
		routes:          routes(),
	}
	s.seedCatalog()
	for _, st := range cfg.Stores {
		if cfg.FirstNumber > 1 {
			s.orderSeq[st.ID], s.invoiceSeq[st.ID] = cfg.FirstNumber-1, cfg.FirstNumber-1
		}
	}
	s.wg.Add(1)
	go s.bulkConsumer()
	return s
}

// NewTestServer starts the simulator on an httptest server, sets its base
// URL and registers cleanup with t.
func NewTestServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := New(cfg)
	ts := httptest.NewServer(s)
	s.mu.Lock()
	s.ts = ts
	s.mu.Unlock()
	s.SetBaseURL(ts.URL)
	t.Cleanup(s.Close)
	return s
}

// Close stops the bulk consumer and the httptest server, if any.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.io.cancel() // abandons pending I/O Events retries
		s.wg.Wait()
		s.CloseIdleConnections()
		s.mu.Lock()
		ts := s.ts
		s.mu.Unlock()
		if ts != nil {
			ts.Close()
		}
	})
}

// CloseIdleConnections closes the kept-alive connections of webhook and I/O
// Events deliveries. Concurrent deliveries can leave a dialled but never
// used connection behind, which an http.Server's graceful Shutdown waits up
// to 5 s for; call this before shutting a receiver down.
func (s *Server) CloseIdleConnections() { s.hookClient.CloseIdleConnections() }

// SetBaseURL sets the public scheme://host:port the simulator is reached at.
// OAuth signatures are verified against this URL, as Commerce verifies
// against the URL it sees.
func (s *Server) SetBaseURL(base string) {
	s.mu.Lock()
	s.baseURL = strings.TrimRight(base, "/")
	s.mu.Unlock()
}

// URL is the base URL set with SetBaseURL ("" until set; requests are then
// verified against the scheme and Host header they arrive with).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// StoreBaseURL is what a client puts in MLC_COMMERCE_BASE_URL: everything
// before V1 (PaaS base+"/rest/"+store, SaaS base+"/"+tenant).
func (s *Server) StoreBaseURL(store string) string {
	if s.cfg.Flavour == SaaS {
		return s.URL() + "/" + s.cfg.Tenant
	}
	if store == "" {
		return s.URL() + "/rest" // the default store view
	}
	return s.URL() + "/rest/" + store
}

// Config returns the effective configuration (defaults filled in).
func (s *Server) Config() Config { return s.cfg }

// SetClock replaces the simulator's clock (timestamps, OAuth skew, commit
// delay, IMS expiry). nil restores time.Now.
func (s *Server) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	s.clock = now
	s.mu.Unlock()
}

// now must be called with s.mu held.
func (s *Server) nowLocked() time.Time { return s.clock().UTC() }

func (s *Server) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

// FailNext makes the next n API requests answer status (500 gives the masked
// "Internal Error ... Report ID" body, others a generic message).
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	s.failNext, s.failStatus = n, status
	s.mu.Unlock()
}

func (s *Server) storeByCode(code string) (Store, bool) {
	for _, st := range s.stores {
		if st.Code == code {
			return st, true
		}
	}
	return Store{}, false
}

func (s *Server) storeByID(id int) Store {
	for _, st := range s.stores {
		if st.ID == id {
			return st
		}
	}
	return s.stores[0]
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
