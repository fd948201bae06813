package commercesim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/commerce"
)

// ioKeys are two signing keys shared by the tests (key generation is slow under -race).
var ioKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var ks []*rsa.PrivateKey
	for range 2 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ks = append(ks, k)
	}
	return ks
})

// ioReceiver is an I/O Events webhook; answer gets the 0-based hit number.
type ioReceiver struct {
	mu     sync.Mutex
	hits   []hit
	answer func(n int, w http.ResponseWriter, r *http.Request)
	srv    *httptest.Server
}

func newIOReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *ioReceiver {
	t.Helper()
	rc := &ioReceiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.hits)
		rc.hits = append(rc.hits, hit{r.URL.RequestURI(), r.Header.Clone(), b})
		rc.mu.Unlock()
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *ioReceiver) got() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

// statuses answers the listed statuses in turn, then 200.
func statuses(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < len(codes) {
			w.WriteHeader(codes[n])
			return
		}
		w.WriteHeader(http.StatusOK)
	}
}

func ioServer(t *testing.T, url string, mod func(*IOEventsConfig)) *Server {
	t.Helper()
	c := IOEventsConfig{URL: url, ClientID: "client-123", Keys: ioKeys(),
		RetrySchedule: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&c)
	}
	return NewTestServer(t, Config{Seed: 3, IOEvents: c})
}

func waitIO(t *testing.T, s *Server) []IOEventDelivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitIOEvents(ctx); err != nil {
		t.Fatal(err)
	}
	return s.IOEventDeliveries()
}

func verifyIOSig(key *rsa.PublicKey, body []byte, header string) error {
	sig, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(body)
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig)
}

func TestIOEventsOrderEnvelopeAndSignatures(t *testing.T) {
	rc := newIOReceiver(t, statuses())
	s := ioServer(t, rc.srv.URL+"/webhooks/adobe-io", nil)
	o := mustPlace(t, s, "uk", OrderSpec{Buyer: BuyerGuest, Email: "zoe@example.com", Firstname: "Zoë", Lastname: "Łódź",
		Lines: []LineSpec{{SKU: "WB04", Qty: 2}}})
	ds := waitIO(t, s)
	hits := rc.got()
	if len(ds) != 1 || len(hits) != 1 {
		t.Fatalf("%d deliveries, %d hits", len(ds), len(hits))
	}
	d, h := ds[0], hits[0]
	if !d.Delivered || d.Outcome != "delivered" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 200 || d.Key != o.IncrementID || d.Store != "uk" {
		t.Fatalf("delivery %+v", d)
	}
	if !bytes.Equal(h.body, d.Body) {
		t.Fatal("recorded body differs from the body sent")
	}
	if _, ok := h.header[http.CanonicalHeaderKey(HeaderIORetryCount)]; ok {
		t.Errorf("first attempt carries %s", HeaderIORetryCount)
	}
	if h.header.Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", h.header.Get("Content-Type"))
	}

	var env struct {
		SpecVersion string `json:"specversion"`
		ID          string `json:"id"`
		Source      string `json:"source"`
		Type        string `json:"type"`
		Time        string `json:"time"`
		EventID     string `json:"event_id"`
		Recipient   string `json:"recipient_client_id"`
		Data        struct {
			Key      string         `json:"key"`
			Value    map[string]any `json:"value"`
			Source   string         `json:"source"`
			Metadata map[string]any `json:"_metadata"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.body, &env); err != nil {
		t.Fatalf("%v: %s", err, h.body)
	}
	if env.SpecVersion != "1.0" || env.ID == "" || !strings.HasPrefix(env.Source, "urn:uuid:") ||
		env.Type != "com.adobe.commerce.observer.sales_order_place_after" || env.EventID != d.EventID ||
		env.Recipient != "client-123" || env.Data.Key == "" || env.Data.Source != "mlcsim.testing" {
		t.Errorf("envelope %+v", env)
	}
	if _, err := time.Parse(time.RFC3339, env.Time); err != nil {
		t.Errorf("time %q: %v", env.Time, err)
	}
	if h.header.Get(HeaderIOEventID) != env.EventID {
		t.Errorf("%s = %q", HeaderIOEventID, h.header.Get(HeaderIOEventID))
	}
	v := env.Data.Value
	if v["increment_id"] != o.IncrementID || v["entity_id"] != float64(o.EntityID) || v["store_id"] != float64(2) ||
		v["customer_email"] != "zoe@example.com" || v["created_at"] != ts(o.CreatedAt) || v["updated_at"] != ts(o.UpdatedAt) ||
		fmt.Sprint(v["grand_total"]) != o.GrandTotal.String() {
		t.Errorf("value %v (order %s %s)", v, o.IncrementID, o.GrandTotal)
	}
	md := env.Data.Metadata
	for _, k := range []string{"commerceEdition", "commerceVersion", "eventsClientVersion"} {
		if md[k] == "" || md[k] == nil {
			t.Errorf("_metadata.%s missing: %v", k, md)
		}
	}
	if md["storeId"] != "2" || md["websiteId"] != "2" || md["storeGroupId"] == nil {
		t.Errorf("_metadata %v", md)
	}
	// PHP-style bytes: the receiver must keep them raw.
	if !bytes.Contains(h.body, []byte(`\u0141\u00f3d\u017a`)) {
		t.Errorf("body is not PHP-escaped: %s", h.body)
	}

	// Both signatures: each over the raw body with its own key.
	pems := s.IOEventsPublicKeysPEM()
	pubs, err := commerce.ParseRSAPublicKeys(pems...)
	if err != nil || len(pubs) != 2 {
		t.Fatalf("public keys: %v %d", err, len(pubs))
	}
	sig1, sig2 := h.header.Get(HeaderIOSignature1), h.header.Get(HeaderIOSignature2)
	if verifyIOSig(pubs[0], h.body, sig1) != nil || verifyIOSig(pubs[1], h.body, sig2) != nil {
		t.Fatal("a signature does not verify over the raw body")
	}
	if verifyIOSig(pubs[1], h.body, sig1) == nil || verifyIOSig(pubs[0], h.body, sig2) == nil {
		t.Fatal("both signatures made with the same key")
	}
	// Not the webhook module's scheme (no base64 step).
	if verifyIOSig(pubs[0], []byte(base64.StdEncoding.EncodeToString(h.body)), sig1) == nil {
		t.Fatal("signature is over base64(body)")
	}
	tampered := bytes.Replace(h.body, []byte(o.IncrementID), []byte("999999999"), 1)
	if verifyIOSig(pubs[0], tampered, sig1) == nil || verifyIOSig(pubs[1], tampered, sig2) == nil {
		t.Fatal("tampered body verifies")
	}
	paths := s.IOEventsKeyPaths()
	re := regexp.MustCompile(`^/prod/keys/pub-key-[0-9a-f-]{36}\.pem$`)
	if h.header.Get(HeaderIOKey1Path) != paths[0] || h.header.Get(HeaderIOKey2Path) != paths[1] || !re.MatchString(paths[0]) || paths[0] == paths[1] {
		t.Errorf("key paths %q %q, want %v", h.header.Get(HeaderIOKey1Path), h.header.Get(HeaderIOKey2Path), paths)
	}

	// The connector's verifier and decoder accept it.
	ver, err := commerce.NewIOEventsVerifier("client-123", pems...)
	if err != nil {
		t.Fatal(err)
	}
	if err := ver.Verify(h.body, h.header); err != nil {
		t.Fatalf("IOEventsVerifier: %v", err)
	}
	if err := ver.Verify(tampered, h.header); !errors.Is(err, commerce.ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	other, _ := commerce.NewIOEventsVerifier("someone-else", pems...)
	if err := other.Verify(h.body, h.header); !errors.Is(err, commerce.ErrWrongRecipient) {
		t.Fatalf("other client: %v", err)
	}
	ev, err := commerce.DecodeIOEvent(h.body)
	if err != nil {
		t.Fatal(err)
	}
	op, err := ev.Order()
	if err != nil || op.IncrementID != o.IncrementID || op.EventName != "sales_order_place_after" || !op.GrandTotal.Equal(o.GrandTotal) ||
		ev.Metadata.StoreID != 2 || ev.EventID != d.EventID {
		t.Fatalf("decoded %+v %+v %v", ev, op, err)
	}
}

func TestIOEventsInvoiceAndCustomer(t *testing.T) {
	rc := newIOReceiver(t, statuses())
	s := ioServer(t, rc.srv.URL, nil)
	ctx := context.Background()
	c, err := s.RegisterCustomer(ctx, "default", CustomerSpec{Email: "ann@example.com", Firstname: "Ann", Lastname: "Lee"})
	if err != nil {
		t.Fatal(err)
	}
	o := mustPlace(t, s, "default", OrderSpec{CustomerID: c.ID, Lines: []LineSpec{{SKU: "WB04", Qty: 1}}})
	inv, err := s.CaptureInvoice(ctx, o.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	ds := waitIO(t, s)
	if len(ds) != 3 {
		t.Fatalf("%d deliveries", len(ds))
	}
	byType := map[string]commerce.IOEvent{}
	for _, d := range ds {
		if !d.Delivered {
			t.Fatalf("%+v", d)
		}
		ev, err := commerce.DecodeIOEvent(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		byType[ev.Type] = ev
	}
	cu, err := byType["com.adobe.commerce.observer.customer_register_success"].Customer()
	if err != nil || cu.ID != int64(c.ID) || cu.Email != "ann@example.com" || cu.Firstname != "Ann" || cu.Lastname != "Lee" {
		t.Errorf("customer %+v %v", cu, err)
	}
	in, err := byType["com.adobe.commerce.observer.sales_order_invoice_save_after"].Invoice()
	if err != nil || in.IncrementID != inv.IncrementID || in.OrderID != int64(o.EntityID) || !in.Captured() || !in.GrandTotal.Equal(inv.GrandTotal) {
		t.Errorf("invoice %+v %v", in, err)
	}
	var value struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(byType["com.adobe.commerce.observer.sales_order_invoice_save_after"].Value, &value); err != nil || len(value.Items) != 1 || value.Items[0]["sku"] != "WB04" {
		t.Errorf("invoice items %+v %v", value, err)
	}
	if _, ok := byType["com.adobe.commerce.observer.sales_order_place_after"]; !ok {
		t.Error("no order event")
	}
}

func TestIOEventsRetriedUnderBothRules(t *testing.T) {
	for _, rule := range []string{RetryRuleCurrent, RetryRuleLegacy} {
		t.Run(rule, func(t *testing.T) {
			rc := newIOReceiver(t, statuses(503, 503))
			s := ioServer(t, rc.srv.URL, func(c *IOEventsConfig) { c.RetryRule = rule })
			mustPlace(t, s, "default", OrderSpec{})
			ds := waitIO(t, s)
			hits := rc.got()
			if len(ds) != 1 || len(hits) != 3 {
				t.Fatalf("%d deliveries, %d hits", len(ds), len(hits))
			}
			d := ds[0]
			if !d.Delivered || fmt.Sprint(d.StatusCodes()) != "[503 503 200]" {
				t.Fatalf("delivery %s %v", d.Outcome, d.StatusCodes())
			}
			for i, h := range hits {
				rcount, present := h.header.Get(HeaderIORetryCount), len(h.header.Values(HeaderIORetryCount)) > 0
				if (i == 0 && present) || (i > 0 && rcount != fmt.Sprint(i)) {
					t.Errorf("attempt %d: %s = %q (present %v)", i, HeaderIORetryCount, rcount, present)
				}
				if d.Attempts[i].RetryCount != i {
					t.Errorf("attempt %d recorded as retry %d", i, d.Attempts[i].RetryCount)
				}
				// Same bytes, same event id, same signatures on every attempt.
				if !bytes.Equal(h.body, hits[0].body) || h.header.Get(HeaderIOEventID) != d.EventID ||
					h.header.Get(HeaderIOSignature1) != hits[0].header.Get(HeaderIOSignature1) {
					t.Errorf("attempt %d differs from the first", i)
				}
			}
			var env struct {
				EventID string `json:"event_id"`
			}
			if err := json.Unmarshal(hits[2].body, &env); err != nil || env.EventID != d.EventID {
				t.Errorf("event_id %q, want %q", env.EventID, d.EventID)
			}
		})
	}
}

func TestIOEventsRetryRules(t *testing.T) {
	// ref §6: current = only 429 and 500-599 except 505; legacy = all but 400 and 505.
	retried := map[string]map[int]bool{
		RetryRuleCurrent: {400: false, 401: false, 404: false, 408: false, 301: false, 429: true, 500: true, 502: true, 503: true, 505: false, 599: true, 0: true},
		RetryRuleLegacy:  {400: false, 401: true, 404: true, 408: true, 301: true, 429: true, 500: true, 502: true, 503: true, 505: false, 599: true, 0: true},
	}
	for rule, want := range retried {
		for status, r := range want {
			if got := IOEventsRetryable(rule, status); got != r {
				t.Errorf("%s rule, status %d: retryable %v, want %v", rule, status, got, r)
			}
		}
		for _, ok := range []int{200, 201, 204} {
			if IOEventsRetryable(rule, ok) {
				t.Errorf("%s rule retries success %d", rule, ok)
			}
		}
	}
	// End to end for the statuses where the rules agree or differ.
	for _, c := range []struct {
		rule     string
		status   int
		attempts int
	}{
		{RetryRuleCurrent, 400, 1}, {RetryRuleLegacy, 400, 1},
		{RetryRuleCurrent, 404, 1}, {RetryRuleLegacy, 404, 4},
		{RetryRuleCurrent, 429, 4}, {RetryRuleLegacy, 429, 4},
		{RetryRuleCurrent, 505, 1}, {RetryRuleLegacy, 505, 1},
		{RetryRuleCurrent, 500, 4},
	} {
		t.Run(fmt.Sprintf("%s-%d", c.rule, c.status), func(t *testing.T) {
			rc := newIOReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(c.status) })
			s := ioServer(t, rc.srv.URL, func(cfg *IOEventsConfig) { cfg.RetryRule = c.rule })
			mustPlace(t, s, "default", OrderSpec{})
			d := waitIO(t, s)[0]
			if len(rc.got()) != c.attempts || len(d.Attempts) != c.attempts || d.Delivered || !d.Done {
				t.Fatalf("%d hits, delivery %s %v, want %d attempts", len(rc.got()), d.Outcome, d.StatusCodes(), c.attempts)
			}
			wantOutcome := "gave up after 4 attempts"
			if c.attempts == 1 {
				wantOutcome = fmt.Sprintf("not retried: status %d (%s rule)", c.status, c.rule)
			}
			if d.Outcome != wantOutcome {
				t.Errorf("outcome %q, want %q", d.Outcome, wantOutcome)
			}
		})
	}
}

func TestIOEventsTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	rc := newIOReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	t.Cleanup(func() { close(release) })
	s := ioServer(t, rc.srv.URL, func(c *IOEventsConfig) { c.Timeout = 300 * time.Millisecond })
	mustPlace(t, s, "default", OrderSpec{})
	d := waitIO(t, s)[0]
	// The first attempt hangs and times out; a later one is answered. On a
	// loaded machine a retry may time out too, so only the first and the
	// last attempt are pinned.
	n := len(d.Attempts)
	if !d.Delivered || n < 2 || d.Attempts[0].StatusCode != 0 || !strings.HasPrefix(d.Attempts[0].Error, "timeout after") ||
		d.Attempts[n-1].StatusCode/100 != 2 {
		t.Fatalf("delivery %s %+v", d.Outcome, d.Attempts)
	}
}

func TestIOEventsDropRate(t *testing.T) {
	rc := newIOReceiver(t, statuses())
	s := ioServer(t, rc.srv.URL, func(c *IOEventsConfig) { c.DropRate = 1 })
	mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	ds := waitIO(t, s)
	if len(ds) != 1 || !ds[0].Dropped || ds[0].Outcome != "dropped" || len(ds[0].Attempts) != 0 || len(rc.got()) != 0 {
		t.Fatalf("%+v, %d hits", ds, len(rc.got()))
	}

	rc = newIOReceiver(t, statuses())
	s = ioServer(t, rc.srv.URL, func(c *IOEventsConfig) { c.DropRate = 0.5 })
	for range 40 {
		mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	}
	ds = waitIO(t, s)
	dropped := 0
	for _, d := range ds {
		if d.Dropped {
			dropped++
		}
	}
	if len(ds) != 40 || dropped < 8 || dropped > 32 || len(rc.got()) != 40-dropped {
		t.Fatalf("%d deliveries, %d dropped, %d hits", len(ds), dropped, len(rc.got()))
	}
}

func TestIOEventsChallenge(t *testing.T) {
	echoJSON := func(_ int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"challenge": r.URL.Query().Get("challenge")})
	}
	echoBare := func(_ int, w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Query().Get("challenge"))
	}
	wrong := func(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"challenge":"nope"}`) }
	notFound := func(_ int, w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
	for name, c := range map[string]struct {
		answer func(int, http.ResponseWriter, *http.Request)
		ok     bool
	}{"json": {echoJSON, true}, "bare": {echoBare, true}, "wrong": {wrong, false}, "404": {notFound, false}} {
		t.Run(name, func(t *testing.T) {
			rc := newIOReceiver(t, c.answer)
			s := ioServer(t, rc.srv.URL+"/webhooks/adobe-io?store=uk", nil)
			err := s.ChallengeIOEvents(context.Background())
			if c.ok != (err == nil) || (!c.ok && !errors.Is(err, ErrChallengeFailed)) {
				t.Fatalf("challenge: %v", err)
			}
			hits := rc.got()
			if len(hits) != 1 || !strings.HasPrefix(hits[0].path, "/webhooks/adobe-io?") || !strings.Contains(hits[0].path, "store=uk") ||
				!regexp.MustCompile(`challenge=[0-9a-f]{32}`).MatchString(hits[0].path) {
				t.Fatalf("probe %+v", hits)
			}
			// The same through /_sim/.
			resp, err := http.Post(s.URL()+"/_sim/io-events/challenge", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c.ok != (resp.StatusCode == 200) {
				t.Fatalf("/_sim/io-events/challenge: %d", resp.StatusCode)
			}
		})
	}
	if err := NewTestServer(t, Config{}).ChallengeIOEvents(context.Background()); err == nil {
		t.Fatal("challenge without I/O Events configured")
	}
}

func TestIOEventsInspectAndDefaults(t *testing.T) {
	rc := newIOReceiver(t, statuses(500))
	s := NewTestServer(t, Config{IOEvents: IOEventsConfig{URL: rc.srv.URL, RetrySchedule: []time.Duration{time.Millisecond}}})
	cfg := s.Config().IOEvents
	if cfg.RetryRule != RetryRuleCurrent || cfg.Timeout != 10*time.Second || cfg.ClientID == "" || len(cfg.Keys) != 2 {
		t.Fatalf("defaults %v", cfg)
	}
	if secret := cfg.Keys[0].D.String()[:16]; strings.Contains(fmt.Sprint(cfg), secret) || strings.Contains(fmt.Sprintf("%+v", cfg), secret) {
		t.Errorf("String leaks keys: %s", cfg)
	}
	pems := s.IOEventsPublicKeysPEM()
	if len(pems) != 2 || bytes.Equal(pems[0], pems[1]) || !bytes.HasPrefix(pems[0], []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("generated keys %q", pems)
	}
	mustPlace(t, s, "default", OrderSpec{})
	waitIO(t, s)
	st, b := do(t, mustReq(t, http.MethodGet, s.URL()+"/_sim/io-events"))
	var views []struct {
		EventID     string
		Body        string
		StatusCodes []int
		Delivered   bool
		Outcome     string
	}
	if err := json.Unmarshal(b, &views); err != nil || st != 200 {
		t.Fatalf("%d %s %v", st, b, err)
	}
	if len(views) != 1 || !views[0].Delivered || fmt.Sprint(views[0].StatusCodes) != "[500 200]" || !strings.HasPrefix(views[0].Body, `{"specversion":"1.0"`) {
		t.Fatalf("views %+v", views)
	}

	sched := DefaultIOEventsRetrySchedule()
	var total time.Duration
	for i, d := range sched {
		total += d
		if i > 0 && d != min(2*sched[i-1], 15*time.Minute) {
			t.Fatalf("schedule[%d] = %s after %s", i, d, sched[i-1])
		}
	}
	if sched[0] != time.Minute || sched[4] != 15*time.Minute || total > 24*time.Hour || total+15*time.Minute <= 24*time.Hour {
		t.Fatalf("schedule %v totals %s", sched[:6], total)
	}
}

func mustReq(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestIOEventsCloseAbandonsRetries(t *testing.T) {
	rc := newIOReceiver(t, statuses(503))
	s := New(Config{IOEvents: IOEventsConfig{URL: rc.srv.URL, Keys: ioKeys(), RetrySchedule: []time.Duration{time.Hour}}})
	mustPlace(t, s, "default", OrderSpec{})
	deadline := time.Now().Add(5 * time.Second)
	for len(rc.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s.Close() // must not wait an hour
	ds := waitIO(t, s)
	if len(ds) != 1 || ds[0].Delivered || ds[0].Outcome != "abandoned: simulator closed" || len(ds[0].Attempts) != 1 {
		t.Fatalf("%+v", ds)
	}
}

func TestIOEventsOnlyForCommittedOrdersAndAlongsideWebhooks(t *testing.T) {
	hook := newReceiver(t, func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	rc := newIOReceiver(t, statuses())
	s := NewTestServer(t, Config{
		Webhooks: WebhookConfig{BaseURL: hook.srv.URL, Required: true},
		IOEvents: IOEventsConfig{URL: rc.srv.URL, Keys: ioKeys(), RetrySchedule: []time.Duration{}},
	})
	if _, err := s.PlaceOrder(context.Background(), "default", OrderSpec{}); !errors.Is(err, ErrCheckoutAborted) {
		t.Fatalf("place: %v", err)
	}
	if ds := waitIO(t, s); len(ds) != 0 {
		t.Fatalf("aborted checkout sent %d I/O events", len(ds))
	}

	hook = newReceiver(t, okAnswer)
	s = NewTestServer(t, Config{
		Webhooks: WebhookConfig{BaseURL: hook.srv.URL, Required: true},
		IOEvents: IOEventsConfig{URL: rc.srv.URL, Keys: ioKeys()},
	})
	o := mustPlace(t, s, "default", OrderSpec{})
	ds := waitIO(t, s)
	if len(hook.got()) != 1 || len(ds) != 1 || ds[0].Key != o.IncrementID || !o.Delivery.Success {
		t.Fatalf("%d webhooks, %d I/O events", len(hook.got()), len(ds))
	}
}

func TestCustomerAddressRegionIsAnObject(t *testing.T) {
	s := NewTestServer(t, Config{})
	addr := &Address{Firstname: "Ann", Lastname: "Lee", Street: []string{"1 Main St"}, City: "Austin", Region: "Texas", RegionCode: "TX",
		RegionID: 57, Postcode: "78701", CountryID: "US", Telephone: "555-0000"}
	c, err := s.RegisterCustomer(context.Background(), "default", CustomerSpec{Email: "ann@example.com", Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	st, b := call(t, s, "GET", "/V1/customers/"+itoa(c.ID), nil, nil)
	if st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	lr := list(t, s, "/V1/customers/search", nil)
	for _, cu := range []map[string]any{decode(t, b), lr.Items[0]} {
		a := cu["addresses"].([]any)[0].(map[string]any)
		region, ok := a["region"].(map[string]any)
		if !ok || region["region_code"] != "TX" || region["region"] != "Texas" || region["region_id"] != float64(57) || a["region_id"] != float64(57) {
			t.Fatalf("customer address region %#v", a["region"])
		}
		if _, ok := a["address_type"]; ok {
			t.Errorf("customer address has address_type: %v", a)
		}
		if a["customer_id"] != float64(c.ID) || a["default_billing"] != true {
			t.Errorf("customer address %v", a)
		}
	}
	// The order address keeps its plain string region.
	o := mustPlace(t, s, "default", OrderSpec{CustomerID: c.ID, Address: addr})
	st, b = call(t, s, "GET", "/V1/orders/"+itoa(o.EntityID), nil, nil)
	if st != 200 {
		t.Fatalf("%d", st)
	}
	if r := decode(t, b)["billing_address"].(map[string]any)["region"]; r != "Texas" {
		t.Fatalf("order address region %#v", r)
	}
}
