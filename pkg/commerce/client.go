package commerce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ml-connector/ml-connector/pkg/retry"
)

// Flavour selects the URL layout and authentication family (ref §1).
type Flavour int

const (
	// PaaS: Adobe Commerce on cloud / on-premises, Magento Open Source.
	// Async and bulk prefixes come before V1: <base>/async/bulk/V1/...
	PaaS Flavour = iota
	// SaaS: Adobe Commerce as a Cloud Service. Async and bulk come after V1:
	// <base>/V1/async/bulk/...
	SaaS
)

func (f Flavour) String() string {
	if f == SaaS {
		return "saas"
	}
	return "paas"
}

// ParseFlavour reads "paas" or "saas".
func ParseFlavour(s string) (Flavour, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "paas":
		return PaaS, nil
	case "saas", "accs":
		return SaaS, nil
	}
	return PaaS, fmt.Errorf("commerce: flavour %q: want paas or saas", s)
}

// Authenticator adds credentials to an outgoing request. It is called for
// every attempt, so OAuth 1.0a gets a fresh nonce on retries.
type Authenticator interface {
	Authorize(ctx context.Context, req *http.Request) error
}

// Invalidator is implemented by authenticators holding an expiring token:
// after a 401 the client calls Invalidate with the refused request and
// retries once with fresh credentials.
type Invalidator interface {
	Invalidate(refused *http.Request)
}

// Client talks to one Commerce base URL: everything before V1, such as
// https://shop.example.com/rest/all (PaaS) or
// https://na1.api.commerce.adobe.com/<tenant> (SaaS).
type Client struct {
	base          string
	flavour       Flavour
	hc            *http.Client
	auth          Authenticator
	maxRetries    int
	backoffBase   time.Duration
	backoffMax    time.Duration
	maxRetryAfter time.Duration
	batchSize     int
	bulkPoll      time.Duration
	userAgent     string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (timeouts, transport).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRetries bounds retries of 429, 502/503/504 (500 for GET) and network
// errors: at most max retries, exponential backoff from base capped at cap,
// full jitter.
func WithRetries(max int, base, cap time.Duration) Option {
	return func(c *Client) { c.maxRetries, c.backoffBase, c.backoffMax = max, base, cap }
}

// WithMaxRetryAfter is the longest Retry-After honoured in-process; a longer
// one returns the 429 to the caller (who may re-queue with that delay).
func WithMaxRetryAfter(d time.Duration) Option { return func(c *Client) { c.maxRetryAfter = d } }

// WithBatchSize sets the rows per synchronous batch call (base-prices,
// source-items); Commerce's input limit is 20 (ref §14).
func WithBatchSize(n int) Option { return func(c *Client) { c.batchSize = n } }

// WithBulkPollInterval sets how often WaitBulk asks for the bulk status.
func WithBulkPollInterval(d time.Duration) Option { return func(c *Client) { c.bulkPoll = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client for baseURL (everything before V1).
func New(baseURL string, flavour Flavour, auth Authenticator, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("commerce: base URL %q: want an http or https URL with a host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("commerce: base URL %q: no query or fragment allowed", baseURL)
	}
	if strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/V1") {
		return nil, fmt.Errorf("commerce: base URL %q: give everything before V1", baseURL)
	}
	if auth == nil {
		return nil, errors.New("commerce: no authenticator")
	}
	c := &Client{
		base:          strings.TrimSuffix(u.String(), "/"),
		flavour:       flavour,
		hc:            &http.Client{Timeout: 60 * time.Second},
		auth:          auth,
		maxRetries:    4,
		backoffBase:   250 * time.Millisecond,
		backoffMax:    10 * time.Second,
		maxRetryAfter: 60 * time.Second,
		batchSize:     20,
		bulkPoll:      2 * time.Second,
		userAgent:     "ml-connector",
	}
	for _, o := range opts {
		o(c)
	}
	if c.batchSize <= 0 {
		c.batchSize = 20
	}
	if c.bulkPoll <= 0 {
		c.bulkPoll = 2 * time.Second
	}
	return c, nil
}

// Flavour reports the URL layout in use.
func (c *Client) Flavour() Flavour { return c.flavour }

// BaseURL is everything before V1.
func (c *Client) BaseURL() string { return c.base }

// asyncPath turns "V1/products/bySku" into the flavour's async or bulk path.
func (c *Client) asyncPath(bulk bool, path string) string {
	seg := "async"
	if bulk {
		seg = "async/bulk"
	}
	rest := strings.TrimPrefix(path, "V1/")
	if c.flavour == SaaS {
		return "V1/" + seg + "/" + rest
	}
	return seg + "/V1/" + rest
}

const maxResponseBody = 64 << 20

// Do sends one REST call. path is below the base URL with escaped segments
// (e.g. "V1/products/"+url.PathEscape(sku)); in is marshalled as JSON when
// not nil; out receives the decoded 2xx body when not nil. A non-2xx answer
// is an *Error. Retries are described at WithRetries.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("commerce: %s %s: encode body: %w", method, path, err)
		}
	}
	target := c.base + "/" + strings.TrimPrefix(path, "/")
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	reauthed := false
	for attempt := 0; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, target, rd)
		if err != nil {
			return fmt.Errorf("commerce: %s %s: %w", method, path, err)
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.userAgent != "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
		if err := c.auth.Authorize(ctx, req); err != nil {
			return fmt.Errorf("commerce: %s %s: authorize: %w", method, path, err)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("commerce: %s %s: %w", method, path, ctx.Err())
			}
			if attempt < c.maxRetries {
				if werr := sleep(ctx, c.backoff(attempt)); werr != nil {
					return fmt.Errorf("commerce: %s %s: %w (after %v)", method, path, werr, err)
				}
				continue
			}
			return fmt.Errorf("commerce: %s %s: %w", method, path, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		resp.Body.Close()
		if err != nil {
			if ctx.Err() == nil && attempt < c.maxRetries {
				if werr := sleep(ctx, c.backoff(attempt)); werr == nil {
					continue
				}
			}
			return fmt.Errorf("commerce: %s %s: read body: %w", method, path, err)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out != nil && len(bytes.TrimSpace(data)) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return fmt.Errorf("commerce: %s %s: decode %d answer: %w", method, path, resp.StatusCode, err)
				}
			}
			return nil
		}
		apiErr := newError(method, path, resp.StatusCode, data, resp.Header)
		if resp.StatusCode == http.StatusUnauthorized && !reauthed {
			if inv, ok := c.auth.(Invalidator); ok {
				inv.Invalidate(req)
				reauthed = true
				attempt--
				continue
			}
		}
		if !c.retryable(method, resp.StatusCode) || attempt >= c.maxRetries {
			return apiErr
		}
		delay := c.backoff(attempt)
		if ra, ok := retry.ParseRetryAfter(apiErr.RetryAfter, time.Now()); ok {
			if ra > c.maxRetryAfter {
				return apiErr
			}
			delay = ra + time.Duration(rand.Int64N(int64(c.backoffBase)+1))
		} else if resp.StatusCode == http.StatusTooManyRequests {
			// Adobe's sample client waits 5 s without a Retry-After (ref §14).
			delay = max(delay, min(5*time.Second, c.backoffMax))
		}
		if err := sleep(ctx, delay); err != nil {
			return fmt.Errorf("%w (gave up waiting: %v)", apiErr, err)
		}
	}
}

func (c *Client) retryable(method string, status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusInternalServerError:
		return method == http.MethodGet
	}
	return false
}

// backoff is exponential with full jitter.
func (c *Client) backoff(attempt int) time.Duration {
	if c.backoffMax <= 0 {
		return 0
	}
	return retry.Backoff(attempt, c.backoffBase, c.backoffMax, rand.Float64)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
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
