package netsuitetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/netsuite"
)

// RunConformance runs the whole suite against backends made by newBackend.
// Every test starts its own backend and runs in parallel.
func RunConformance(t *testing.T, newBackend NewBackend) {
	tests := []struct {
		name string
		opts Options
		fn   func(*testing.T, *env)
	}{
		{"TokenExchange/expires_in_number/Bearer", Options{}, testTokenExchange},
		{"TokenExchange/expires_in_string/Bearer", Options{ExpiresInString: true}, testTokenExchange},
		{"TokenExchange/expires_in_number/bearer", Options{LowercaseTokenType: true}, testTokenExchange},
		{"TokenExchange/expires_in_string/bearer", Options{ExpiresInString: true, LowercaseTokenType: true}, testTokenExchange},
		{"TokenRenewalAfter401", Options{}, testTokenRenewal},
		{"GovernanceLimits", Options{}, testGovernance},
		{"CreatePatchGet", Options{}, testCreatePatchGet},
		{"UpsertReadBack", Options{}, testUpsertReadBack},
		{"SalesOrder/enums_as_strings", Options{}, testSalesOrder},
		{"SalesOrder/enums_as_objects", Options{EnumsAsObjects: true}, testSalesOrder},
		{"NotFound", Options{}, testNotFound},
		{"InvalidContent", Options{}, testInvalidContent},
		{"ConcurrencyLimit429", Options{}, testConcurrencyLimit},
		{"UnexpectedError500", Options{}, testUnexpectedError},
		{"ExternalIDCharset", Options{}, testExternalIDCharset},
		{"SuiteQLPage", Options{}, testSuiteQLPage},
		{"SuiteQLKeyset", Options{}, testSuiteQLKeyset},
		{"SuiteQLOffsetLinks", Options{}, testSuiteQLOffsetLinks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, ok := newBackend(t, tt.opts)
			if !ok {
				t.Skipf("the backend does not produce %+v", tt.opts)
			}
			e := newEnv(t, b, tt.opts)
			tt.fn(t, e)
			checkWire(t, e.rec)
		})
	}
}

// env is one test's backend and a client recording its traffic.
type env struct {
	b    *Backend
	opts Options
	rec  *recorder
	c    *netsuite.Client
	ctx  context.Context
}

func newEnv(t *testing.T, b *Backend, opts Options) *env {
	t.Helper()
	rec := &recorder{next: http.DefaultTransport}
	c, err := netsuite.New(b.Credentials, netsuite.WithBaseURL(b.BaseURL),
		netsuite.WithHTTPClient(&http.Client{Transport: rec}), netsuite.WithTimeouts(20*time.Second, 20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &env{b: b, opts: opts, rec: rec, c: c, ctx: ctx}
}

// upsertCustomer writes the customer of ref §6 and returns its id.
func (e *env) upsertCustomer(t *testing.T) string {
	t.Helper()
	id, err := e.c.Upsert(e.ctx, netsuite.TypeCustomer, CustomerExternalID, CustomerBody(e.b.Fixture.SubsidiaryID))
	if err != nil || id == "" {
		t.Fatalf("Upsert customer = %q, %v", id, err)
	}
	return id
}

// asError unwraps a *netsuite.Error or fails.
func asError(t *testing.T, err error) *netsuite.Error {
	t.Helper()
	var e *netsuite.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *netsuite.Error", err, err)
	}
	return e
}

// testTokenExchange: §2.1 assertion, §2.2 request and both response forms,
// token reuse.
func testTokenExchange(t *testing.T, e *env) {
	for i := 0; i < 3; i++ {
		if _, err := e.c.GovernanceLimits(e.ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	toks := e.rec.tokens()
	if len(toks) != 1 {
		t.Fatalf("token requests = %d, want 1 (the token is cached for expires_in)", len(toks))
	}
	tr := toks[0]
	if tr.Method != http.MethodPost || tr.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("token request %s Content-Type %q", tr.Method, tr.Header.Get("Content-Type"))
	}
	if tr.Header.Get("Authorization") != "" {
		t.Error("token request carries an Authorization header (no Basic, no secret in this flow)")
	}
	form, err := url.ParseQuery(string(tr.Body))
	if err != nil {
		t.Fatalf("token form %q: %v", tr.Body, err)
	}
	if len(form) != 3 || form.Get("grant_type") != "client_credentials" ||
		form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		t.Errorf("token form fields %v", form)
	}
	hdr, claims, ok := jwtParts(form.Get("client_assertion"))
	if !ok {
		t.Fatalf("client_assertion is not a compact JWT")
	}
	allowed := map[any]bool{"PS256": true, "PS384": true, "PS512": true, "ES256": true, "ES384": true, "ES512": true} // never RS256
	if hdr["typ"] != "JWT" || hdr["kid"] != e.b.Credentials.CertificateID || !allowed[hdr["alg"]] {
		t.Errorf("assertion header %v", hdr)
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if claims["iss"] != e.b.Credentials.ClientID || claims["aud"] != e.c.TokenURL() || claims["scope"] != "rest_webservices" ||
		exp <= iat || exp-iat >= 3600 {
		t.Errorf("assertion claims %v", claims)
	}
	if !strings.HasSuffix(e.c.TokenURL(), tokenPath) || !strings.HasPrefix(e.c.TokenURL(), strings.TrimRight(e.b.BaseURL, "/")) {
		t.Errorf("token URL %s", e.c.TokenURL())
	}
	// The answer has the form this variant asked for, no refresh token.
	if tr.Status != http.StatusOK {
		t.Fatalf("token answer %d %s", tr.Status, tr.RespBody)
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(tr.RespBody, &resp); err != nil {
		t.Fatalf("token answer %s: %v", tr.RespBody, err)
	}
	if _, has := resp["refresh_token"]; has {
		t.Error("token answer has a refresh_token; the M2M flow has none")
	}
	wantExp := `3600`
	if e.opts.ExpiresInString {
		wantExp = `"3600"`
	}
	wantType := `"Bearer"`
	if e.opts.LowercaseTokenType {
		wantType = `"bearer"`
	}
	if string(resp["expires_in"]) != wantExp || string(resp["token_type"]) != wantType || len(resp["access_token"]) < 3 {
		t.Errorf("token answer %s, want expires_in %s token_type %s", tr.RespBody, wantExp, wantType)
	}
}

// testTokenRenewal: §2.3 step 3, an expired token gives 401 INVALID_LOGIN;
// the client fetches a new token and repeats the call once.
func testTokenRenewal(t *testing.T, e *env) {
	if e.b.ExpireTokens == nil {
		t.Skip("backend cannot expire tokens")
	}
	if _, err := e.c.GovernanceLimits(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.b.ExpireTokens()
	gl, err := e.c.GovernanceLimits(e.ctx)
	if err != nil || gl != e.b.Fixture.Governance {
		t.Fatalf("after expiry: %+v %v", gl, err)
	}
	if n := len(e.rec.tokens()); n != 2 {
		t.Fatalf("token requests = %d, want 2", n)
	}
	api := e.rec.api()
	if len(api) != 3 || api[0].Status != 200 || api[1].Status != http.StatusUnauthorized || api[2].Status != 200 {
		t.Fatalf("API statuses %v, want 200 401 200", statuses(api))
	}
	if api[1].Header.Get("Authorization") == api[2].Header.Get("Authorization") {
		t.Error("the call was repeated with the refused token")
	}
	var eb struct {
		Details []netsuite.ErrorDetail `json:"o:errorDetails"`
	}
	if json.Unmarshal(api[1].RespBody, &eb) != nil || len(eb.Details) == 0 || eb.Details[0].Code != netsuite.CodeInvalidLogin ||
		!strings.HasPrefix(eb.Details[0].Detail, "Invalid login attempt.") {
		t.Errorf("401 body %s", api[1].RespBody)
	}
}

func statuses(xs []exchange) []int {
	out := make([]int, len(xs))
	for i, x := range xs {
		out[i] = x.Status
	}
	return out
}

// testGovernance: §11.1.
func testGovernance(t *testing.T, e *env) {
	gl, err := e.c.GovernanceLimits(e.ctx)
	if err != nil || gl != e.b.Fixture.Governance {
		t.Fatalf("GovernanceLimits = %+v %v, want %+v", gl, err, e.b.Fixture.Governance)
	}
	raw := e.rec.api()[0]
	var keys map[string]any
	if err := json.Unmarshal(raw.RespBody, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"accountConcurrencyLimit", "accountUnallocatedConcurrencyLimit", "integrationLimitType"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("governanceLimits lacks %s: %s", k, raw.RespBody)
		}
	}
	if _, ok := keys["integrationConcurrencyLimit"]; ok != (gl.IntegrationLimitType == "integrationSpecific") {
		t.Errorf("integrationConcurrencyLimit present=%v with type %s", ok, gl.IntegrationLimitType)
	}
	if n := netsuite.ConcurrencyFor(10, &gl); gl.IntegrationConcurrencyLimit > 0 && n != gl.IntegrationConcurrencyLimit {
		t.Errorf("ConcurrencyFor = %d", n)
	}
}

// testCreatePatchGet: §3 create (204 + Location), update, read.
func testCreatePatchGet(t *testing.T, e *env) {
	id, err := e.c.Create(e.ctx, netsuite.TypeCustomer, CustomerBody(e.b.Fixture.SubsidiaryID))
	if err != nil || id == "" {
		t.Fatalf("Create = %q %v", id, err)
	}
	post := e.rec.api()[0]
	if post.Method != http.MethodPost || post.URL.Path != recordPath+"customer" || post.Status != http.StatusNoContent {
		t.Fatalf("create: %s %s -> %d", post.Method, post.URL.Path, post.Status)
	}
	loc, err := url.Parse(post.RespHeader.Get("Location"))
	if err != nil || loc.Scheme == "" || loc.Path != recordPath+"customer/"+id {
		t.Errorf("Location %q, id %q", post.RespHeader.Get("Location"), id)
	}
	if err := e.c.Patch(e.ctx, netsuite.TypeCustomer, id, map[string]any{"phone": "555-0101"}); err != nil {
		t.Fatalf("Patch: %v", err)
	}
	patch := e.rec.api()[1]
	if patch.Method != http.MethodPatch || patch.Status != http.StatusNoContent || !strings.HasSuffix(patch.RespHeader.Get("Location"), "/customer/"+id) {
		t.Errorf("patch: %s -> %d Location %q", patch.Method, patch.Status, patch.RespHeader.Get("Location"))
	}
	var cust struct {
		ID         string       `json:"id"`
		FirstName  string       `json:"firstName"`
		Subsidiary netsuite.Ref `json:"subsidiary"`
		Links      []netsuite.Link
	}
	if err := e.c.Get(e.ctx, netsuite.TypeCustomer, id, &cust); err != nil {
		t.Fatal(err)
	}
	if cust.ID != id || cust.FirstName != "Ann" || cust.Subsidiary.ID != e.b.Fixture.SubsidiaryID || cust.Subsidiary.RefName == "" {
		t.Errorf("customer %+v", cust)
	}
}

// testUpsertReadBack: §4.2 PUT eid: answers 204 (no dependable Location);
// the id is read back with GET eid:.
func testUpsertReadBack(t *testing.T, e *env) {
	id := e.upsertCustomer(t)
	api := e.rec.api()
	if len(api) != 2 {
		t.Fatalf("upsert made %d calls, want PUT + GET", len(api))
	}
	put, get := api[0], api[1]
	if put.Method != http.MethodPut || put.URL.Path != recordPath+"customer/eid:"+CustomerExternalID || put.Status != http.StatusNoContent {
		t.Errorf("upsert: %s %s -> %d", put.Method, put.URL.Path, put.Status)
	}
	var body map[string]any
	if json.Unmarshal(put.Body, &body) == nil {
		if _, has := body["id"]; has {
			t.Error("upsert body carries an internal id (ref §4.2)")
		}
	}
	if get.Method != http.MethodGet || get.URL.Path != put.URL.Path || get.URL.Query().Get("fields") != "id" || get.Status != 200 {
		t.Errorf("read back: %s %s?%s -> %d", get.Method, get.URL.Path, get.URL.RawQuery, get.Status)
	}
	again, err := e.c.Upsert(e.ctx, netsuite.TypeCustomer, CustomerExternalID, CustomerBody(e.b.Fixture.SubsidiaryID))
	if err != nil || again != id {
		t.Fatalf("second upsert = %q %v, want %q", again, err, id)
	}
	var cust struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	}
	if err := e.c.GetByExternalID(e.ctx, netsuite.TypeCustomer, CustomerExternalID, &cust); err != nil || cust.ID != id || cust.Email != "ann@example.com" {
		t.Fatalf("GetByExternalID = %+v %v", cust, err)
	}
	if got, err := e.c.LookupID(e.ctx, netsuite.TypeCustomer, CustomerExternalID); err != nil || got != id {
		t.Fatalf("LookupID = %q %v", got, err)
	}
}

// salesOrderRead is the read shape of ref §3.
type salesOrderRead struct {
	ID          string          `json:"id"`
	TranID      string          `json:"tranId"`
	TranDate    string          `json:"tranDate"`
	Total       decimal.Decimal `json:"total"`
	Entity      netsuite.Ref    `json:"entity"`
	OrderStatus netsuite.Ref    `json:"orderStatus"`
	Item        struct {
		Links []netsuite.Link `json:"links"`
		Items []any           `json:"items"`
	} `json:"item"`
	Links []netsuite.Link `json:"links"`
}

// testSalesOrder: §4.3 safe write (look up, PUT ?replace=item, read back),
// the read shape of §3 with references as objects and enums in the form
// opts asks for, and §7 transform.
func testSalesOrder(t *testing.T, e *env) {
	f := e.b.Fixture
	cust := e.upsertCustomer(t)
	mark := len(e.rec.api())
	body := OrderBody(cust, f.SubsidiaryID, f.ItemID)
	id, created, err := e.c.UpsertTransaction(e.ctx, netsuite.TypeSalesOrder, OrderExternalID, body)
	if err != nil || !created || id == "" {
		t.Fatalf("UpsertTransaction = %q created=%v %v", id, created, err)
	}
	calls := e.rec.api()[mark:]
	want := []string{"GET 404", "PUT 204", "GET 200"}
	if len(calls) != 3 {
		t.Fatalf("safe write made %d calls, want %v", len(calls), want)
	}
	for i, c := range calls {
		if got := c.Method + " " + strconv.Itoa(c.Status); got != want[i] || c.URL.Path != recordPath+"salesOrder/eid:"+OrderExternalID {
			t.Errorf("call %d: %s %s, want %s", i, got, c.URL.Path, want[i])
		}
	}
	if q := calls[1].URL.Query(); q.Get("replace") != "item" {
		t.Errorf("PUT without ?replace=item: %s", calls[1].URL.RawQuery)
	}
	mark = len(e.rec.api())
	again, created, err := e.c.UpsertTransaction(e.ctx, netsuite.TypeSalesOrder, OrderExternalID, body)
	if err != nil || created || again != id {
		t.Fatalf("second UpsertTransaction = %q created=%v %v", again, created, err)
	}
	for _, c := range e.rec.api()[mark:] {
		if c.Method != http.MethodGet {
			t.Errorf("an existing order was written again: %s %s", c.Method, c.URL)
		}
	}

	var so salesOrderRead
	if err := e.c.Get(e.ctx, netsuite.TypeSalesOrder, id, &so); err != nil {
		t.Fatal(err)
	}
	if so.ID != id || so.TranID == "" || so.TranDate != "2020-07-29" || !so.Total.Equal(decimal.RequireFromString("39.95")) ||
		so.Entity.ID != cust || so.Entity.RefName == "" || so.OrderStatus.ID != "B" || len(so.Item.Links) == 0 || so.Item.Items != nil ||
		len(so.Links) == 0 {
		t.Errorf("sales order %+v", so)
	}
	read := e.rec.api()[len(e.rec.api())-1]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(read.RespBody, &raw); err != nil {
		t.Fatal(err)
	}
	var entity map[string]json.RawMessage
	if json.Unmarshal(raw["entity"], &entity) != nil || entity["id"] == nil || entity["refName"] == nil || entity["links"] == nil {
		t.Errorf("reference is not {id, refName, links}: %s", raw["entity"])
	}
	if string(raw["id"]) != strconv.Quote(id) {
		t.Errorf("id %s is not a string", raw["id"])
	}
	enum := strings.TrimSpace(string(raw["orderStatus"]))
	if e.opts.EnumsAsObjects != strings.HasPrefix(enum, "{") {
		t.Errorf("orderStatus %s; enums as objects: %v", enum, e.opts.EnumsAsObjects)
	}

	// §7: transform the order to an invoice, find it by eid: afterwards.
	inv, err := e.c.TransformToInvoice(e.ctx, id, map[string]any{"externalId": InvoiceExternalID, "tranDate": "2020-07-30"})
	if err != nil || inv == "" || inv == id {
		t.Fatalf("TransformToInvoice = %q %v", inv, err)
	}
	tr := e.rec.api()[len(e.rec.api())-1]
	if tr.URL.Path != recordPath+"salesOrder/"+id+"/!transform/invoice" || tr.Status != http.StatusNoContent ||
		!strings.HasSuffix(tr.RespHeader.Get("Location"), recordPath+"invoice/"+inv) {
		t.Errorf("transform: %s -> %d Location %q", tr.URL.Path, tr.Status, tr.RespHeader.Get("Location"))
	}
	if got, err := e.c.LookupID(e.ctx, netsuite.TypeInvoice, InvoiceExternalID); err != nil || got != inv {
		t.Errorf("invoice by eid = %q %v, want %q", got, err, inv)
	}
}

// testNotFound: §10 404 NONEXISTENT_ID.
func testNotFound(t *testing.T, e *env) {
	err := e.c.Get(e.ctx, netsuite.TypeSalesOrder, "999999", nil)
	ne := asError(t, err)
	if !errors.Is(err, netsuite.ErrNotFound) || ne.Code != netsuite.CodeNonexistentID || netsuite.IsRetryable(err) ||
		!strings.Contains(err.Error(), "Record does not exist.") {
		t.Errorf("missing record: %v (code %q)", err, ne.Code)
	}
	if _, err := e.c.LookupID(e.ctx, netsuite.TypeSalesOrder, MissingExternalID); !errors.Is(err, netsuite.ErrNotFound) {
		t.Errorf("missing eid: %v", err)
	}
}

// testInvalidContent: §5/§10, an unknown item is 400 INVALID_CONTENT at
// item.items[0].item: permanent, and the path is kept.
func testInvalidContent(t *testing.T, e *env) {
	f := e.b.Fixture
	cust := e.upsertCustomer(t)
	_, _, err := e.c.UpsertTransaction(e.ctx, netsuite.TypeSalesOrder, BadOrderExternalID, OrderBody(cust, f.SubsidiaryID, f.UnknownItemID))
	ne := asError(t, err)
	if ne.Status != http.StatusBadRequest || ne.Code != netsuite.CodeInvalidContent || ne.Path() != "item.items[0].item" ||
		!errors.Is(err, netsuite.ErrInvalidContent) || !errors.Is(err, netsuite.ErrBadRequest) ||
		netsuite.Classify(err) != netsuite.ClassPermanent || !strings.Contains(err.Error(), "item.items[0].item") ||
		!strings.Contains(err.Error(), "Invalid Field Value "+f.UnknownItemID) {
		t.Errorf("unknown item: %v (code %q path %q)", err, ne.Code, ne.Path())
	}
	if ne.Title != "Bad Request" {
		t.Errorf("title %q", ne.Title)
	}
}

// testConcurrencyLimit: §10/§11, the documented 429 body (title "Bad
// Request", top-level USER_ERROR) is throttling, retryable, not a 400.
func testConcurrencyLimit(t *testing.T, e *env) {
	if e.b.Fail == nil {
		t.Skip("backend cannot inject faults")
	}
	e.upsertCustomer(t)
	before := e.c.Limiter().Limit()
	e.b.Fail("record/v1/customer", FaultConcurrencyLimit)
	err := e.c.GetByExternalID(e.ctx, netsuite.TypeCustomer, CustomerExternalID, nil)
	ne := asError(t, err)
	if ne.Status != http.StatusTooManyRequests || !errors.Is(err, netsuite.ErrConcurrencyLimit) || errors.Is(err, netsuite.ErrBadRequest) ||
		!netsuite.IsRetryable(err) || ne.Code != netsuite.CodeConcurrencyLimit || ne.TopCode != netsuite.CodeUserError ||
		ne.Title != "Bad Request" || ne.RetryAfter() != 0 {
		t.Errorf("429: %v (code %q top %q title %q)", err, ne.Code, ne.TopCode, ne.Title)
	}
	if string(ne.Body) != Documented429Body {
		t.Errorf("429 body differs from ref §10:\n got %s\nwant %s", ne.Body, Documented429Body)
	}
	if after := e.c.Limiter().Limit(); before > 1 && after >= before {
		t.Errorf("limiter %d -> %d: a 429 must shrink it", before, after)
	}
	// The fault was one call: the next one goes through.
	if err := e.c.GetByExternalID(e.ctx, netsuite.TypeCustomer, CustomerExternalID, nil); err != nil {
		t.Errorf("after the 429: %v", err)
	}
}

// testUnexpectedError: §10 500 UNEXPECTED_ERROR is retryable, Error ID kept.
func testUnexpectedError(t *testing.T, e *env) {
	if e.b.Fail == nil {
		t.Skip("backend cannot inject faults")
	}
	e.b.Fail("query/v1/suiteql", FaultUnexpectedError)
	_, err := e.c.SuiteQL(e.ctx, QueryActiveItems, []string{"0"})
	ne := asError(t, err)
	if ne.Status != http.StatusInternalServerError || ne.Code != netsuite.CodeUnexpectedError || !errors.Is(err, netsuite.ErrServer) ||
		!netsuite.IsRetryable(err) || !strings.Contains(err.Error(), "An unexpected error occurred. Error ID: ") {
		t.Errorf("500: %v", err)
	}
	if _, err := e.c.SuiteQL(e.ctx, QueryActiveItems, []string{"0"}); err != nil {
		t.Errorf("after the 500: %v", err)
	}
}

// testExternalIDCharset: §4.1, an id outside [A-Za-z0-9_-] never leaves the client.
func testExternalIDCharset(t *testing.T, e *env) {
	for _, bad := range []string{"mlc-so-a|b", "mlc.so", "mlc so", "mlc/so", "mlc#so"} {
		if _, err := e.c.Upsert(e.ctx, netsuite.TypeCustomer, bad, CustomerBody(e.b.Fixture.SubsidiaryID)); !errors.Is(err, netsuite.ErrInvalidExternalID) {
			t.Errorf("%q: %v", bad, err)
		}
		if err := e.c.GetByExternalID(e.ctx, netsuite.TypeCustomer, bad, nil); !errors.Is(err, netsuite.ErrInvalidExternalID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if n := len(e.rec.exchanges()); n != 0 {
		t.Errorf("%d requests went out for invalid external ids", n)
	}
}

// checkSuiteQLWire holds SuiteQL exchanges to §8: POST with limit and
// offset, a {"q","params"} body, every item value a string, lowercase columns.
func checkSuiteQLWire(t *testing.T, xs []exchange) {
	t.Helper()
	for i, x := range xs {
		if x.Method != http.MethodPost || x.URL.Path != suiteQLPath {
			t.Errorf("#%d: %s %s", i, x.Method, x.URL.Path)
			continue
		}
		q := x.URL.Query()
		limit, err1 := strconv.Atoi(q.Get("limit"))
		offset, err2 := strconv.Atoi(q.Get("offset"))
		if err1 != nil || err2 != nil || limit < 1 || limit > 1000 || offset%limit != 0 {
			t.Errorf("#%d: paging %q", i, x.URL.RawQuery)
		}
		var req struct {
			Q      string            `json:"q"`
			Params []json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(x.Body, &req); err != nil || req.Q == "" {
			t.Errorf("#%d: body %s", i, x.Body)
		}
		for _, p := range req.Params {
			if !strings.HasPrefix(string(p), `"`) {
				t.Errorf("#%d: param %s is not a string (ref §8: send values as strings)", i, p)
			}
		}
		var page struct {
			Links        []netsuite.Link              `json:"links"`
			Count        *json.Number                 `json:"count"`
			HasMore      *bool                        `json:"hasMore"`
			Offset       *json.Number                 `json:"offset"`
			TotalResults *json.Number                 `json:"totalResults"`
			Items        []map[string]json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(x.RespBody, &page); err != nil {
			t.Errorf("#%d: answer %s: %v", i, x.RespBody, err)
			continue
		}
		if page.Links == nil || page.Count == nil || page.HasMore == nil || page.Offset == nil || page.TotalResults == nil || page.Items == nil {
			t.Errorf("#%d: envelope lacks links/count/hasMore/offset/totalResults/items: %s", i, x.RespBody)
			continue
		}
		if n, _ := page.Count.Int64(); int(n) != len(page.Items) {
			t.Errorf("#%d: count %s, %d items", i, page.Count, len(page.Items))
		}
		for _, row := range page.Items {
			for k, v := range row {
				if k == "links" {
					continue
				}
				if k != strings.ToLower(k) || !strings.HasPrefix(string(v), `"`) {
					t.Errorf("#%d: column %s = %s (ref §8: lowercase names, every value a string)", i, k, v)
				}
			}
		}
	}
}

// testSuiteQLPage: the request and response of §8 through Client.SuiteQL.
func testSuiteQLPage(t *testing.T, e *env) {
	page, err := e.c.SuiteQL(e.ctx, QueryActiveItems, []string{"0"})
	if err != nil {
		t.Fatal(err)
	}
	x := e.rec.api()
	checkSuiteQLWire(t, x)
	if q := x[0].URL.Query(); q.Get("limit") != "1000" || q.Get("offset") != "0" {
		t.Errorf("query string %q, want limit=1000&offset=0", x[0].URL.RawQuery)
	}
	var body struct {
		Q      string   `json:"q"`
		Params []string `json:"params"`
	}
	if json.Unmarshal(x[0].Body, &body) != nil || body.Q != QueryActiveItems || len(body.Params) != 1 || body.Params[0] != "0" {
		t.Errorf("body %s", x[0].Body)
	}
	if page.Count != len(page.Items) || len(page.Items) == 0 || page.Offset != 0 || page.TotalResults < page.Count ||
		page.HasMore != (page.TotalResults > page.Count) {
		t.Errorf("page count %d items %d offset %d total %d hasMore %v", page.Count, len(page.Items), page.Offset, page.TotalResults, page.HasMore)
	}
	if page.HasMore && !hasRel(page.Links, "next") {
		t.Errorf("hasMore without a next link: %+v", page.Links)
	}
	known := map[string]Item{}
	for _, it := range e.b.Fixture.Items {
		known[it.ID] = it
	}
	prev := int64(0)
	for _, r := range page.Items {
		id, err := r.Int64("id")
		if err != nil || id <= prev {
			t.Errorf("row %v: id %d after %d (%v)", r, id, prev, err)
		}
		prev = id
		if r.String("itemid") == "" || r.Has("upccode") || r.Has("links") {
			t.Errorf("row %v: want itemid, upccode null (missing), no links column", r)
		}
		if it, ok := known[r.String("id")]; ok && (it.Inactive || it.ItemID != r.String("itemid")) {
			t.Errorf("row %v does not match item %+v", r, it)
		}
	}
}

func hasRel(links []netsuite.Link, rel string) bool {
	for _, l := range links {
		if l.Rel == rel && l.Href != "" {
			return true
		}
	}
	return false
}

// testSuiteQLKeyset: §8 keyset paging over the §9 item query, T/F booleans,
// missing null columns, typed row helpers.
func testSuiteQLKeyset(t *testing.T, e *env) {
	const size = 2
	var got []Item
	err := e.c.QueryKeyset(e.ctx, QueryItemsKeyset, nil, func(r netsuite.Row) error {
		inactive, err := r.Bool("isinactive")
		if err != nil {
			return err
		}
		if _, err := r.Int64("id"); err != nil {
			return err
		}
		if r.Has("upccode") || r.Has("externalid") || !r.Has("isinactive") {
			return fmt.Errorf("row %v: null columns must be missing, isinactive present", r)
		}
		got = append(got, Item{ID: r.String("id"), ItemID: r.String("itemid"), Type: r.String("itemtype"), Inactive: inactive})
		return nil
	}, netsuite.PageSize(size))
	if err != nil {
		t.Fatal(err)
	}
	want := e.b.Fixture.Items
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keyset rows\n got %v\nwant %v", got, want)
	}
	x := e.rec.api()
	checkSuiteQLWire(t, x)
	if pages := max(1, (len(want)+size-1)/size); len(x) != pages {
		t.Errorf("%d pages for %d rows at %d a page, want %d", len(x), len(want), size, pages)
	}
	cursor := "0"
	sawT, sawF := false, false
	for i, ex := range x {
		var req struct {
			Q      string   `json:"q"`
			Params []string `json:"params"`
		}
		_ = json.Unmarshal(ex.Body, &req)
		if q := ex.URL.Query(); q.Get("limit") != strconv.Itoa(size) || q.Get("offset") != "0" || req.Q != QueryItemsKeyset ||
			len(req.Params) != 1 || req.Params[0] != cursor {
			t.Errorf("page %d: %s %s, want cursor %q", i, ex.URL.RawQuery, ex.Body, cursor)
		}
		var page struct {
			HasMore bool `json:"hasMore"`
			Items   []struct {
				ID         string `json:"id"`
				IsInactive string `json:"isinactive"`
			} `json:"items"`
		}
		if err := json.Unmarshal(ex.RespBody, &page); err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		if page.HasMore != (i < len(x)-1) {
			t.Errorf("page %d: hasMore %v", i, page.HasMore)
		}
		for _, r := range page.Items {
			sawT = sawT || r.IsInactive == "T"
			sawF = sawF || r.IsInactive == "F"
			cursor = r.ID
		}
	}
	if !sawT || !sawF {
		t.Errorf("booleans T seen %v, F seen %v: the fixture needs active and inactive items", sawT, sawF)
	}
}

// testSuiteQLOffsetLinks: §8 offset paging (a multiple of the limit) and the
// documented link relations next, prev, first, last, self.
func testSuiteQLOffsetLinks(t *testing.T, e *env) {
	var active []Item
	for _, it := range e.b.Fixture.Items {
		if !it.Inactive {
			active = append(active, it)
		}
	}
	if len(active) < 3 {
		t.Fatalf("the fixture needs at least 3 active items, has %d", len(active))
	}
	page, err := e.c.SuiteQL(e.ctx, QueryActiveItems, []string{"0"}, netsuite.Limit(1), netsuite.Offset(1))
	if err != nil {
		t.Fatal(err)
	}
	checkSuiteQLWire(t, e.rec.api())
	if page.Offset != 1 || page.Count != 1 || len(page.Items) != 1 || page.Items[0].String("id") != active[1].ID ||
		page.TotalResults != len(active) || !page.HasMore {
		t.Errorf("offset 1: %+v", page)
	}
	for _, rel := range []string{"prev", "first", "next", "last", "self"} {
		if !hasRel(page.Links, rel) {
			t.Errorf("no %q link in %+v (ref §8: next, prev, first, last, self)", rel, page.Links)
		}
	}
	for _, l := range page.Links {
		u, err := url.Parse(l.Href)
		if err != nil || !strings.HasSuffix(u.Path, suiteQLPath) {
			t.Errorf("link %+v", l)
			continue
		}
		want := map[string]string{"prev": "0", "first": "0", "next": "2", "self": "1"}[l.Rel]
		if got := u.Query().Get("offset"); want != "" && got != want || u.Query().Get("limit") != "1" {
			t.Errorf("link %s: %s", l.Rel, l.Href)
		}
	}
	if _, err := e.c.SuiteQL(e.ctx, QueryActiveItems, []string{"0"}, netsuite.Limit(2), netsuite.Offset(1)); err == nil {
		t.Error("an offset that is not a multiple of the limit was sent")
	}
}
