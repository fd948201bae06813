package commerce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultIMSTokenURL is Adobe's IMS token endpoint (ref §13).
const DefaultIMSTokenURL = "https://ims-na1.adobelogin.com/ims/token/v3"

// DefaultIMSScopes returns the scope list the connector needs (ref §13);
// commerce.accs is mandatory.
func DefaultIMSScopes() []string {
	return []string{"openid", "AdobeID", "email", "profile", "additional_info.roles",
		"additional_info.projectedProductContext", "commerce.accs"}
}

// IMSCredentials are an Adobe Developer Console server-to-server (OAuth
// client credentials) project. String, GoString and MarshalJSON mask the secret.
type IMSCredentials struct {
	ClientID     string
	ClientSecret string
	OrgID        string   // x-gw-ims-org-id, e.g. ABC123@AdobeOrg
	Scopes       []string // default DefaultIMSScopes(); commerce.accs is added when missing
	TokenURL     string   // default DefaultIMSTokenURL
}

func (c IMSCredentials) String() string {
	return fmt.Sprintf("IMSCredentials{ClientID:%s ClientSecret:%s OrgID:%s TokenURL:%s}",
		c.ClientID, mask(c.ClientSecret), c.OrgID, c.TokenURL)
}

func (c IMSCredentials) GoString() string { return c.String() }

func (c IMSCredentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"client_id": c.ClientID, "client_secret": mask(c.ClientSecret),
		"org_id": c.OrgID, "scopes": c.Scopes, "token_url": c.TokenURL})
}

// IMS authenticates SaaS calls with an IMS access token, cached for its
// lifetime minus a margin, renewed by one caller at a time, dropped on 401.
type IMS struct {
	creds  IMSCredentials
	hc     *http.Client
	margin time.Duration
	now    func() time.Time

	mu       sync.Mutex
	token    string
	expiry   time.Time
	inflight *imsCall
	fetches  int
}

type imsCall struct {
	done  chan struct{}
	token string
	err   error
}

// IMSOption configures IMS.
type IMSOption func(*IMS)

// IMSHTTPClient sets the HTTP client for token requests.
func IMSHTTPClient(hc *http.Client) IMSOption { return func(a *IMS) { a.hc = hc } }

// IMSMargin renews the token this long before it expires (default 5 min,
// at most half the token's lifetime).
func IMSMargin(d time.Duration) IMSOption { return func(a *IMS) { a.margin = d } }

// NewIMS returns the IMS authenticator.
func NewIMS(creds IMSCredentials, opts ...IMSOption) (*IMS, error) {
	if creds.ClientID == "" || creds.ClientSecret == "" || creds.OrgID == "" {
		return nil, errors.New("commerce: ims credentials: client id, client secret and org id are required")
	}
	if creds.TokenURL == "" {
		creds.TokenURL = DefaultIMSTokenURL
	}
	if len(creds.Scopes) == 0 {
		creds.Scopes = DefaultIMSScopes()
	}
	hasACCS := false
	for _, s := range creds.Scopes {
		hasACCS = hasACCS || s == "commerce.accs"
	}
	if !hasACCS {
		creds.Scopes = append(append([]string(nil), creds.Scopes...), "commerce.accs")
	}
	a := &IMS{creds: creds, hc: &http.Client{Timeout: 30 * time.Second}, margin: 5 * time.Minute, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	return a, nil
}

func (a *IMS) String() string { return "commerce.IMS{" + a.creds.String() + "}" }

// Authorize sets Authorization, x-api-key and x-gw-ims-org-id.
func (a *IMS) Authorize(ctx context.Context, req *http.Request) error {
	tok, err := a.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("x-api-key", a.creds.ClientID)
	req.Header.Set("x-gw-ims-org-id", a.creds.OrgID)
	return nil
}

// Invalidate drops the cached token if it is the one the refused request
// carried (a request signed with an older token does not drop a newer one).
func (a *IMS) Invalidate(refused *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if refused == nil || refused.Header.Get("Authorization") == "Bearer "+a.token {
		a.token = ""
		a.expiry = time.Time{}
	}
}

// TokenRequests counts the token requests made (for tests and metrics).
func (a *IMS) TokenRequests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fetches
}

// Token returns a valid access token, requesting one when needed. Concurrent
// callers share one request.
func (a *IMS) Token(ctx context.Context) (string, error) {
	a.mu.Lock()
	if a.token != "" && a.now().Before(a.expiry) {
		t := a.token
		a.mu.Unlock()
		return t, nil
	}
	call := a.inflight
	if call == nil {
		call = &imsCall{done: make(chan struct{})}
		a.inflight = call
		a.fetches++
		// The fetch outlives a cancelled caller: other waiters may still want it.
		go a.fetch(context.WithoutCancel(ctx), call)
	}
	a.mu.Unlock()
	select {
	case <-call.done:
		return call.token, call.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (a *IMS) fetch(ctx context.Context, call *imsCall) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tok, lifetime, err := a.request(ctx)
	a.mu.Lock()
	if err == nil {
		margin := min(a.margin, lifetime/2)
		a.token, a.expiry = tok, a.now().Add(lifetime-margin)
	}
	a.inflight = nil
	a.mu.Unlock()
	call.token, call.err = tok, err
	close(call.done)
}

func (a *IMS) request(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{
		"client_id":     {a.creds.ClientID},
		"client_secret": {a.creds.ClientSecret},
		"grant_type":    {"client_credentials"},
		"scope":         {strings.Join(a.creds.Scopes, ",")},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.creds.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("commerce: ims token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("commerce: ims token: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("commerce: ims token: read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := newError(http.MethodPost, "ims/token", resp.StatusCode, body, resp.Header)
		var ie struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &ie) == nil && ie.Error != "" {
			e.Message, e.Rendered = ie.Error, strings.TrimSpace(ie.Error+": "+ie.Description)
		}
		return "", 0, fmt.Errorf("commerce: ims token: %w", e)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   Int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, fmt.Errorf("commerce: ims token: decode: %w", err)
	}
	if tr.AccessToken == "" {
		return "", 0, errors.New("commerce: ims token: answer without access_token")
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if tr.ExpiresIn > 1e9 { // some IMS versions answer milliseconds
		lifetime = time.Duration(tr.ExpiresIn) * time.Millisecond
	}
	if lifetime <= 0 {
		lifetime = time.Minute
	}
	return tr.AccessToken, lifetime, nil
}

// Config selects and configures the client; MLC_COMMERCE_* in the service
// environment, secrets from the credential store.
type Config struct {
	BaseURL      string `env:"MLC_COMMERCE_BASE_URL"` // everything before V1
	Auth         string `env:"MLC_COMMERCE_AUTH"`     // "oauth1" (default) or "ims"
	Flavour      string `env:"MLC_COMMERCE_FLAVOUR"`  // "paas" or "saas"; default paas for oauth1, saas for ims
	OAuth1       OAuth1Credentials
	OAuth1Bearer bool // send the access token as Bearer instead of signing (ref §12)
	IMS          IMSCredentials
}

// NewAuthenticator builds the configured authenticator.
func NewAuthenticator(cfg Config, hc *http.Client) (Authenticator, error) {
	switch strings.ToLower(strings.TrimSpace(cfg.Auth)) {
	case "", "oauth1":
		a, err := NewOAuth1(cfg.OAuth1, OAuth1Bearer(cfg.OAuth1Bearer))
		if err != nil {
			return nil, err
		}
		return a, nil
	case "ims":
		var opts []IMSOption
		if hc != nil {
			opts = append(opts, IMSHTTPClient(hc))
		}
		a, err := NewIMS(cfg.IMS, opts...)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, fmt.Errorf("commerce: auth %q: want oauth1 or ims", cfg.Auth)
}

// NewFromConfig builds the client and its authenticator from configuration.
func NewFromConfig(cfg Config, opts ...Option) (*Client, error) {
	flavour := PaaS
	if strings.EqualFold(strings.TrimSpace(cfg.Auth), "ims") {
		flavour = SaaS
	}
	if cfg.Flavour != "" {
		f, err := ParseFlavour(cfg.Flavour)
		if err != nil {
			return nil, err
		}
		flavour = f
	}
	probe := &Client{}
	for _, o := range opts {
		o(probe)
	}
	auth, err := NewAuthenticator(cfg, probe.hc)
	if err != nil {
		return nil, err
	}
	return New(cfg.BaseURL, flavour, auth, opts...)
}
