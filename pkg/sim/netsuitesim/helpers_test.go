package netsuitesim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// env is a running simulator with a registered EC certificate and a token.
type env struct {
	t     testing.TB
	s     *Server
	key   crypto.Signer
	token string
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	s := NewTestServer(t, cfg)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterCertificate("cert-ec", key.Public())
	e := &env{t: t, s: s, key: key}
	status, body := e.tokenRequest(e.assertion(jwt.SigningMethodES256, "cert-ec", key, nil))
	if status != http.StatusOK {
		t.Fatalf("token: %d %s", status, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token body %s: %v", body, err)
	}
	e.token = tok.AccessToken
	return e
}

// assertion signs a client assertion with valid claims, then applies edit.
func (e *env) assertion(m jwt.SigningMethod, kid string, key any, edit func(h map[string]any, c jwt.MapClaims)) string {
	e.t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": "mlc-client", "scope": "rest_webservices", "aud": e.s.URL() + tokenPath,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	if edit != nil {
		edit(tok.Header, claims)
	}
	signed, err := tok.SignedString(key)
	if err != nil {
		e.t.Fatal(err)
	}
	return signed
}

func (e *env) tokenRequest(assertion string) (int, []byte) {
	e.t.Helper()
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	resp, err := http.Post(e.s.URL()+tokenPath, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// errorCode returns the first o:errorCode of an error body.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	d := r.json(t)["o:errorDetails"].([]any)
	return d[0].(map[string]any)["o:errorCode"].(string)
}

func (r response) errorDetail(t testing.TB) map[string]any {
	t.Helper()
	return r.json(t)["o:errorDetails"].([]any)[0].(map[string]any)
}

// do calls the API with the env's token. body may be nil, a string or a value to marshal.
func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.s.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (e *env) mustStatus(r response, want int) response {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// createCustomer creates a customer by upsert and returns its internal id.
func (e *env) createCustomer(ext string, subsidiary string) string {
	e.t.Helper()
	body := map[string]any{"isPerson": true, "firstName": "Ann", "lastName": "Lee", "email": ext + "@example.com"}
	if subsidiary != "" {
		body["subsidiary"] = map[string]any{"id": subsidiary}
	}
	e.mustStatus(e.do("PUT", "/services/rest/record/v1/customer/eid:"+ext, body), http.StatusNoContent)
	got := e.mustStatus(e.do("GET", "/services/rest/record/v1/customer/eid:"+ext+"?fields=id", nil), http.StatusOK).json(e.t)
	return got["id"].(string)
}

func orderBody(customerID string, lines ...map[string]any) map[string]any {
	items := make([]any, len(lines))
	for i, l := range lines {
		items[i] = l
	}
	return map[string]any{
		"entity": map[string]any{"id": customerID}, "orderStatus": "B", "tranDate": "2024-05-01",
		"item": map[string]any{"items": items},
	}
}

func line(itemID string, qty int, rate string) map[string]any {
	return map[string]any{"item": map[string]any{"id": itemID}, "quantity": qty, "rate": json.Number(rate)}
}

// suiteql runs a query and returns the response.
func (e *env) suiteql(limit, offset int, q string, params ...string) response {
	e.t.Helper()
	if params == nil {
		params = []string{}
	}
	path := "/services/rest/query/v1/suiteql?limit=" + itoa(limit) + "&offset=" + itoa(offset)
	return e.do("POST", path, map[string]any{"q": q, "params": params}, "Prefer", "transient")
}

func itoa(n int) string { return strconv.Itoa(n) }

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
