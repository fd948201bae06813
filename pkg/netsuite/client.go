// Package netsuite is the only code that talks to Oracle NetSuite: SuiteTalk
// REST with OAuth 2.0 client-credentials (M2M) auth, record upserts by
// external id, SuiteQL, error classification and concurrency governance.
// The facts it relies on are in shared/reference/netsuite-rest.md.
package netsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Credentials are what an M2M client needs. Keep them in pkg/secrets.
type Credentials struct {
	AccountID     string `json:"accountId"`
	ClientID      string `json:"clientId"`
	CertificateID string `json:"certificateId"`
	PrivateKeyPEM []byte `json:"privateKeyPem"`
}

// String masks the private key so credentials can be logged by accident
// without leaking it.
func (c Credentials) String() string {
	key := "<none>"
	if len(c.PrivateKeyPEM) > 0 {
		key = "<redacted>"
	}
	return fmt.Sprintf("netsuite.Credentials{AccountID:%q ClientID:%q CertificateID:%q PrivateKeyPEM:%s}",
		c.AccountID, c.ClientID, c.CertificateID, key)
}

// GoString masks the key for %#v too.
func (c Credentials) GoString() string { return c.String() }

// Validate reports missing fields.
func (c Credentials) Validate() error {
	var missing []string
	if c.AccountID == "" {
		missing = append(missing, "account id")
	}
	if c.ClientID == "" {
		missing = append(missing, "client id")
	}
	if c.CertificateID == "" {
		missing = append(missing, "certificate id")
	}
	if len(c.PrivateKeyPEM) == 0 {
		missing = append(missing, "private key")
	}
	if len(missing) > 0 {
		return fmt.Errorf("netsuite: credentials lack %s", strings.Join(missing, ", "))
	}
	return nil
}

// BaseURL derives the account's REST host (ref §1): lowercase the account id
// and replace "_" with "-". "123456_SB1" → https://123456-sb1.suitetalk.api.netsuite.com.
func BaseURL(accountID string) string {
	host := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(accountID)), "_", "-")
	return "https://" + host + ".suitetalk.api.netsuite.com"
}

// Paths under the base URL.
const (
	restPrefix  = "/services/rest"
	tokenPath   = restPrefix + "/auth/oauth2/v1/token"
	recordPath  = restPrefix + "/record/v1/"
	suiteQLPath = restPrefix + "/query/v1/suiteql"
	govPath     = restPrefix + "/system/v1/governanceLimits"
)

// Default per-call timeouts (ref §12: NetSuite kills requests after 15 min).
const (
	DefaultReadTimeout  = 60 * time.Second
	DefaultWriteTimeout = 120 * time.Second
	// DefaultSlowThreshold is a response slow enough to count as a sign of
	// saturation (the 401 quirk answers after about 60 s).
	DefaultSlowThreshold = 30 * time.Second
	// underLoadWindow is how recent a 429 must be for a 401 to count as the
	// concurrency quirk of ref §11.2.
	underLoadWindow = 5 * time.Minute
)

// Client talks to one NetSuite account. It is safe for concurrent use.
type Client struct {
	creds        Credentials
	baseURL      string
	http         *http.Client
	limiter      *Limiter
	now          func() time.Time
	tokens       *tokenSource
	readTimeout  time.Duration
	writeTimeout time.Duration
	nameValid    string
	slow         time.Duration
}

type config struct {
	baseURL      string
	http         *http.Client
	limiter      *Limiter
	now          func() time.Time
	scopes       []string
	scopeFormat  ScopeFormat
	alg          string
	readTimeout  time.Duration
	writeTimeout time.Duration
	slow         time.Duration
}

// Option configures New.
type Option func(*config)

// WithBaseURL overrides the host derived from the account id
// (MLC_NETSUITE_BASE_URL; the only way to reach the simulator). A trailing
// "/services/rest" is accepted and dropped.
func WithBaseURL(u string) Option { return func(c *config) { c.baseURL = u } }

// WithHTTPClient sets the HTTP client. Per-call timeouts come from contexts,
// so its Timeout may stay zero.
func WithHTTPClient(h *http.Client) Option { return func(c *config) { c.http = h } }

// WithLimiter shares a concurrency limiter (one per account per process).
// Without it the client makes its own of DefaultConcurrency slots.
func WithLimiter(l *Limiter) Option { return func(c *config) { c.limiter = l } }

// WithClock sets the time source for assertions and token expiry.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithScopes sets the assertion scopes (default rest_webservices).
func WithScopes(scopes ...string) Option { return func(c *config) { c.scopes = scopes } }

// WithScopeFormat sets how several scopes are joined (default ScopeComma).
func WithScopeFormat(f ScopeFormat) Option { return func(c *config) { c.scopeFormat = f } }

// WithAlgorithm forces the JWT algorithm (PS256/384/512 for RSA keys,
// ES256/384/512 matching the EC curve). Default: PS256 or ES by curve.
func WithAlgorithm(alg string) Option { return func(c *config) { c.alg = alg } }

// WithTimeouts sets per-call timeouts for reads (GET, SuiteQL) and writes.
func WithTimeouts(read, write time.Duration) Option {
	return func(c *config) { c.readTimeout, c.writeTimeout = read, write }
}

// WithSlowThreshold sets how slow an answer must be to count as a sign that
// the account is saturated (default 30 s); it decides whether a 401 after a
// fresh token is the concurrency quirk of ref §11.2.
func WithSlowThreshold(d time.Duration) Option { return func(c *config) { c.slow = d } }

// New checks the credentials, parses the private key and returns a client.
// No request is made until the first call.
func New(creds Credentials, opts ...Option) (*Client, error) {
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	cfg := config{
		http:         &http.Client{},
		now:          time.Now,
		scopes:       []string{ScopeRESTWebServices},
		readTimeout:  DefaultReadTimeout,
		writeTimeout: DefaultWriteTimeout,
		slow:         DefaultSlowThreshold,
	}
	for _, o := range opts {
		o(&cfg)
	}
	base := cfg.baseURL
	if base == "" {
		base = BaseURL(creds.AccountID)
	}
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), restPrefix)
	if u, err := url.Parse(base); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("netsuite: bad base URL %q", base)
	}
	if len(cfg.scopes) == 0 {
		return nil, errors.New("netsuite: no scopes")
	}
	key, err := ParsePrivateKey(creds.PrivateKeyPEM)
	if err != nil {
		return nil, err
	}
	method, err := signingMethodFor(key)
	if cfg.alg != "" {
		method, err = signingMethodByName(cfg.alg, key)
	}
	if err != nil {
		return nil, err
	}
	if cfg.limiter == nil {
		cfg.limiter = NewLimiter(DefaultConcurrency)
	}
	c := &Client{
		creds:        creds,
		baseURL:      base,
		http:         cfg.http,
		limiter:      cfg.limiter,
		now:          cfg.now,
		readTimeout:  cfg.readTimeout,
		writeTimeout: cfg.writeTimeout,
		nameValid:    "Error",
		slow:         cfg.slow,
	}
	c.tokens = &tokenSource{
		signer: &assertionSigner{
			clientID:    creds.ClientID,
			certID:      creds.CertificateID,
			aud:         base + tokenPath,
			method:      method,
			key:         key,
			scopes:      cfg.scopes,
			scopeFormat: cfg.scopeFormat,
		},
		tokenURL: base + tokenPath,
		http:     cfg.http,
		now:      cfg.now,
	}
	return c, nil
}

// BaseURL is the host the client talks to, without /services/rest.
func (c *Client) BaseURL() string { return c.baseURL }

// TokenURL is the token endpoint, also the assertion's aud claim.
func (c *Client) TokenURL() string { return c.tokens.tokenURL }

// Algorithm is the JWT algorithm the client signs with.
func (c *Client) Algorithm() string { return c.tokens.signer.method.Alg() }

// ClientAssertion returns a freshly signed client assertion (valid five
// minutes), for diagnostics such as a curl session against the token
// endpoint. It is a credential: never log it.
func (c *Client) ClientAssertion() (string, error) { return c.tokens.signer.sign(c.now()) }

// Limiter is the client's concurrency limiter.
func (c *Client) Limiter() *Limiter { return c.limiter }

// Token returns a valid access token, fetching one if needed. Calls do this
// themselves; it is exported to check credentials ("mlc connect").
func (c *Client) Token(ctx context.Context) error {
	_, err := c.tokens.token(ctx)
	return err
}

// request is one REST call.
type request struct {
	method string
	path   string // under the base URL, starting with /services/rest
	query  url.Values
	body   any // JSON-encoded; []byte and json.RawMessage are sent as is
	write  bool
	header http.Header
	op     string
}

type response struct {
	status  int
	header  http.Header
	body    []byte
	elapsed time.Duration
}

// do sends req under the limiter with a bearer token. A 401 drops the token
// and retries once with a fresh one; a second 401 right after 429s or slow
// answers is the concurrency quirk (ref §11.2) and is marked UnderLoad.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var payload []byte
	if req.body != nil {
		switch b := req.body.(type) {
		case []byte:
			payload = b
		case json.RawMessage:
			payload = b
		default:
			var err error
			if payload, err = json.Marshal(b); err != nil {
				return nil, fmt.Errorf("netsuite: %s: encode body: %w", req.op, err)
			}
		}
	}
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.token(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, req, payload, tok)
		if err != nil {
			return nil, err
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		nsErr := parseError(req.op, resp.status, resp.header, resp.body)
		nsErr.Write = req.write
		if resp.status == http.StatusUnauthorized {
			c.tokens.invalidate(tok)
			if attempt == 0 {
				continue
			}
			// A fresh token was refused: bad credentials, or the account
			// is saturated and answers 401 instead of 429.
			if resp.elapsed >= c.slow || c.limiter.throttledWithin(underLoadWindow) {
				nsErr.UnderLoad = true
				c.limiter.Throttled()
			}
		}
		return nil, nsErr
	}
}

func (c *Client) send(ctx context.Context, req request, payload []byte, tok string) (*response, error) {
	if err := c.limiter.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("netsuite: %s: waiting for a concurrency slot: %w", req.op, err)
	}
	defer c.limiter.Release()
	timeout := c.readTimeout
	if req.write {
		timeout = c.writeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := c.baseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("netsuite: %s: %w", req.op, err)
	}
	hr.Header.Set("Authorization", "Bearer "+tok)
	hr.Header.Set("Accept", "application/json, application/vnd.oracle.resource+json, */*;q=0.5")
	if payload != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.write {
		hr.Header.Set("X-NetSuite-PropertyNameValidation", c.nameValid)
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	start := time.Now()
	hresp, err := c.http.Do(hr)
	if err != nil {
		return nil, transportError(req.op, req.write, err)
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(hresp.Body)
	if err != nil {
		// The status line arrived, so a 2xx write did happen; anything
		// else is as unknown as a dropped connection.
		if !(req.write && hresp.StatusCode >= 200 && hresp.StatusCode < 300) {
			return nil, transportError(req.op, req.write, err)
		}
	}
	switch {
	case hresp.StatusCode == http.StatusTooManyRequests:
		c.limiter.Throttled()
	case hresp.StatusCode >= 200 && hresp.StatusCode < 300:
		c.limiter.Succeeded()
	}
	elapsed := time.Since(start)
	if elapsed >= c.slow {
		c.limiter.Slow()
	}
	return &response{status: hresp.StatusCode, header: hresp.Header, body: data, elapsed: elapsed}, nil
}
