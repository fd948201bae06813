package commercesim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Adobe I/O Events header names (ref §6).
const (
	HeaderIOSignature1 = "x-adobe-digital-signature-1"
	HeaderIOSignature2 = "x-adobe-digital-signature-2"
	HeaderIOKey1Path   = "x-adobe-public-key1-path"
	HeaderIOKey2Path   = "x-adobe-public-key2-path"
	HeaderIORetryCount = "x-adobe-retry-count"
	HeaderIOEventID    = "x-adobe-event-id"
	HeaderIOEventCode  = "x-adobe-event-code"
)

// I/O Events retry rules. The docs contradict each other (ref §6), so the
// simulator can play either.
const (
	// RetryRuleCurrent: only 429 and 500-599 except 505 are retried; every
	// other status is dropped.
	RetryRuleCurrent = "current"
	// RetryRuleLegacy: everything is retried except 400 and 505.
	RetryRuleLegacy = "legacy"
)

// IOEventsTypePrefix prefixes the Commerce event name in the CloudEvents type.
const IOEventsTypePrefix = "com.adobe.commerce.observer."

// ErrChallengeFailed: the endpoint did not echo the registration challenge.
var ErrChallengeFailed = errors.New("commercesim: I/O Events challenge not echoed")

// IOEventsConfig configures delivery through Adobe I/O Events. With URL set,
// order placed, invoice saved and customer registered events are delivered
// (in addition to any Commerce webhook) as CloudEvents 1.0 envelopes, signed,
// asynchronously and with retries.
type IOEventsConfig struct {
	URL      string // the registered webhook; empty = no I/O Events deliveries
	ClientID string // recipient_client_id; default "mlc-sim-io-client"
	// Keys are the two signing keys (x-adobe-digital-signature-1 and -2);
	// missing ones are generated (RSA-2048) by New.
	Keys []*rsa.PrivateKey
	// KeyPaths are sent in x-adobe-public-key1-path / key2-path; default
	// "/prod/keys/pub-key-<uuid>.pem" each.
	KeyPaths []string
	// RetrySchedule[i] is the wait before retry i+1. nil =
	// DefaultIOEventsRetrySchedule() (1 min doubling, capped at 15 min, for
	// 24 h); an empty non-nil slice = never retry. Tests compress it.
	RetrySchedule []time.Duration
	RetryRule     string        // RetryRuleCurrent (default) or RetryRuleLegacy
	Timeout       time.Duration // per attempt, default 10 s
	DropRate      float64       // fraction of events never delivered (the poll must find them)
	Source        string        // data.source "<merchant>.<env>", default "mlcsim.testing"
}

// String masks the signing keys.
func (c IOEventsConfig) String() string {
	return fmt.Sprintf("IOEventsConfig{URL:%s, ClientID:%s, Keys:%d***, RetryRule:%s, Timeout:%s}", c.URL, c.ClientID, len(c.Keys), c.RetryRule, c.Timeout)
}

// DefaultIOEventsRetrySchedule is I/O Events' documented schedule: first
// retry after 1 minute, doubling, at most 15 minutes apart, for 24 hours.
func DefaultIOEventsRetrySchedule() []time.Duration {
	var out []time.Duration
	wait, total := time.Minute, time.Duration(0)
	for total+wait <= 24*time.Hour {
		out = append(out, wait)
		total += wait
		wait = min(2*wait, 15*time.Minute)
	}
	return out
}

// IOEventsRetryable reports whether a failed attempt is retried under rule.
// status 0 stands for no HTTP answer (connection error or timeout), which
// both versions of the docs retry ("fails to receive a successful response
// code ... within the timeout").
func IOEventsRetryable(rule string, status int) bool {
	if status >= 200 && status < 300 {
		return false // success
	}
	if status == 0 {
		return true
	}
	if rule == RetryRuleLegacy {
		return status != http.StatusBadRequest && status != http.StatusHTTPVersionNotSupported
	}
	return status == http.StatusTooManyRequests || (status >= 500 && status <= 599 && status != http.StatusHTTPVersionNotSupported)
}

// IOEventAttempt is one HTTP attempt of an I/O Events delivery.
type IOEventAttempt struct {
	RetryCount   int // 0 on the first attempt (no x-adobe-retry-count header), then 1, 2, ...
	At           time.Time
	StatusCode   int    // 0 when there was no HTTP answer
	Error        string // transport error or timeout
	ResponseBody string
	Duration     time.Duration
	Header       http.Header // the headers sent
}

// IOEventDelivery is one event's delivery through I/O Events with all its attempts.
type IOEventDelivery struct {
	EventID   string // event_id, the same on every attempt
	Event     string // e.g. "sales_order_place_after"
	Type      string // e.g. "com.adobe.commerce.observer.sales_order_place_after"
	URL       string
	Store     string
	Key       string // increment_id (orders, invoices) or customer id
	Body      []byte // the raw body, identical on every attempt
	Dropped   bool   // never sent (DropRate)
	Attempts  []IOEventAttempt
	Done      bool   // no further attempt will be made
	Delivered bool   // an attempt got a 2xx
	Outcome   string // "pending", "delivered", "dropped", "not retried: status N", "gave up after N attempts", ...
}

// StatusCodes lists the status of every attempt (0 = no answer).
func (d IOEventDelivery) StatusCodes() []int {
	out := make([]int, len(d.Attempts))
	for i, a := range d.Attempts {
		out[i] = a.StatusCode
	}
	return out
}

func (d *IOEventDelivery) clone() IOEventDelivery {
	c := *d
	c.Attempts = make([]IOEventAttempt, len(d.Attempts))
	for i, a := range d.Attempts {
		a.Header = a.Header.Clone()
		c.Attempts[i] = a
	}
	return c
}

// ioEvents is the simulator's I/O Events state, fixed at New.
type ioEvents struct {
	cfg      IOEventsConfig
	keys     []*rsa.PrivateKey // exactly two when err is nil
	paths    []string
	err      error // a configuration problem: every delivery fails with it
	ctx      context.Context
	cancel   context.CancelFunc
	provider string // CloudEvents source
}

// newIOEvents fills in the defaults of cfg.
func newIOEvents(cfg IOEventsConfig) *ioEvents {
	ie := &ioEvents{provider: "urn:uuid:" + uuid.NewString()}
	ie.ctx, ie.cancel = context.WithCancel(context.Background())
	if cfg.ClientID == "" {
		cfg.ClientID = "mlc-sim-io-client"
	}
	if cfg.RetryRule == "" {
		cfg.RetryRule = RetryRuleCurrent
	}
	if cfg.RetryRule != RetryRuleCurrent && cfg.RetryRule != RetryRuleLegacy {
		ie.err = fmt.Errorf("retry rule %q: want %q or %q", cfg.RetryRule, RetryRuleCurrent, RetryRuleLegacy)
	}
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultIOEventsRetrySchedule()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Source == "" {
		cfg.Source = "mlcsim.testing"
	}
	if cfg.URL != "" {
		for i := range 2 {
			var k *rsa.PrivateKey
			if i < len(cfg.Keys) && cfg.Keys[i] != nil {
				k = cfg.Keys[i]
			} else {
				var err error
				if k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
					ie.err = fmt.Errorf("generate I/O Events key %d: %w", i+1, err)
					break
				}
			}
			ie.keys = append(ie.keys, k)
			p := ""
			if i < len(cfg.KeyPaths) {
				p = cfg.KeyPaths[i]
			}
			if p == "" {
				p = "/prod/keys/pub-key-" + uuid.NewString() + ".pem"
			}
			ie.paths = append(ie.paths, p)
		}
		cfg.Keys, cfg.KeyPaths = ie.keys, ie.paths
	}
	ie.cfg = cfg
	return ie
}

// SignIOEvents is one I/O Events signature: base64(RSA PKCS#1 v1.5 SHA-256
// over the raw body bytes; no base64 step, unlike the webhook module).
func SignIOEvents(key *rsa.PrivateKey, body []byte) (string, error) {
	digest := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("rsa sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// IOEventsPublicKeysPEM returns the public halves of the two signing keys as
// PEM "PUBLIC KEY" blocks, what a receiver fetches from the key paths on
// static.adobeioevents.com. nil when I/O Events are not configured.
func (s *Server) IOEventsPublicKeysPEM() [][]byte {
	var out [][]byte
	for _, k := range s.io.keys {
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			continue // cannot happen for an RSA key
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	return out
}

// IOEventsKeyPaths returns the paths sent in x-adobe-public-key1-path and -2.
func (s *Server) IOEventsKeyPaths() []string { return append([]string(nil), s.io.paths...) }

// IOEventsClientID is the recipient_client_id the simulator sends.
func (s *Server) IOEventsClientID() string { return s.io.cfg.ClientID }

// IOEventDeliveries returns every I/O Events delivery so far, oldest first,
// as they stand now (pending ones may gain attempts).
func (s *Server) IOEventDeliveries() []IOEventDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]IOEventDelivery, len(s.ioDeliveries))
	for i, d := range s.ioDeliveries {
		out[i] = d.clone()
	}
	return out
}

// WaitIOEvents blocks until no I/O Events delivery is pending (all
// delivered, dropped or given up), or ctx ends.
func (s *Server) WaitIOEvents(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.ioPending == 0 {
			s.mu.Unlock()
			return nil
		}
		idle := s.ioIdle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("wait for I/O Events deliveries: %w", ctx.Err())
		}
	}
}

// ChallengeIOEvents probes the registered URL like I/O Events does when a
// webhook is registered: GET ?challenge=<random>, which must be echoed with
// 200, as {"challenge":"..."} or as the bare value.
func (s *Server) ChallengeIOEvents(ctx context.Context) error {
	ie := s.io
	if ie.cfg.URL == "" {
		return errors.New("commercesim: I/O Events not configured")
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	challenge := hex.EncodeToString(b)
	u, err := url.Parse(ie.cfg.URL)
	if err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	q := u.Query()
	q.Set("challenge", challenge)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, ie.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	resp, err := s.hookClient.Do(req)
	if err != nil {
		return fmt.Errorf("challenge %s: %w", ie.cfg.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return fmt.Errorf("challenge %s: read: %w", ie.cfg.URL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", ErrChallengeFailed, resp.StatusCode)
	}
	var echo struct {
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &echo) == nil && echo.Challenge == challenge {
		return nil
	}
	if strings.TrimSpace(string(body)) == challenge {
		return nil
	}
	return fmt.Errorf("%w: answer %.200q", ErrChallengeFailed, body)
}

// ioMetadataLocked is data._metadata (ids as strings, as the eventing module
// sends them). s.mu must be held.
func (s *Server) ioMetadataLocked(st Store) Object {
	return Object{
		{"commerceEdition", "Adobe Commerce"}, {"commerceVersion", "2.4.7"}, {"eventsClientVersion", "1.10.0"},
		{"storeId", strconv.Itoa(st.ID)}, {"websiteId", strconv.Itoa(st.WebsiteID)}, {"storeGroupId", strconv.Itoa(st.WebsiteID)},
	}
}

// orderIOValueLocked is the subscribed fields of
// observer.sales_order_place_after. The eventing module reads the model when
// it queues the event, after the save, so entity_id is present here.
func (s *Server) orderIOValueLocked(o *Order) Object {
	items := []any{}
	for _, it := range o.Items {
		items = append(items, Object{{"item_id", it.ItemID}, {"sku", it.SKU}, {"name", it.Name}, {"qty_ordered", it.QtyOrdered},
			{"price", it.Price}, {"row_total", it.RowTotal}, {"product_type", it.ProductType}})
	}
	var custID any
	if !o.CustomerIsGuest {
		custID = o.CustomerID
	}
	return Object{
		{"increment_id", o.IncrementID}, {"entity_id", o.EntityID}, {"store_id", o.StoreID}, {"customer_id", custID},
		{"customer_email", o.CustomerEmail}, {"customer_firstname", o.CustomerFirstname}, {"customer_lastname", o.CustomerLastname},
		{"customer_is_guest", boolInt(o.CustomerIsGuest)}, {"state", o.State}, {"status", o.Status},
		{"order_currency_code", o.Currency}, {"grand_total", o.GrandTotal}, {"subtotal", o.Subtotal}, {"tax_amount", o.TaxAmount},
		{"discount_amount", o.DiscountAmount}, {"shipping_amount", o.ShippingAmount},
		{"created_at", ts(o.CreatedAt)}, {"updated_at", ts(o.UpdatedAt)}, {"items", items},
	}
}

// invoiceIOValue is the subscribed fields of observer.sales_order_invoice_save_after.
func invoiceIOValue(inv *Invoice) Object {
	items := []any{}
	for _, it := range inv.Items {
		items = append(items, Object{{"entity_id", it.EntityID}, {"order_item_id", it.OrderItemID}, {"sku", it.SKU},
			{"qty", it.Qty}, {"price", it.Price}, {"row_total", it.RowTotal}})
	}
	return Object{
		{"entity_id", inv.EntityID}, {"increment_id", inv.IncrementID}, {"order_id", inv.OrderID}, {"state", inv.State},
		{"store_id", inv.StoreID}, {"order_currency_code", inv.Currency}, {"grand_total", inv.GrandTotal},
		{"created_at", ts(inv.CreatedAt)}, {"updated_at", ts(inv.UpdatedAt)}, {"items", items},
	}
}

// customerIOValue is the subscribed fields of observer.customer_register_success (flat).
func customerIOValue(c *Customer) Object {
	return Object{
		{"id", c.ID}, {"email", c.Email}, {"firstname", c.Firstname}, {"lastname", c.Lastname}, {"group_id", c.GroupID},
		{"store_id", c.StoreID}, {"website_id", c.WebsiteID}, {"created_in", c.CreatedIn},
		{"created_at", ts(c.CreatedAt)}, {"updated_at", ts(c.UpdatedAt)},
	}
}

// emitIOEvent queues one event for asynchronous delivery; a no-op without
// IOEventsConfig.URL. value is the subscribed fields.
func (s *Server) emitIOEvent(event string, st Store, key string, value Object) {
	ie := s.io
	if ie.cfg.URL == "" {
		return
	}
	s.mu.Lock()
	d := &IOEventDelivery{EventID: uuid.NewString(), Event: event, Type: IOEventsTypePrefix + event, URL: ie.cfg.URL,
		Store: st.Code, Key: key, Outcome: "pending"}
	env := Object{
		{"specversion", "1.0"}, {"id", uuid.NewString()}, {"source", ie.provider}, {"type", d.Type},
		{"datacontenttype", "application/json"}, {"time", s.nowLocked().Format("2006-01-02T15:04:05.000Z")},
		{"event_id", d.EventID}, {"recipient_client_id", ie.cfg.ClientID},
		{"data", Object{{"key", s.randHexLocked(32)}, {"value", value}, {"source", ie.cfg.Source}, {"_metadata", s.ioMetadataLocked(st)}}},
	}
	drop := ie.cfg.DropRate > 0 && s.rng.Float64() < ie.cfg.DropRate
	s.mu.Unlock()

	raw, err := PHPJSON(env)
	d.Body = raw
	switch {
	case err != nil:
		d.Done, d.Outcome = true, "encode: "+err.Error()
	case ie.err != nil:
		d.Done, d.Outcome = true, "config: "+ie.err.Error()
	case drop:
		d.Done, d.Dropped, d.Outcome = true, true, "dropped"
	case ie.ctx.Err() != nil:
		d.Done, d.Outcome = true, "abandoned: simulator closed"
	}
	s.mu.Lock()
	s.ioDeliveries = trimHistory(s.ioDeliveries)
	s.ioDeliveries = append(s.ioDeliveries, d)
	if d.Done {
		s.mu.Unlock()
		return
	}
	if s.ioPending == 0 {
		s.ioIdle = make(chan struct{})
	}
	s.ioPending++
	s.mu.Unlock()

	s.wg.Add(1)
	go s.deliverIOEvent(d)
}

// deliverIOEvent runs the attempts of one event: the same body every time,
// x-adobe-retry-count from the second attempt, the configured schedule and
// retry rule. Close abandons pending retries.
func (s *Server) deliverIOEvent(d *IOEventDelivery) {
	defer s.wg.Done()
	ie := s.io
	outcome := ""
	for n := 0; ; n++ {
		if n > 0 {
			if sleepCtx(ie.ctx, ie.cfg.RetrySchedule[n-1]) != nil {
				outcome = "abandoned: simulator closed"
				break
			}
		}
		a := s.ioAttempt(d, n)
		s.mu.Lock()
		d.Attempts = append(d.Attempts, a)
		s.mu.Unlock()
		if a.StatusCode >= 200 && a.StatusCode < 300 {
			outcome = "delivered"
			break
		}
		if !IOEventsRetryable(ie.cfg.RetryRule, a.StatusCode) {
			outcome = fmt.Sprintf("not retried: status %d (%s rule)", a.StatusCode, ie.cfg.RetryRule)
			break
		}
		if n >= len(ie.cfg.RetrySchedule) {
			outcome = fmt.Sprintf("gave up after %d attempts", n+1)
			break
		}
	}
	s.mu.Lock()
	d.Done, d.Delivered, d.Outcome = true, outcome == "delivered", outcome
	s.ioPending--
	if s.ioPending == 0 {
		close(s.ioIdle)
	}
	s.mu.Unlock()
}

// ioAttempt sends one attempt; retry is 0 for the first.
func (s *Server) ioAttempt(d *IOEventDelivery, retry int) IOEventAttempt {
	ie := s.io
	a := IOEventAttempt{RetryCount: retry, At: s.now()}
	ctx, cancel := context.WithTimeout(ie.ctx, ie.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		a.Error = "request: " + err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIOEventID, d.EventID)
	req.Header.Set(HeaderIOEventCode, d.Type)
	for i, h := range [][2]string{{HeaderIOSignature1, HeaderIOKey1Path}, {HeaderIOSignature2, HeaderIOKey2Path}} {
		sig, err := SignIOEvents(ie.keys[i], d.Body)
		if err != nil {
			a.Error = "sign: " + err.Error()
			return a
		}
		req.Header.Set(h[0], sig)
		req.Header.Set(h[1], ie.paths[i])
	}
	if retry > 0 {
		req.Header.Set(HeaderIORetryCount, strconv.Itoa(retry))
	}
	a.Header = req.Header.Clone()
	start := time.Now()
	resp, err := s.hookClient.Do(req)
	if err != nil {
		a.Duration = time.Since(start)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			a.Error = fmt.Sprintf("timeout after %s", ie.cfg.Timeout)
		} else {
			a.Error = "transport: " + err.Error()
		}
		return a
	}
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	a.Duration = time.Since(start)
	a.StatusCode = resp.StatusCode
	a.ResponseBody = string(rb)
	if err != nil {
		a.Error = "read response: " + err.Error()
	}
	return a
}
