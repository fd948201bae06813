package netsuitesim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokenValidation(t *testing.T) {
	e := newEnv(t, Config{NoDefaultData: true})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.s.RegisterCertificate("cert-rsa", &rsaKey.PublicKey)
	e.s.RegisterCertificate("cert-ec384", ec384.Public())
	ecKey := e.key

	type edit = func(h map[string]any, c jwt.MapClaims)
	cases := []struct {
		name       string
		method     jwt.SigningMethod
		kid        string
		key        any
		edit       edit
		wantStatus int
		wantError  string
	}{
		{name: "PS256 ok", method: jwt.SigningMethodPS256, kid: "cert-rsa", key: rsaKey, wantStatus: 200},
		{name: "PS512 ok", method: jwt.SigningMethodPS512, kid: "cert-rsa", key: rsaKey, wantStatus: 200},
		{name: "ES256 ok", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 200},
		{name: "ES384 ok", method: jwt.SigningMethodES384, kid: "cert-ec384", key: ec384, wantStatus: 200},
		{name: "scope array ok", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 200,
			edit: func(_ map[string]any, c jwt.MapClaims) { c["scope"] = []string{"restlets", "rest_webservices"} }},
		{name: "scope comma ok", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 200,
			edit: func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "restlets,rest_webservices" }},
		{name: "scope space ok", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 200,
			edit: func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "restlets rest_webservices" }},
		{name: "exp-iat just under 1h ok", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 200,
			edit: func(_ map[string]any, c jwt.MapClaims) { c["exp"] = c["iat"].(int64) + 3599 }},
		{name: "RS256 refused with server_error", method: jwt.SigningMethodRS256, kid: "cert-rsa", key: rsaKey,
			wantStatus: 500, wantError: "server_error"},
		{name: "HS256 refused", method: jwt.SigningMethodHS256, kid: "cert-rsa", key: []byte("secret"),
			wantStatus: 400, wantError: "invalid_request"},
		{name: "wrong aud", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 400, wantError: "invalid_grant",
			edit: func(_ map[string]any, c jwt.MapClaims) {
				c["aud"] = "https://1234567.restlets.api.netsuite.com/services/rest/auth/oauth2/v1/token"
			}},
		{name: "wrong iss", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 401, wantError: "invalid_client",
			edit: func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "application-id" }},
		{name: "unknown kid", method: jwt.SigningMethodES256, kid: "nope", key: ecKey, wantStatus: 401, wantError: "invalid_client"},
		{name: "exp-iat = 3600", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 400, wantError: "invalid_grant",
			edit: func(_ map[string]any, c jwt.MapClaims) { c["exp"] = c["iat"].(int64) + 3600 }},
		{name: "expired", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 400, wantError: "invalid_grant",
			edit: func(_ map[string]any, c jwt.MapClaims) {
				c["iat"] = time.Now().Add(-10 * time.Minute).Unix()
				c["exp"] = time.Now().Add(-5 * time.Minute).Unix()
			}},
		{name: "iat in the future", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 400, wantError: "invalid_grant",
			edit: func(_ map[string]any, c jwt.MapClaims) {
				c["iat"] = time.Now().Add(10 * time.Minute).Unix()
				c["exp"] = time.Now().Add(15 * time.Minute).Unix()
			}},
		{name: "bad signature (other key)", method: jwt.SigningMethodPS256, kid: "cert-rsa", key: otherRSA, wantStatus: 400, wantError: "invalid_grant"},
		{name: "EC key under RSA kid", method: jwt.SigningMethodES256, kid: "cert-rsa", key: ecKey, wantStatus: 400, wantError: "invalid_grant"},
		{name: "missing scope", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 400, wantError: "invalid_grant",
			edit: func(_ map[string]any, c jwt.MapClaims) { delete(c, "scope") }},
		{name: "wrong scope", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 400, wantError: "invalid_grant",
			edit: func(_ map[string]any, c jwt.MapClaims) { c["scope"] = "restlets" }},
		{name: "typ not JWT", method: jwt.SigningMethodES256, kid: "cert-ec", key: ecKey, wantStatus: 400, wantError: "invalid_request",
			edit: func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "at+jwt" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.tokenRequest(e.assertion(tc.method, tc.kid, tc.key, tc.edit))
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, body)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if tc.wantStatus == 200 {
				if got["token_type"] != "Bearer" || got["expires_in"] != float64(3600) || got["access_token"] == "" {
					t.Fatalf("bad success body %s", body)
				}
				if _, ok := got["refresh_token"]; ok {
					t.Fatal("no refresh token expected")
				}
				return
			}
			if got["error"] != tc.wantError {
				t.Fatalf("error %v, want %s", got["error"], tc.wantError)
			}
		})
	}
}

func TestTokenFormFields(t *testing.T) {
	e := newEnv(t, Config{NoDefaultData: true})
	for name, form := range map[string]string{
		"no grant":      "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x.y.z",
		"wrong type":    "grant_type=client_credentials&client_assertion_type=jwt&client_assertion=x.y.z",
		"no assertion":  "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
		"garbage token": "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=abc",
	} {
		resp, err := http.Post(e.s.URL()+tokenPath, "application/x-www-form-urlencoded", stringsReader(form))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, resp.StatusCode)
		}
	}
}

func TestTokenExpiryGivesInvalidLogin(t *testing.T) {
	e := newEnv(t, Config{TokenLifetime: 300 * time.Millisecond, NoDefaultData: true})
	e.mustStatus(e.do("GET", "/services/rest/record/v1/customer", nil), http.StatusOK)
	time.Sleep(400 * time.Millisecond)
	r := e.mustStatus(e.do("GET", "/services/rest/record/v1/customer", nil), http.StatusUnauthorized)
	if r.errorCode(t) != "INVALID_LOGIN" {
		t.Fatalf("got %s", r.body)
	}
	e.token = "not-a-token"
	r = e.mustStatus(e.do("GET", "/services/rest/record/v1/customer", nil), http.StatusUnauthorized)
	if r.errorCode(t) != "INVALID_LOGIN" || r.json(t)["status"] != float64(401) {
		t.Fatalf("got %s", r.body)
	}
	// expires_in is at least 1 second even for sub-second lifetimes.
	status, body := e.tokenRequest(e.assertion(jwt.SigningMethodES256, "cert-ec", e.key, nil))
	if status != 200 || !json.Valid(body) {
		t.Fatalf("%d %s", status, body)
	}
	var tok map[string]any
	_ = json.Unmarshal(body, &tok)
	if tok["expires_in"] != float64(1) {
		t.Fatalf("expires_in %v", tok["expires_in"])
	}
	st := e.s.Stats()
	if st.TokensIssued != 2 || st.TokenRequests != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func FuzzVerifyAssertion(f *testing.F) {
	f.Add("eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsifQ.eyJpc3MiOiJ4In0.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Add("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9..")
	s := New(Config{NoDefaultData: true})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s.RegisterCertificate("k", key.Public())
	f.Fuzz(func(t *testing.T, a string) {
		if te := s.verifyAssertion(a, time.Now()); te == nil {
			t.Fatalf("accepted %q", a)
		}
	})
}
