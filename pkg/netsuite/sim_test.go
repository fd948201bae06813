package netsuite

// The client against the NetSuite simulator (pkg/sim/netsuitesim) in what
// only the simulator can set up: algorithms and keys, concurrency, dropped
// connections, OneWorld, the 401 quirk, duplicate-line hazards. The
// documented shapes are covered by the conformance suite
// (netsuitetest.RunConformance) against both the simulator and the reference
// transcript. Every test starts its own simulator.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/retry"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

const (
	simClientID = "mlc-client"
	simCertID   = "cert-1"
)

// simEnv starts a simulator with key's certificate registered as simCertID.
func simEnv(t *testing.T, cfg netsuitesim.Config, key crypto.Signer) (*netsuitesim.Server, Credentials) {
	t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID = simClientID
	}
	s := netsuitesim.NewTestServer(t, cfg)
	s.RegisterCertificate(simCertID, key.Public())
	return s, Credentials{AccountID: "1234567", ClientID: cfg.ClientID, CertificateID: simCertID, PrivateKeyPEM: pkcs8PEM(t, key)}
}

func simClient(t *testing.T, s *netsuitesim.Server, creds Credentials, opts ...Option) *Client {
	t.Helper()
	c, err := New(creds, append([]Option{WithBaseURL(s.URL())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func customerBody(first string) map[string]any {
	return map[string]any{"isPerson": true, "firstName": first, "lastName": "Lee",
		"email": strings.ToLower(first) + "@example.com", "subsidiary": map[string]any{"id": "1"}}
}

func orderBody(customerID string, items ...string) map[string]any {
	lines := []any{}
	for _, it := range items {
		lines = append(lines, map[string]any{"item": map[string]any{"id": it}, "quantity": 2, "rate": 19.99})
	}
	return map[string]any{"entity": map[string]any{"id": customerID}, "subsidiary": map[string]any{"id": "1"},
		"tranDate": "2024-05-01", "otherRefNum": "000001234", "orderStatus": "B", "item": map[string]any{"items": lines}}
}

func TestSimTokenAlgorithms(t *testing.T) {
	rsa3072 := func() crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, 3072) // NetSuite's minimum; slow, so once
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tests := []struct {
		name string
		key  func() crypto.Signer
		alg  string
	}{
		{"PS256 rsa2048", func() crypto.Signer { return keys.rsa }, "PS256"},
		{"PS256 rsa3072", rsa3072, "PS256"},
		{"ES256", func() crypto.Signer { return keys.p256 }, "ES256"},
		{"ES384", func() crypto.Signer { return keys.p384 }, "ES384"},
		{"ES512", func() crypto.Signer { return keys.p521 }, "ES512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, creds := simEnv(t, netsuitesim.Config{}, tt.key())
			c := simClient(t, s, creds)
			if c.Algorithm() != tt.alg {
				t.Fatalf("alg %s", c.Algorithm())
			}
			var item struct {
				ID     string `json:"id"`
				ItemID string `json:"itemId"`
			}
			if err := c.Get(ctxT(t), "inventoryItem", "101", &item); err != nil {
				t.Fatalf("Get with a %s token: %v", tt.alg, err)
			}
			if item.ID != "101" {
				t.Fatalf("item = %+v", item)
			}
			if st := s.Stats(); st.TokenRequests != 1 || st.TokensIssued != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestSimTokenReuseAndRefresh(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{TokenLifetime: time.Second}, keys.p256)
	c := simClient(t, s, creds)
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		if _, err := c.GovernanceLimits(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Stats().TokenRequests; n != 1 {
		t.Fatalf("token requests = %d, want 1 (reuse)", n)
	}
	// Past half the 1 s lifetime the client renews before the token expires.
	time.Sleep(600 * time.Millisecond)
	if _, err := c.GovernanceLimits(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().TokenRequests; n != 2 {
		t.Fatalf("token requests = %d, want 2 (proactive renewal)", n)
	}
	for _, r := range s.Requests() {
		if r.Status == http.StatusUnauthorized {
			t.Fatalf("renewal should have avoided a 401: %+v", r)
		}
	}
}

func TestSimSingleFlightToken(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
	c := simClient(t, s, creds, WithLimiter(NewLimiter(4)))
	ctx := ctxT(t)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Get(ctx, "inventoryItem", "102", nil, Fields("id")); err != nil {
				t.Error(err)
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.TokenRequests != 1 || failed.Load() != 0 {
		t.Fatalf("token requests = %d (want 1), failures %d", st.TokenRequests, failed.Load())
	}
	if peak := s.Stats().PeakInFlight; peak > 4 {
		t.Fatalf("peak in flight %d exceeds the limiter's 4", peak)
	}
}

func TestSimAuthErrorsSayWhich(t *testing.T) {
	t.Parallel()
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		edit      func(*Credentials)
		mention   []string
		tokenReqs int
	}{
		{"wrong kid", func(c *Credentials) { c.CertificateID = "cert-unknown" }, []string{`"cert-unknown"`, "certificate ID", "sandbox refresh"}, 1},
		{"wrong key", func(c *Credentials) { c.PrivateKeyPEM = pkcs8PEM(t, other) }, []string{"signature", "private key", "ES256"}, 2},
		{"wrong client id", func(c *Credentials) { c.ClientID = "app-id-not-client-id" }, []string{`"app-id-not-client-id"`, "client ID"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
			tt.edit(&creds)
			c := simClient(t, s, creds)
			err := c.Get(ctxT(t), "inventoryItem", "101", nil)
			if !errors.Is(err, ErrAuthConfig) || Classify(err) != ClassConfig || IsRetryable(err) {
				t.Fatalf("err = %v (class %v)", err, Classify(err))
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message lacks %q: %v", m, err)
				}
			}
			// A second call within the hold-off does not ask again.
			if err2 := c.Get(ctxT(t), "inventoryItem", "101", nil); !errors.Is(err2, ErrAuthConfig) {
				t.Errorf("second call: %v", err2)
			}
			if n := s.Stats().TokenRequests; n != tt.tokenReqs {
				t.Errorf("token requests = %d, want %d (no spinning)", n, tt.tokenReqs)
			}
			if s.Stats().Requests != 0 {
				t.Error("an API call went out without a token")
			}
		})
	}
}

func TestSimUpsertCustomerAndReadBack(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{OneWorld: true}, keys.p256)
	c := simClient(t, s, creds)
	ctx := ctxT(t)
	id1, err := c.Upsert(ctx, TypeCustomer, "mlc-cust-default-5521", customerBody("Ann"))
	if err != nil {
		t.Fatal(err)
	}
	id2, err := c.Upsert(ctx, TypeCustomer, "mlc-cust-default-5521", customerBody("Ann"))
	if err != nil || id2 != id1 {
		t.Fatalf("second upsert: %q %v, want %q", id2, err, id1)
	}
	if n := len(s.Records("customer")); n != 1 {
		t.Fatalf("customers = %d", n)
	}
	var cust struct {
		ID        string `json:"id"`
		FirstName string `json:"firstName"`
		Email     string `json:"email"`
	}
	if err := c.GetByExternalID(ctx, TypeCustomer, "mlc-cust-default-5521", &cust); err != nil || cust.ID != id1 || cust.FirstName != "Ann" {
		t.Fatalf("GetByExternalID = %+v %v", cust, err)
	}
	// OneWorld: a customer without subsidiary is refused, permanently.
	noSub := customerBody("Bob")
	delete(noSub, "subsidiary")
	_, err = c.Upsert(ctx, TypeCustomer, "mlc-cust-default-1", noSub)
	if !errors.Is(err, ErrBadRequest) || IsRetryable(err) {
		t.Fatalf("no subsidiary: %v", err)
	}
	// Writes carry the validation header; an unknown field fails.
	for _, r := range s.Requests() {
		if r.Method == http.MethodPut && http.Header(r.Header).Get("X-NetSuite-PropertyNameValidation") != "Error" {
			t.Fatalf("PUT without X-NetSuite-PropertyNameValidation: Error: %v", r.Header)
		}
	}
	bad := customerBody("Cy")
	bad["favouriteColour"] = "blue"
	if _, err := c.Upsert(ctx, TypeCustomer, "mlc-cust-default-2", bad); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("unknown field: %v", err)
	}
	if _, err := c.Upsert(ctx, TypeCustomer, "bad|id", customerBody("Di")); !errors.Is(err, ErrInvalidExternalID) {
		t.Fatalf("bad external id: %v", err)
	}
}

func TestSimUpsertTransactionOnce(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
	c := simClient(t, s, creds)
	ctx := ctxT(t)
	cust, err := c.Upsert(ctx, TypeCustomer, "mlc-cust-default-1", customerBody("Ann"))
	if err != nil {
		t.Fatal(err)
	}
	body := orderBody(cust, "101", "104")
	id1, created, err := c.UpsertTransaction(ctx, TypeSalesOrder, "mlc-so-default-000001234", body)
	if err != nil || !created {
		t.Fatalf("first: %q %v %v", id1, created, err)
	}
	id2, created, err := c.UpsertTransaction(ctx, TypeSalesOrder, "mlc-so-default-000001234", body)
	if err != nil || created || id2 != id1 {
		t.Fatalf("second: %q created=%v %v", id2, created, err)
	}
	// Upsert with Replace("item") twice also keeps the lines once.
	for i := 0; i < 2; i++ {
		if _, err := c.Upsert(ctx, TypeSalesOrder, "mlc-so-default-000001234", body, Replace("item")); err != nil {
			t.Fatal(err)
		}
	}
	recs := s.Records("salesOrder")
	if len(recs) != 1 || recs[0].ID != id1 {
		t.Fatalf("sales orders = %+v", recs)
	}
	if n := countLines(t, recs[0]); n != 2 {
		t.Fatalf("lines = %d, want 2", n)
	}
	if d := s.Stats().DuplicateExternalIDs; len(d) != 0 {
		t.Fatalf("duplicates %v", d)
	}
	// The hazard UpsertTransaction avoids: a plain PUT on an existing order
	// appends its lines again (ref §4.3).
	for i := 0; i < 2; i++ {
		if _, err := c.Upsert(ctx, TypeSalesOrder, "mlc-so-default-hazard", body); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range s.Records("salesOrder") {
		if r.ExternalID == "mlc-so-default-hazard" && countLines(t, r) != 4 {
			t.Fatalf("plain PUT twice: %d lines, want the documented 4", countLines(t, r))
		}
	}
}

func countLines(t *testing.T, r netsuitesim.Record) int {
	t.Helper()
	item, _ := r.Fields["item"].(map[string]any)
	items, _ := item["items"].([]any)
	if item == nil {
		t.Fatalf("record has no item sublist: %v", r.Fields)
	}
	return len(items)
}

// dropFirstPUT makes the simulator apply the first PUT and then drop the
// connection: the ambiguous outcome of ref §4.3 step 5.
type dropFirstPUT struct {
	s    *netsuitesim.Server
	once sync.Once
	// kind is the fault of that first PUT (default FaultDropAfterWrite).
	kind netsuitesim.FaultKind
}

func (d *dropFirstPUT) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		kind := d.kind
		if kind == 0 {
			kind = netsuitesim.FaultDropAfterWrite
		}
		d.once.Do(func() { d.s.FailNext(r.URL.Path, 1, kind) })
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestSimUpsertTransactionAmbiguousWrite(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
	setup := simClient(t, s, creds)
	ctx := ctxT(t)
	cust, err := setup.Upsert(ctx, TypeCustomer, "mlc-cust-default-1", customerBody("Ann"))
	if err != nil {
		t.Fatal(err)
	}
	c := simClient(t, s, creds, WithHTTPClient(&http.Client{Transport: &dropFirstPUT{s: s}}))
	// Plain put: the dropped answer is ambiguous, not a failure.
	_, err = c.put(ctx, TypeSalesOrder, "mlc-so-default-7", orderBody(cust, "101"), nil)
	if !errors.Is(err, ErrAmbiguous) || Classify(err) != ClassAmbiguous {
		t.Fatalf("dropped PUT: %v", err)
	}
	// UpsertTransaction after a drop goes back to the lookup, never re-sends.
	c2 := simClient(t, s, creds, WithHTTPClient(&http.Client{Transport: &dropFirstPUT{s: s}}))
	id, created, err := c2.UpsertTransaction(ctx, TypeSalesOrder, "mlc-so-default-8", orderBody(cust, "101", "102"))
	if err != nil || !created || id == "" {
		t.Fatalf("UpsertTransaction = %q %v %v", id, created, err)
	}
	puts := 0
	for _, r := range s.Requests() {
		if r.Method == http.MethodPut && strings.HasSuffix(r.Path, "eid:mlc-so-default-8") {
			puts++
		}
	}
	if puts != 1 {
		t.Fatalf("PUTs for the order = %d, want 1", puts)
	}
	for _, r := range s.Records("salesOrder") {
		if r.ExternalID == "mlc-so-default-8" && countLines(t, r) != 2 {
			t.Fatalf("lines = %d", countLines(t, r))
		}
	}
}

func TestSimCreatePatchTransform(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
	c := simClient(t, s, creds)
	ctx := ctxT(t)
	custID, err := c.Create(ctx, TypeCustomer, customerBody("Eve"))
	if err != nil || custID == "" {
		t.Fatalf("Create = %q %v", custID, err)
	}
	if err := c.Patch(ctx, TypeCustomer, custID, map[string]any{"phone": "555-0100"}); err != nil {
		t.Fatal(err)
	}
	var cust struct {
		Phone string `json:"phone"`
	}
	if err := c.Get(ctx, TypeCustomer, custID, &cust); err != nil || cust.Phone != "555-0100" {
		t.Fatalf("after patch %+v %v", cust, err)
	}
	soID, _, err := c.UpsertTransaction(ctx, TypeSalesOrder, "mlc-so-default-9", orderBody(custID, "101", "102"))
	if err != nil {
		t.Fatal(err)
	}
	invID, err := c.TransformToInvoice(ctx, soID, map[string]any{"externalId": "mlc-inv-default-9"})
	if err != nil || invID == "" {
		t.Fatalf("transform = %q %v", invID, err)
	}
	var inv struct {
		ID          string `json:"id"`
		CreatedFrom struct {
			ID string `json:"id"`
		} `json:"createdFrom"`
	}
	if err := c.Get(ctx, TypeInvoice, invID, &inv); err != nil || inv.CreatedFrom.ID != soID {
		t.Fatalf("invoice = %+v %v", inv, err)
	}
	if id, err := c.LookupID(ctx, TypeInvoice, "mlc-inv-default-9"); err != nil || id != invID {
		t.Fatalf("invoice by eid: %q %v", id, err)
	}
	if err := c.Get(ctx, TypeSalesOrder, "999999", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
}

func TestSim5xxAnd429Retryable(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{ConcurrencyLimit: 1, Latency: 50 * time.Millisecond}, keys.p256)
	ctx := ctxT(t)
	c := simClient(t, s, creds)
	s.FailNext("record/v1/inventoryItem", 1, netsuitesim.Fault500)
	err := c.Get(ctx, "inventoryItem", "101", nil)
	if !errors.Is(err, ErrServer) || !IsRetryable(err) {
		t.Fatalf("500: %v", err)
	}
	// Our limiter allows 4, the account 1: some calls get 429.
	lim := NewLimiter(4)
	c = simClient(t, s, creds, WithLimiter(lim))
	var wg sync.WaitGroup
	var throttled atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Get(ctx, "inventoryItem", "101", nil)
			switch {
			case err == nil:
			case errors.Is(err, ErrConcurrencyLimit) && IsRetryable(err):
				throttled.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if throttled.Load() == 0 || s.Stats().Throttled == 0 {
		t.Fatal("no 429 seen; the test does not exercise throttling")
	}
	if lim.Limit() >= 4 {
		t.Fatalf("limiter did not shrink after 429s: %d", lim.Limit())
	}
	// With retries, every call gets through.
	policy := retry.Policy{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond, MaxAttempts: 20, Retryable: IsRetryable}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := retry.Do(ctx, policy, func(ctx context.Context, _ int) error {
				return c.Get(ctx, "inventoryItem", "101", nil)
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestSimSuiteQLPaging(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
	for i := 0; i < 2500; i++ {
		s.AddItem(netsuitesim.Item{ID: strconv.Itoa(1000 + i), ItemID: fmt.Sprintf("BULK-%04d", i), DisplayName: "Bulk", Type: "InvtPart"})
	}
	c := simClient(t, s, creds)
	ctx := ctxT(t)
	total := len(s.Items())
	before := s.Stats().Requests
	var last int64
	seen := 0
	err := c.QueryKeyset(ctx, "SELECT id, itemid, itemtype, isinactive FROM item WHERE id > ? ORDER BY id", nil, func(r Row) error {
		id, err := r.Int64("id")
		if err != nil {
			return err
		}
		if id <= last {
			return fmt.Errorf("ids not ascending: %d after %d", id, last)
		}
		if _, err := r.Bool("isinactive"); err != nil {
			return err
		}
		last = id
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != total || total < 2510 {
		t.Fatalf("keyset saw %d of %d", seen, total)
	}
	if pages := s.Stats().Requests - before; pages != (total+999)/1000 {
		t.Fatalf("keyset pages = %d", pages)
	}
	// Offset paging: same rows, offsets multiples of the limit.
	seen = 0
	if err := c.QueryAll(ctx, "SELECT id FROM item ORDER BY id", nil, func(Row) error { seen++; return nil }, Limit(500)); err != nil {
		t.Fatal(err)
	}
	if seen != total {
		t.Fatalf("offset paging saw %d of %d", seen, total)
	}
	// Bound parameters, typed helpers.
	page, err := c.SuiteQL(ctx, "SELECT id, itemid FROM item WHERE itemid = ?", []string{"WB04"})
	if err != nil || len(page.Items) != 1 || page.Items[0].String("id") != "104" {
		t.Fatalf("bound query: %+v %v", page, err)
	}
	if _, err := c.SuiteQL(ctx, "SELECT id FROM item", nil, Limit(1000), Offset(500)); err == nil {
		t.Fatal("offset not a multiple of limit accepted")
	}
	if _, err := c.SuiteQL(ctx, "SELECT id FROM item", nil, Offset(100000)); !errors.Is(err, ErrResultCap) {
		t.Fatalf("cap: %v", err)
	}
}

func TestSimAccountQueries(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{OneWorld: true, GovernanceLimits: netsuitesim.GovernanceLimits{
		AccountConcurrencyLimit: 15, AccountUnallocatedConcurrencyLimit: 10, IntegrationConcurrencyLimit: 3,
		IntegrationLimitType: "integrationSpecific"}}, keys.p256)
	c := simClient(t, s, creds)
	ctx := ctxT(t)
	gl, err := c.GovernanceLimits(ctx)
	if err != nil || gl.AccountConcurrencyLimit != 15 || gl.IntegrationConcurrencyLimit != 3 || gl.IntegrationLimitType != "integrationSpecific" {
		t.Fatalf("governance = %+v %v", gl, err)
	}
	if n := ConcurrencyFor(10, &gl); n != 3 {
		t.Fatalf("ConcurrencyFor = %d", n)
	}
	subs, err := c.ListSubsidiaries(ctx)
	if err != nil || len(subs) != 3 || subs[0].ID != "1" || subs[0].Name == "" {
		t.Fatalf("subsidiaries = %+v %v", subs, err)
	}
	if ow, err := c.IsOneWorld(ctx); err != nil || !ow {
		t.Fatalf("IsOneWorld = %v %v", ow, err)
	}
	for i, sub := range []string{"2", "1"} {
		b := customerBody("Ann")
		b["email"] = "Ann@Example.com"
		b["subsidiary"] = map[string]any{"id": sub}
		if _, err := c.Upsert(ctx, TypeCustomer, fmt.Sprintf("mlc-cust-default-%d", i), b); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.FindCustomerByEmail(ctx, "ann@example.COM", "1")
	if err != nil || got.Subsidiary != "1" || got.Candidates != 2 {
		t.Fatalf("FindCustomerByEmail = %+v %v", got, err)
	}
	if _, err := c.FindCustomerByEmail(ctx, "nobody@example.com", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no match: %v", err)
	}
}

func TestSim401UnderLoadIsThrottling(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{ConcurrencyLimit: 1, Latency: 400 * time.Millisecond,
		Quirk401: true, Quirk401Delay: 150 * time.Millisecond}, keys.p256)
	ctx := ctxT(t)
	lim := NewLimiter(3)
	c := simClient(t, s, creds, WithLimiter(lim), WithSlowThreshold(100*time.Millisecond))
	if err := c.Token(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var underLoad, other atomic.Int32
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Get(ctx, "inventoryItem", "101", nil)
			switch {
			case err == nil:
			case errors.Is(err, ErrConcurrencyLimit) && IsRetryable(err):
				underLoad.Add(1)
			default:
				t.Errorf("unexpected: %v (class %v)", err, Classify(err))
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	if s.Stats().Throttled == 0 {
		t.Fatal("simulator throttled nothing; the test does not exercise the quirk")
	}
	if underLoad.Load() == 0 {
		t.Fatal("no 401 was recognised as throttling")
	}
}

// TestSimAuthFailureModes wraps the simulator to answer what it
// cannot be configured to: a role that is refused with a fresh token, and a
// token endpoint that fails with 5xx.
func TestSimAuthFailureModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		override  func(w http.ResponseWriter, r *http.Request) bool
		check     func(error) bool
		tokenReqs int32
	}{
		{"401 with a fresh token is permanent", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/record/") {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"status":401,"o:errorDetails":[{"detail":"Invalid login attempt.","o:errorCode":"INVALID_LOGIN"}]}`)
				return true
			}
			return false
		}, func(err error) bool {
			return errors.Is(err, ErrUnauthorized) && !errors.Is(err, ErrConcurrencyLimit) && Classify(err) == ClassPermanent
		}, 2},
		{"token 500 twice is configuration", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/token") {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error":"server_error"}`)
				return true
			}
			return false
		}, func(err error) bool {
			return errors.Is(err, ErrAuthConfig) && strings.Contains(err.Error(), "server_error")
		}, 2},
		{"token 503 is retryable", func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "/token") {
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			}
			return false
		}, func(err error) bool { return IsRetryable(err) && !errors.Is(err, ErrAuthConfig) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
			var tokenReqs atomic.Int32
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/token") {
					tokenReqs.Add(1)
				}
				if !tt.override(w, r) {
					s.ServeHTTP(w, r)
				}
			}))
			defer front.Close()
			s.SetBaseURL(front.URL) // aud must match the front's token URL
			c, err := New(creds, WithBaseURL(front.URL))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Get(ctxT(t), "inventoryItem", "101", nil)
			if !tt.check(err) {
				t.Fatalf("err = %v (class %v)", err, Classify(err))
			}
			if n := tokenReqs.Load(); n != tt.tokenReqs {
				t.Fatalf("token requests = %d, want %d", n, tt.tokenReqs)
			}
		})
	}
}

// A strict NetSuite commits a write and then answers 500. Retrying a
// transform or a POST create on that 500 is not safe: the repeat makes a
// second invoice (or is refused because the record exists). A 500 on a
// write is an unknown outcome, like a dropped connection: reconcile first.
func TestSim500AfterCommitIsAmbiguous(t *testing.T) {
	t.Parallel()
	s, creds := simEnv(t, netsuitesim.Config{}, keys.p256)
	c := simClient(t, s, creds)
	ctx := ctxT(t)
	cust, err := c.Upsert(ctx, TypeCustomer, "mlc-cust-default-500", customerBody("Kim"))
	if err != nil {
		t.Fatal(err)
	}
	soID, _, err := c.UpsertTransaction(ctx, TypeSalesOrder, "mlc-so-default-500", orderBody(cust, "101"))
	if err != nil {
		t.Fatal(err)
	}

	// Transform: committed, then 500.
	s.FailNext("record/v1/salesOrder/"+soID+"/!transform", 1, netsuitesim.Fault500AfterWrite)
	policy := retry.Policy{Base: time.Millisecond, Cap: 5 * time.Millisecond, MaxAttempts: 3, Retryable: IsRetryable}
	err = retry.Do(ctx, policy, func(ctx context.Context, _ int) error {
		_, err := c.TransformToInvoice(ctx, soID, map[string]any{})
		return err
	})
	if !errors.Is(err, ErrAmbiguous) || Classify(err) != ClassAmbiguous || IsRetryable(err) || !errors.Is(err, ErrServer) {
		t.Fatalf("500 after a committed transform: %v (class %v)", err, Classify(err))
	}
	if n := len(s.Records("invoice")); n != 1 {
		t.Fatalf("invoices = %d: a 500 on a transform was retried blindly", n)
	}

	// POST create: committed, then 500; a blind repeat would make a second customer.
	s.FailNext("record/v1/customer", 1, netsuitesim.Fault500AfterWrite)
	before := len(s.Records("customer"))
	err = retry.Do(ctx, policy, func(ctx context.Context, _ int) error {
		_, err := c.Create(ctx, TypeCustomer, customerBody("Lou"))
		return err
	})
	if Classify(err) != ClassAmbiguous || IsRetryable(err) {
		t.Fatalf("500 after a committed create: %v (class %v)", err, Classify(err))
	}
	if n := len(s.Records("customer")) - before; n != 1 {
		t.Fatalf("customers created = %d", n)
	}

	// UpsertTransaction reconciles a committed-then-500 PUT by eid: one
	// order, one PUT, its lines once.
	c500 := simClient(t, s, creds, WithHTTPClient(&http.Client{Transport: &dropFirstPUT{s: s, kind: netsuitesim.Fault500AfterWrite}}))
	id, created, err := c500.UpsertTransaction(ctx, TypeSalesOrder, "mlc-so-default-501", orderBody(cust, "101", "102"))
	if err != nil || !created || id == "" {
		t.Fatalf("UpsertTransaction after a committed 500 = %q %v %v", id, created, err)
	}
	puts := 0
	for _, r := range s.Requests() {
		if r.Method == http.MethodPut && strings.HasSuffix(r.Path, "eid:mlc-so-default-501") {
			puts++
		}
	}
	for _, r := range s.Records("salesOrder") {
		if r.ExternalID == "mlc-so-default-501" && (countLines(t, r) != 2 || puts != 1) {
			t.Fatalf("lines %d, PUTs %d", countLines(t, r), puts)
		}
	}

	// Reads stay retryable on a 500: nothing was written.
	s.FailNext("record/v1/inventoryItem", 1, netsuitesim.Fault500)
	if err := c.Get(ctx, "inventoryItem", "101", nil); !IsRetryable(err) || errors.Is(err, ErrAmbiguous) {
		t.Fatalf("500 on a read: %v", err)
	}
}

// When NetSuite sends Location on a PUT upsert, the id is taken from it and
// not read back: one call per write instead of two.
func TestSimUpsertTakesIDFromLocation(t *testing.T) {
	t.Parallel()
	for _, withLocation := range []bool{false, true} {
		s, creds := simEnv(t, netsuitesim.Config{UpsertSetsLocation: withLocation}, keys.p256)
		c := simClient(t, s, creds)
		ctx := ctxT(t)
		cust, err := c.Upsert(ctx, TypeCustomer, "mlc-cust-default-loc", customerBody("Ida"))
		if err != nil {
			t.Fatal(err)
		}
		soID, created, err := c.UpsertTransaction(ctx, TypeSalesOrder, "mlc-so-default-loc", orderBody(cust, "101"))
		if err != nil || !created {
			t.Fatalf("UpsertTransaction = %q %v %v", soID, created, err)
		}
		var gets, puts int
		for _, r := range s.Requests() {
			switch r.Method {
			case http.MethodGet:
				gets++
			case http.MethodPut:
				puts++
			}
		}
		// Without Location: customer PUT+GET, order GET(404)+PUT+GET.
		wantGets := 3
		if withLocation {
			wantGets = 1 // only the order's existence check
		}
		if puts != 2 || gets != wantGets {
			t.Errorf("Location %v: %d PUTs, %d GETs; want 2, %d", withLocation, puts, gets, wantGets)
		}
		for _, r := range s.Records(TypeSalesOrder) {
			if r.ExternalID == "mlc-so-default-loc" && r.ID != soID {
				t.Errorf("id %q, record %q", soID, r.ID)
			}
		}
		for _, r := range s.Records(TypeCustomer) {
			if r.ExternalID == "mlc-cust-default-loc" && r.ID != cust {
				t.Errorf("customer id %q, record %q", cust, r.ID)
			}
		}
	}
}
