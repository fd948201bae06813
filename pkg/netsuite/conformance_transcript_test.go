package netsuite_test

import (
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/netsuite/netsuitetest"
)

// TestConformanceReferenceTranscript runs the conformance suite against a
// scripted server that checks each request against what
// shared/reference/netsuite-rest.md requires and answers with the bodies
// the reference documents. Nothing here comes from the simulator: when the
// simulator and the client drift together, this backend still fails.
func TestConformanceReferenceTranscript(t *testing.T) {
	netsuitetest.RunConformance(t, newTranscript)
}

// Documented bodies (ref §3, §10). Where the reference elides a part
// ("links":[...], "Error ID: ...") the transcript fills it in; everything
// else is copied as printed, spaces included.
const (
	mediaError      = "application/vnd.oracle.resource+json; type=error"
	mediaSingular   = "application/vnd.oracle.resource+json; type=singular"
	mediaCollection = "application/vnd.oracle.resource+json; type=collection"

	// §10 shape with the INVALID_CONTENT detail of the §10 table and the
	// path of §5 ("Classic failure"); %s is the refused item id.
	docInvalidContent = `{"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html", "title": "Bad Request",
 "status": 400, "o:errorDetails": [{"detail": "Error while accessing resource: You have entered an Invalid Field Value %s for the following field: item", "o:errorCode": "INVALID_CONTENT",
 "o:errorPath": "item.items[%d].item"}]}`
	docNotFound        = `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Not Found","status":404,"o:errorDetails":[{"detail":"Record does not exist.","o:errorCode":"NONEXISTENT_ID"}]}`
	docInvalidLogin    = `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Unauthorized","status":401,"o:errorDetails":[{"detail":"Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.","o:errorCode":"INVALID_LOGIN"}]}`
	docUnexpected      = `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Internal Server Error","status":500,"o:errorDetails":[{"detail":"An unexpected error occurred. Error ID: lq8v1ksy1x0e1gqm7ajd5","o:errorCode":"UNEXPECTED_ERROR"}]}`
	docInvalidRequest  = `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Bad Request","status":400,"o:errorDetails":[{"detail":"The request could not be understood by the server due to malformed syntax.","o:errorCode":"INVALID_REQUEST"}]}`
	transcriptClientID = "mlc-client"
	transcriptCertID   = "cert-1"

	// Ids of the documented examples: the sales order read of §3 (order 18,
	// entity 110 "Acme"), the created customer of §3 (647).
	docOrderID    = "18"
	docCustomerID = "110"
	docCreatedID  = "647"
	docInvoiceID  = "19"
)

// transcriptItems is the item table the SuiteQL answers come from: the
// TEE-M row of §8 and neighbours, one of them inactive.
func transcriptItems() []netsuitetest.Item {
	return []netsuitetest.Item{
		{ID: "98", ItemID: "TEE-M", Type: "InvtPart"},
		{ID: "99", ItemID: "TEE-L", Type: "InvtPart"},
		{ID: "100", ItemID: "TEE-XL", Type: "InvtPart", Inactive: true},
		{ID: "101", ItemID: "TEE-S", Type: "InvtPart"},
	}
}

var eidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// transcript is the scripted server. Its only state is what the reference's
// flows need: issued tokens, pending faults and the external ids written.
type transcript struct {
	t    *testing.T
	opts netsuitetest.Options
	pub  crypto.PublicKey
	base string

	mu     sync.Mutex
	tokens map[string]bool // access token -> still valid
	issued int
	faults []transcriptFault
	eids   map[string]map[string]string // record type -> external id -> internal id
}

type transcriptFault struct {
	prefix string
	kind   netsuitetest.Fault
}

func newTranscript(t *testing.T, opts netsuitetest.Options) (*netsuitetest.Backend, bool) {
	key, pemKey := newKey(t)
	ts := &transcript{t: t, opts: opts, pub: key.Public(), tokens: map[string]bool{},
		eids: map[string]map[string]string{"customer": {}, "salesOrder": {}, "invoice": {}}}
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	ts.base = srv.URL
	return &netsuitetest.Backend{
		BaseURL: srv.URL,
		Credentials: netsuite.Credentials{AccountID: "1234567", ClientID: transcriptClientID, CertificateID: transcriptCertID,
			PrivateKeyPEM: pemKey},
		Fixture: netsuitetest.Fixture{ItemID: "98", UnknownItemID: "9999", SubsidiaryID: "1", Items: transcriptItems(),
			Governance: netsuitetest.DocumentedGovernanceLimits()},
		Fail: func(prefix string, f netsuitetest.Fault) {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			ts.faults = append(ts.faults, transcriptFault{prefix: "/services/rest/" + prefix, kind: f})
		},
		ExpireTokens: func() {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			for k := range ts.tokens {
				ts.tokens[k] = false
			}
		},
	}, true
}

// violation reports a request that breaks the reference and answers 400.
func (ts *transcript) violation(w http.ResponseWriter, r *http.Request, format string, a ...any) {
	ts.t.Errorf("reference violation: %s %s: %s", r.Method, r.URL, fmt.Sprintf(format, a...))
	write(w, http.StatusBadRequest, mediaError, docInvalidRequest)
}

func write(w http.ResponseWriter, status int, media, body string) {
	if media != "" {
		w.Header().Set("Content-Type", media)
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (ts *transcript) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.URL.Path == "/services/rest/auth/oauth2/v1/token" {
		ts.token(w, r, body)
		return
	}
	// §2.2: every other call carries the access token as a Bearer token.
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	ts.mu.Lock()
	valid, known := ts.tokens[tok]
	ts.mu.Unlock()
	if !ok || !known {
		ts.violation(w, r, "Authorization %q is not a Bearer token the endpoint issued", r.Header.Get("Authorization"))
		return
	}
	if !valid {
		write(w, http.StatusUnauthorized, mediaError, docInvalidLogin)
		return
	}
	if f, ok := ts.takeFault(r.URL.Path); ok {
		switch f {
		case netsuitetest.FaultConcurrencyLimit:
			write(w, http.StatusTooManyRequests, mediaError, netsuitetest.Documented429Body)
		default:
			write(w, http.StatusInternalServerError, mediaError, docUnexpected)
		}
		return
	}
	switch p := r.URL.Path; {
	case p == "/services/rest/system/v1/governanceLimits" && r.Method == http.MethodGet:
		write(w, http.StatusOK, mediaSingular, netsuitetest.DocumentedGovernanceLimitsBody)
	case p == "/services/rest/query/v1/suiteql":
		ts.suiteQL(w, r, body)
	case strings.HasPrefix(p, "/services/rest/record/v1/"):
		ts.record(w, r, strings.Split(strings.TrimPrefix(p, "/services/rest/record/v1/"), "/"), body)
	default:
		ts.violation(w, r, "no such path in the reference")
	}
}

func (ts *transcript) takeFault(path string) (netsuitetest.Fault, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i, f := range ts.faults {
		if strings.HasPrefix(path, f.prefix) {
			ts.faults = append(ts.faults[:i], ts.faults[i+1:]...)
			return f.kind, true
		}
	}
	return 0, false
}

// token checks the request of §2.1/§2.2 and answers the documented success
// body in the form opts asks for.
func (ts *transcript) token(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		ts.violation(w, r, "token request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		return
	}
	if r.Header.Get("Authorization") != "" {
		ts.violation(w, r, "the M2M token request has no Authorization header")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || len(form) != 3 || form.Get("grant_type") != "client_credentials" ||
		form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || form.Get("client_assertion") == "" {
		ts.violation(w, r, "token form %v", form)
		return
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(form.Get("client_assertion"), claims, func(*jwt.Token) (any, error) { return ts.pub, nil },
		jwt.WithValidMethods([]string{"PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}),
		jwt.WithAudience(ts.base+"/services/rest/auth/oauth2/v1/token"), jwt.WithIssuer(transcriptClientID),
		jwt.WithIssuedAt(), jwt.WithExpirationRequired())
	if err != nil {
		ts.violation(w, r, "client assertion: %v", err)
		return
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if tok.Header["typ"] != "JWT" || tok.Header["kid"] != transcriptCertID || claims["scope"] != "rest_webservices" || exp-iat >= 3600 {
		ts.violation(w, r, "assertion header %v claims %v", tok.Header, claims)
		return
	}
	ts.mu.Lock()
	ts.issued++
	// The access token is a JWT; the client must treat it as opaque.
	access := fmt.Sprintf("eyJraWQiOiJjLjEyMzQ1NjcuMjAyNi0wNS0wMV8wMC0wMC0wMCIsInR5cCI6IkpXVCIsImFsZyI6IlBTMjU2In0.eyJzdWIiOiIzOzEyIn0.sig%d-%d", ts.issued, time.Now().UnixNano())
	ts.tokens[access] = true
	ts.mu.Unlock()
	resp := `{"access_token":"` + access + `","expires_in":3600,"token_type":"Bearer"}`
	if ts.opts.ExpiresInString {
		resp = strings.Replace(resp, `"expires_in":3600`, `"expires_in":"3600"`, 1)
	}
	if ts.opts.LowercaseTokenType {
		resp = strings.Replace(resp, `"token_type":"Bearer"`, `"token_type":"bearer"`, 1)
	}
	write(w, http.StatusOK, "application/json;charset=UTF-8", resp)
}

func (ts *transcript) url(typ, id string) string {
	return ts.base + "/services/rest/record/v1/" + typ + "/" + id
}

func (ts *transcript) links(typ, id string) string {
	return `[{"rel":"self","href":"` + ts.url(typ, id) + `"}]`
}

// record serves the record flows of §3, §4 and §7.
func (ts *transcript) record(w http.ResponseWriter, r *http.Request, segs []string, body []byte) {
	typ := segs[0]
	if typ != "customer" && typ != "salesOrder" && typ != "invoice" {
		ts.violation(w, r, "record type %q (camelCase customer, salesOrder, invoice)", typ)
		return
	}
	if r.Method != http.MethodGet {
		// §3: writes are JSON, unknown fields must fail.
		var obj map[string]any
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.Unmarshal(body, &obj) != nil ||
			r.Header.Get("X-NetSuite-PropertyNameValidation") != "Error" {
			ts.violation(w, r, "write with Content-Type %q, X-NetSuite-PropertyNameValidation %q, body %s",
				r.Header.Get("Content-Type"), r.Header.Get("X-NetSuite-PropertyNameValidation"), body)
			return
		}
		if _, has := obj["id"]; has {
			ts.violation(w, r, "internal id in a write body")
			return
		}
	}
	id := ""
	if len(segs) > 1 {
		id = segs[1]
		if ext, ok := strings.CutPrefix(id, "eid:"); ok {
			if !eidPattern.MatchString(ext) {
				ts.violation(w, r, "external id %q outside [A-Za-z0-9_-]", ext)
				return
			}
			if r.Method == http.MethodPut {
				ts.upsert(w, r, typ, ext, body)
				return
			}
			ts.mu.Lock()
			id = ts.eids[typ][ext]
			ts.mu.Unlock()
			if id == "" {
				write(w, http.StatusNotFound, mediaError, docNotFound)
				return
			}
		}
	}
	switch {
	case len(segs) == 1 && r.Method == http.MethodPost && typ == "customer":
		// §3 create: 204, no body, the new record in Location.
		w.Header().Set("Location", ts.url(typ, docCreatedID))
		write(w, http.StatusNoContent, "", "")
	case len(segs) == 2 && r.Method == http.MethodPatch && typ == "customer" && id == docCreatedID:
		w.Header().Set("Location", ts.url(typ, id))
		write(w, http.StatusNoContent, "", "")
	case len(segs) == 4 && r.Method == http.MethodPost && typ == "salesOrder" && id == docOrderID && segs[2] == "!transform" && segs[3] == "invoice":
		// §7: 204 with Location pointing at the new invoice.
		var tb struct {
			ExternalID string `json:"externalId"`
		}
		_ = json.Unmarshal(body, &tb)
		if tb.ExternalID != "" {
			ts.mu.Lock()
			ts.eids["invoice"][tb.ExternalID] = docInvoiceID
			ts.mu.Unlock()
		}
		w.Header().Set("Location", ts.url("invoice", docInvoiceID))
		write(w, http.StatusNoContent, "", "")
	case len(segs) == 2 && r.Method == http.MethodGet:
		ts.get(w, r, typ, id)
	default:
		ts.violation(w, r, "not a flow of the reference")
	}
}

// upsert is §4.2: PUT eid: answers 204 with no Location (never dependable).
func (ts *transcript) upsert(w http.ResponseWriter, r *http.Request, typ, ext string, body []byte) {
	var rec struct {
		Entity     struct{ ID string } `json:"entity"`
		Subsidiary struct{ ID string } `json:"subsidiary"`
		Item       struct {
			Items []struct {
				Item struct{ ID string } `json:"item"`
			} `json:"items"`
		} `json:"item"`
	}
	_ = json.Unmarshal(body, &rec)
	id := docCustomerID
	switch typ {
	case "customer":
		if rec.Subsidiary.ID != "1" {
			ts.violation(w, r, "customer without subsidiary (ref §6: required on OneWorld)")
			return
		}
	case "salesOrder":
		// §4.3: a transaction is PUT with ?replace=item.
		if r.URL.Query().Get("replace") != "item" || rec.Entity.ID != docCustomerID || len(rec.Item.Items) == 0 {
			ts.violation(w, r, "sales order upsert: query %q entity %q lines %d", r.URL.RawQuery, rec.Entity.ID, len(rec.Item.Items))
			return
		}
		active := map[string]bool{}
		for _, it := range transcriptItems() {
			active[it.ID] = !it.Inactive
		}
		for i, l := range rec.Item.Items {
			if !active[l.Item.ID] {
				write(w, http.StatusBadRequest, mediaError, fmt.Sprintf(docInvalidContent, l.Item.ID, i))
				return
			}
		}
		id = docOrderID
	default:
		ts.violation(w, r, "upsert of %s is not in the reference's flows", typ)
		return
	}
	ts.mu.Lock()
	ts.eids[typ][ext] = id
	ts.mu.Unlock()
	write(w, http.StatusNoContent, "", "")
}

// get answers a read: the sales order example of §3 verbatim (plus the
// orderStatus enum in the form opts asks for), a customer in the §6 shape.
func (ts *transcript) get(w http.ResponseWriter, r *http.Request, typ, id string) {
	if r.URL.Query().Get("fields") == "id" {
		if (typ == "customer" && (id == docCustomerID || id == docCreatedID)) || (typ == "salesOrder" && id == docOrderID) ||
			(typ == "invoice" && id == docInvoiceID) {
			write(w, http.StatusOK, mediaSingular, `{"links":`+ts.links(typ, id)+`,"id":"`+id+`"}`)
			return
		}
	}
	switch {
	case typ == "salesOrder" && id == docOrderID:
		status := `"B"`
		if ts.opts.EnumsAsObjects {
			status = `{"id":"B","refName":"B"}`
		}
		write(w, http.StatusOK, mediaSingular, `{"id":"18","tranId":"1","tranDate":"2020-07-29","total":39.95,"entity":{"id":"110","refName":"Acme","links":`+
			ts.links("customer", docCustomerID)+`},"item":{"links":[{"rel":"self","href":"`+ts.url(typ, id)+`/item"}]},"orderStatus":`+status+
			`,"links":`+ts.links(typ, id)+`}`)
	case typ == "customer" && (id == docCustomerID || id == docCreatedID):
		write(w, http.StatusOK, mediaSingular, `{"links":`+ts.links(typ, id)+`,"id":"`+id+`","entityId":"Ann Lee","isPerson":true,`+
			`"firstName":"Ann","lastName":"Lee","email":"ann@example.com","phone":"555-0100",`+
			`"subsidiary":{"id":"1","refName":"Parent Company","links":[{"rel":"self","href":"`+ts.base+`/services/rest/record/v1/subsidiary/1"}]}}`)
	default:
		write(w, http.StatusNotFound, mediaError, docNotFound)
	}
}

// suiteQL checks the request of §8 and answers in the documented envelope
// ({"links","count","hasMore","offset","totalResults","items"}, every value
// a string, null columns left out) from transcriptItems.
func (ts *transcript) suiteQL(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Method != http.MethodPost || r.Header.Get("Prefer") != "transient" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		ts.violation(w, r, "SuiteQL needs POST, Prefer: transient and JSON (Prefer %q)", r.Header.Get("Prefer"))
		return
	}
	q := r.URL.Query()
	limit, err1 := strconv.Atoi(q.Get("limit"))
	offset, err2 := strconv.Atoi(q.Get("offset"))
	if err1 != nil || err2 != nil || limit < 1 || limit > 1000 || offset%limit != 0 || offset+limit > 100000 {
		ts.violation(w, r, "paging %q", r.URL.RawQuery)
		return
	}
	var req struct {
		Q      string   `json:"q"`
		Params []string `json:"params"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Params) != 1 {
		ts.violation(w, r, "body %s (want {\"q\",\"params\"} with string params)", body)
		return
	}
	after, err := strconv.Atoi(req.Params[0])
	if err != nil {
		ts.violation(w, r, "keyset parameter %q", req.Params[0])
		return
	}
	var rows []string
	for _, it := range transcriptItems() {
		n, _ := strconv.Atoi(it.ID)
		if n <= after {
			continue
		}
		switch req.Q {
		case netsuitetest.QueryActiveItems:
			if !it.Inactive {
				rows = append(rows, `{"links":[],"id":"`+it.ID+`","itemid":"`+it.ItemID+`"}`)
			}
		case netsuitetest.QueryItemsKeyset:
			inactive := "F"
			if it.Inactive {
				inactive = "T"
			}
			rows = append(rows, `{"links":[],"id":"`+it.ID+`","itemid":"`+it.ItemID+`","displayname":"Tee","itemtype":"`+it.Type+
				`","isinactive":"`+inactive+`"}`)
		default:
			ts.violation(w, r, "query %q is not one the reference documents", req.Q)
			return
		}
	}
	total := len(rows)
	page := rows[min(offset, total):min(offset+limit, total)]
	hasMore := offset+len(page) < total
	self := ts.base + "/services/rest/query/v1/suiteql?limit=" + strconv.Itoa(limit) + "&offset="
	links := `[`
	if offset > 0 {
		links += `{"rel":"prev","href":"` + self + strconv.Itoa(offset-limit) + `"},`
	}
	links += `{"rel":"first","href":"` + self + `0"},`
	if hasMore {
		links += `{"rel":"next","href":"` + self + strconv.Itoa(offset+limit) + `"},`
	}
	links += `{"rel":"last","href":"` + self + strconv.Itoa(max(0, (total-1)/limit*limit)) + `"},{"rel":"self","href":"` + self + strconv.Itoa(offset) + `"}]`
	write(w, http.StatusOK, mediaCollection, `{"links":`+links+`,"count":`+strconv.Itoa(len(page))+`,"hasMore":`+strconv.FormatBool(hasMore)+
		`,"offset":`+strconv.Itoa(offset)+`,"totalResults":`+strconv.Itoa(total)+`,"items":[`+strings.Join(page, ",")+`]}`)
}
