package commercesim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Webhook header names as the Commerce Webhooks module sends them.
const (
	HeaderRequestID = "x-adobe-commerce-request-id"
	HeaderSignature = "x-adobe-commerce-webhook-signature"
	HeaderStore     = "X-Mlc-Store"
)

// Delivery is one webhook attempt (or a dropped one).
type Delivery struct {
	Event        string // e.g. "sales_order_place_after"
	Hook         string // e.g. "observer.sales_order_place_after"
	URL          string
	Store        string
	Key          string // increment_id (orders, invoices) or customer id
	RequestID    string
	Dropped      bool // not sent at all (simulated loss; the poll must find it)
	Duplicate    bool // the second copy of a duplicated delivery
	StatusCode   int
	ResponseBody string
	Success      bool   // judged like the module: HTTP 200 with a JSON op object or non-empty array
	Exception    bool   // the receiver answered {"op":"exception"}: the flow is aborted
	Outcome      string // "success" or the failure reason
	SoftTimeout  bool   // took longer than WebhookConfig.SoftTimeout (only logged by Commerce)
	Duration     time.Duration
	At           time.Time
	Body         []byte      // the raw body sent
	Header       http.Header // the headers sent
}

// Deliveries returns every webhook attempt so far (the newest 100,000 at most).
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	copy(out, s.deliveries)
	return out
}

// fire sends one hook like the module: synchronously, once (no retries),
// judged by the module's rules. It returns the first delivery (nil when no
// hook URL is configured) and whether the business flow must abort.
func (s *Server) fire(ctx context.Context, event, path, store, key string, body Object) (*Delivery, bool) {
	wh := s.cfg.Webhooks
	if wh.BaseURL == "" {
		return nil, false
	}
	raw, err := PHPJSON(body)
	if err != nil {
		// Commerce would fail to encode too; surface it as a failed hook.
		d := Delivery{Event: event, Hook: "observer." + event, Store: store, Key: key, Outcome: "encode: " + err.Error(), At: s.now()}
		s.record(d)
		return &d, wh.Required
	}
	s.mu.Lock()
	drop := wh.DropRate > 0 && s.rng.Float64() < wh.DropRate
	dup := !drop && wh.DuplicateRate > 0 && s.rng.Float64() < wh.DuplicateRate
	s.mu.Unlock()
	url := wh.BaseURL + path
	if drop {
		d := Delivery{Event: event, Hook: "observer." + event, URL: url, Store: store, Key: key, RequestID: uuid.NewString(),
			Dropped: true, Outcome: "dropped", At: s.now(), Body: raw}
		s.record(d)
		return &d, false
	}
	first := s.send(ctx, event, url, store, key, raw, false)
	if dup {
		s.send(ctx, event, url, store, key, raw, true)
	}
	aborted := first.Exception || (wh.Required && !first.Success)
	return &first, aborted
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	s.deliveries = trimHistory(s.deliveries)
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
}

func (s *Server) send(ctx context.Context, event, url, store, key string, raw []byte, duplicate bool) Delivery {
	wh := s.cfg.Webhooks
	d := Delivery{Event: event, Hook: "observer." + event, URL: url, Store: store, Key: key, RequestID: uuid.NewString(),
		Duplicate: duplicate, At: s.now(), Body: raw}
	if wh.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wh.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		d.Outcome = "request: " + err.Error()
		s.record(d)
		return d
	}
	for k, v := range wh.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderRequestID, d.RequestID)
	req.Header.Set(HeaderStore, store)
	if sig, err := s.sign(raw); err != nil {
		d.Outcome = "sign: " + err.Error()
		s.record(d)
		return d
	} else if sig != "" {
		req.Header.Set(HeaderSignature, sig)
	}
	d.Header = req.Header.Clone()
	start := time.Now()
	resp, err := s.hookClient.Do(req)
	if err != nil {
		d.Duration = time.Since(start)
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			d.Outcome = fmt.Sprintf("timeout after %s", wh.Timeout)
		} else {
			d.Outcome = "transport: " + err.Error()
		}
		d.SoftTimeout = wh.SoftTimeout > 0 && d.Duration > wh.SoftTimeout
		s.record(d)
		return d
	}
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	d.Duration = time.Since(start)
	d.SoftTimeout = wh.SoftTimeout > 0 && d.Duration > wh.SoftTimeout
	d.StatusCode = resp.StatusCode
	d.ResponseBody = string(rb)
	if err != nil {
		d.Outcome = "read response: " + err.Error()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			d.Outcome = fmt.Sprintf("timeout after %s", wh.Timeout)
		}
		s.record(d)
		return d
	}
	d.Success, d.Exception, d.Outcome = JudgeResponse(resp.StatusCode, rb)
	s.record(d)
	return d
}

// sign returns the signature header value for the configured mode.
func (s *Server) sign(raw []byte) (string, error) {
	wh := s.cfg.Webhooks
	switch wh.Mode {
	case "rsa":
		if wh.PrivateKey == nil {
			return "", errors.New("rsa mode without a private key")
		}
		return SignRSA(wh.PrivateKey, raw)
	case "hmac":
		return SignHMAC(wh.Secret, raw), nil
	}
	return "", nil
}

// SignRSA is the module's signature: base64(RSA PKCS#1 v1.5 SHA-256 over
// the ASCII bytes of base64(body)).
func SignRSA(key *rsa.PrivateKey, body []byte) (string, error) {
	digest := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(body)))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("rsa sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SignHMAC is the middleware variant: base64(HMAC-SHA256(secret, body)).
func SignHMAC(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func validOps() map[string]bool {
	return map[string]bool{"success": true, "exception": true, "add": true, "replace": true, "remove": true}
}

// JudgeResponse applies the module's response contract: only status 200 with
// a JSON operation object, or a non-empty array of them, succeeds. An
// "exception" operation is a valid answer that aborts the flow.
func JudgeResponse(status int, body []byte) (success, exception bool, outcome string) {
	if status != http.StatusOK {
		return false, false, fmt.Sprintf("unexpected status code %d", status)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return false, false, "The response has a wrong format: invalid JSON"
	}
	var ops []map[string]any
	switch x := v.(type) {
	case map[string]any:
		ops = []map[string]any{x}
	case []any:
		if len(x) == 0 {
			return false, false, "The response has a wrong format: empty operation list"
		}
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return false, false, "The response has a wrong format: operation is not an object"
			}
			ops = append(ops, m)
		}
	default:
		return false, false, "The response has a wrong format"
	}
	for _, op := range ops {
		name, _ := op["op"].(string)
		if !validOps()[name] {
			return false, false, "The response has a wrong format: missing or unknown op"
		}
		if name == "exception" {
			msg, _ := op["message"].(string)
			return false, true, "exception: " + msg
		}
	}
	return true, false, "success"
}
