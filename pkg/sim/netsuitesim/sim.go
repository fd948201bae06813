package netsuitesim

import (
	"crypto"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// GovernanceLimits is the body of GET /services/rest/system/v1/governanceLimits.
type GovernanceLimits struct {
	AccountConcurrencyLimit            int    `json:"accountConcurrencyLimit"`
	AccountUnallocatedConcurrencyLimit int    `json:"accountUnallocatedConcurrencyLimit"`
	IntegrationConcurrencyLimit        int    `json:"integrationConcurrencyLimit,omitempty"`
	IntegrationLimitType               string `json:"integrationLimitType"` // integrationSpecific, accountLimit or internal
}

// Config configures a simulated NetSuite account. The zero value is usable.
type Config struct {
	AccountID          string        // default "1234567"
	ClientID           string        // the integration client id the token endpoint accepts (iss); default "mlc-client"
	OneWorld           bool          // customer create without subsidiary -> 400; items restricted to subsidiaries
	ConcurrencyLimit   int           // in-flight limit over all API calls (token endpoint excluded); 0 = unlimited
	Quirk401           bool          // over-limit requests get 401 INVALID_LOGIN after Quirk401Delay instead of 429
	Quirk401Delay      time.Duration //
	TokenLifetime      time.Duration // default 1h; expires_in reflects it (seconds, at least 1)
	Latency            time.Duration // added to every API call
	LatencyJitter      time.Duration // uniform random added on top of Latency
	ErrorRate          float64       // fraction of record/query calls answered 500 UNEXPECTED_ERROR
	Seed               int64         // rand seed for errors/jitter
	UpsertSetsLocation bool          // PUT eid: upsert sets Location (default false, like the reference says)
	EnumsAsObjects     bool          // GET emits enums as {"id","refName"} instead of plain strings
	GovernanceLimits   GovernanceLimits
	NoDefaultData      bool // skip seeding from pkg/sim/catalog
	// MaxRequestLog caps the request log (oldest dropped); default 20000.
	MaxRequestLog int
}

func (c Config) withDefaults() Config {
	if c.AccountID == "" {
		c.AccountID = "1234567"
	}
	if c.ClientID == "" {
		c.ClientID = "mlc-client"
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = time.Hour
	}
	if c.MaxRequestLog <= 0 {
		c.MaxRequestLog = 20000
	}
	if c.GovernanceLimits == (GovernanceLimits{}) {
		acct := c.ConcurrencyLimit
		if acct == 0 {
			acct = 5
		}
		c.GovernanceLimits = GovernanceLimits{AccountConcurrencyLimit: acct, AccountUnallocatedConcurrencyLimit: acct, IntegrationLimitType: "accountLimit"}
	}
	return c
}

// Server is a simulated NetSuite account. It is safe for concurrent use.
type Server struct {
	cfg Config

	mu      sync.Mutex
	baseURL string
	certs   map[string]crypto.PublicKey
	tokens  map[string]time.Time // access token -> expiry
	rng     *rand.Rand
	db      *store
	stats   Stats
	reqLog  []*RequestLog // oldest at reqHead once MaxRequestLog entries are held
	reqHead int
	faults  []*fault
	jobs    map[string]*asyncJob
	idem    map[string]string // idempotency key -> job id
	nextJob int

	gov governor

	// url is the httptest server URL when created by NewTestServer.
	url string
}

// New returns a simulator seeded with the default catalogue unless cfg.NoDefaultData.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		baseURL: "https://" + strings.ReplaceAll(strings.ToLower(cfg.AccountID), "_", "-") + ".suitetalk.api.netsuite.com",
		certs:   map[string]crypto.PublicKey{},
		rng:     rand.New(rand.NewSource(cfg.Seed)),
	}
	s.resetLocked()
	return s
}

// resetLocked clears all state except configuration, base URL and certificates.
func (s *Server) resetLocked() {
	s.tokens = map[string]time.Time{}
	s.db = newStore()
	s.stats = Stats{}
	s.reqLog, s.reqHead = nil, 0
	s.faults = nil
	s.jobs = map[string]*asyncJob{}
	s.idem = map[string]string{}
	s.nextJob = 0
	s.gov.reset()
	if !s.cfg.NoDefaultData {
		s.db.seedDefault()
	}
}

// NewTestServer starts the simulator on an httptest server, sets its base URL
// and stops it when the test ends.
func NewTestServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	s := New(cfg)
	ts := httptest.NewServer(s)
	s.SetBaseURL(ts.URL)
	s.mu.Lock()
	s.url = ts.URL
	s.mu.Unlock()
	t.Cleanup(ts.Close)
	return s
}

// URL is the base URL the simulator is reached at (no trailing slash).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.url != "" {
		return s.url
	}
	return s.baseURL
}

// SetBaseURL sets the scheme and host the simulator believes it is served at,
// e.g. "http://127.0.0.1:4321". Token aud and Location headers use it.
func (s *Server) SetBaseURL(base string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = strings.TrimRight(base, "/")
}

// TokenURL is the exact aud the token endpoint expects.
func (s *Server) TokenURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL + tokenPath
}

// RegisterCertificate maps a certificate id (the JWT kid) to its public key,
// an *rsa.PublicKey or *ecdsa.PublicKey.
func (s *Server) RegisterCertificate(certID string, pub crypto.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs[certID] = pub
}

// Reset drops all records, tokens, statistics, faults and logs and reseeds the
// default data. Registered certificates are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

const (
	restPrefix     = "/services/rest"
	tokenPath      = restPrefix + "/auth/oauth2/v1/token"
	recordPrefix   = restPrefix + "/record/v1/"
	suiteqlPath    = restPrefix + "/query/v1/suiteql"
	asyncPrefix    = restPrefix + "/async/v1/job"
	governancePath = restPrefix + "/system/v1/governanceLimits"
	simPrefix      = "/_sim/"
)

// ServeHTTP serves /services/rest/... and the inspection API under /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, simPrefix):
		s.serveInspect(w, r)
	case r.URL.Path == tokenPath:
		entry, body := s.logRequest(r)
		rec := &statusRecorder{ResponseWriter: w}
		s.serveToken(rec, r, body)
		s.finishLog(entry, rec.status)
	case strings.HasPrefix(r.URL.Path, restPrefix+"/"):
		s.serveAPI(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveAPI runs the pipeline every authenticated API call goes through:
// log, authenticate, govern concurrency, add latency, inject faults, route.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	entry, body := s.logRequest(r)
	rec := &statusRecorder{ResponseWriter: w}
	defer func() { s.finishLog(entry, rec.status) }()

	if e := s.authenticate(r); e != nil {
		writeAPIError(rec, e)
		return
	}
	defer s.gov.arrive()()
	release, ok := s.gov.acquire(s.cfg.ConcurrencyLimit)
	if !ok {
		s.throttled(rec, r)
		return
	}
	defer release()
	if !s.sleepLatency(r) {
		return
	}
	s.route(rec, r, body)
}

// route dispatches an authenticated, admitted API call.
func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	isDataCall := strings.HasPrefix(p, recordPrefix) || p == suiteqlPath
	f := s.takeFault(p)
	if f == Fault500 || (f == faultNone && isDataCall && s.injectError()) {
		s.countError()
		writeAPIError(w, errUnexpected(s.errorID()))
		return
	}
	if f == FaultConcurrencyLimit {
		s.throttled(w, r)
		return
	}
	if f == FaultWorkflowLock {
		s.countError()
		writeAPIError(w, newErr(http.StatusBadRequest, "USER_ERROR", detailWorkflowLock))
		return
	}
	if f == FaultDropAfterWrite {
		s.countError()
		// Apply the request, throw the answer away and drop the connection:
		// the client sees an ambiguous outcome of a write that happened.
		s.dispatch(httptest.NewRecorder(), r, body)
		panic(http.ErrAbortHandler)
	}
	if f == Fault500AfterWrite {
		s.countError()
		s.dispatch(httptest.NewRecorder(), r, body)
		writeAPIError(w, errUnexpected(s.errorID()))
		return
	}
	s.dispatch(w, r, body)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, body []byte) {
	p := r.URL.Path
	switch {
	case p == governancePath:
		if r.Method != http.MethodGet {
			writeAPIError(w, newErr(http.StatusMethodNotAllowed, "INVALID_METHOD", "Method "+r.Method+" is not allowed."))
			return
		}
		writeJSON(w, http.StatusOK, mediaSingular, s.cfg.GovernanceLimits)
	case p == suiteqlPath:
		s.serveSuiteQL(w, r, body)
	case strings.HasPrefix(p, asyncPrefix):
		s.serveAsync(w, r)
	case strings.HasPrefix(p, recordPrefix):
		if isWrite(r.Method) && strings.Contains(r.Header.Get("Prefer"), "respond-async") {
			s.serveAsyncWrite(w, r, body)
			return
		}
		s.serveRecord(w, r, body)
	default:
		writeAPIError(w, newErr(http.StatusNotFound, "INVALID_REQUEST", "The requested resource "+p+" does not exist."))
	}
}

func isWrite(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch || m == http.MethodDelete
}

// statusRecorder remembers the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
