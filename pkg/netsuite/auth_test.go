package netsuite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestAssertionHeaderAndClaims(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		key     crypto.Signer
		alg     string
		sigSize int // raw r||s for EC; 0 = RSA (key size)
	}{
		{"rsa", keys.rsa, "PS256", 256},
		{"p256", keys.p256, "ES256", 64},
		{"p384", keys.p384, "ES384", 96},
		{"p521", keys.p521, "ES512", 132},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Credentials{AccountID: "123456_SB1", ClientID: "client-1", CertificateID: "cert-9",
				PrivateKeyPEM: pkcs8PEM(t, tt.key)}, WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			if c.Algorithm() != tt.alg {
				t.Fatalf("alg = %s, want %s", c.Algorithm(), tt.alg)
			}
			a1, err := c.tokens.signer.sign(now)
			if err != nil {
				t.Fatal(err)
			}
			a2, _ := c.tokens.signer.sign(now)
			parts := strings.Split(a1, ".")
			if len(parts) != 3 || strings.ContainsAny(a1, "=+/") {
				t.Fatalf("not a base64url JWT without padding: %s", a1)
			}
			sig, err := base64.RawURLEncoding.DecodeString(parts[2])
			if err != nil || len(sig) != tt.sigSize {
				t.Fatalf("signature %d bytes (err %v), want %d", len(sig), err, tt.sigSize)
			}
			tok, err := jwt.Parse(a1, func(tok *jwt.Token) (any, error) { return tt.key.Public(), nil },
				jwt.WithValidMethods([]string{tt.alg}), jwt.WithTimeFunc(func() time.Time { return now }))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if tok.Header["typ"] != "JWT" || tok.Header["kid"] != "cert-9" || tok.Header["alg"] != tt.alg {
				t.Fatalf("header = %v", tok.Header)
			}
			cl := tok.Claims.(jwt.MapClaims)
			wantAud := "https://123456-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
			if cl["iss"] != "client-1" || cl["aud"] != wantAud || cl["scope"] != "rest_webservices" {
				t.Fatalf("claims = %v", cl)
			}
			if cl["iat"].(float64) != float64(now.Unix()) || cl["exp"].(float64) != float64(now.Add(5*time.Minute).Unix()) {
				t.Fatalf("iat/exp = %v/%v", cl["iat"], cl["exp"])
			}
			var c2 map[string]any
			p2, _ := base64.RawURLEncoding.DecodeString(strings.Split(a2, ".")[1])
			_ = json.Unmarshal(p2, &c2)
			if cl["jti"] == "" || cl["jti"] == c2["jti"] {
				t.Fatalf("jti not random: %v %v", cl["jti"], c2["jti"])
			}
		})
	}
}

func TestScopeFormats(t *testing.T) {
	tests := []struct {
		scopes []string
		format ScopeFormat
		want   any
	}{
		{[]string{"rest_webservices"}, ScopeArray, "rest_webservices"},
		{[]string{"restlets", "rest_webservices"}, ScopeComma, "restlets,rest_webservices"},
		{[]string{"restlets", "rest_webservices"}, ScopeSpace, "restlets rest_webservices"},
		{[]string{"restlets", "rest_webservices"}, ScopeArray, []any{"restlets", "rest_webservices"}},
	}
	for _, tt := range tests {
		c, err := New(Credentials{AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKeyPEM: pkcs8PEM(t, keys.p256)},
			WithScopes(tt.scopes...), WithScopeFormat(tt.format))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := c.tokens.signer.sign(time.Now())
		var cl map[string]any
		p, _ := base64.RawURLEncoding.DecodeString(strings.Split(a, ".")[1])
		if err := json.Unmarshal(p, &cl); err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(cl["scope"]); string(got) != mustJSON(tt.want) {
			t.Errorf("%v/%d: scope = %s, want %s", tt.scopes, tt.format, got, mustJSON(tt.want))
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestParsePrivateKeyFormats(t *testing.T) {
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keys.rsa)})
	sec1DER, _ := x509.MarshalECPrivateKey(keys.p384)
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1DER})
	withCert := append([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), pkcs8PEM(t, keys.p521)...)
	tests := []struct {
		name string
		pem  []byte
		want string // alg, "" = error
	}{
		{"pkcs8 rsa", pkcs8PEM(t, keys.rsa), "PS256"},
		{"pkcs1 rsa", pkcs1, "PS256"},
		{"sec1 p384", sec1, "ES384"},
		{"cert then pkcs8", withCert, "ES512"},
		{"garbage", []byte("not a pem"), ""},
		{"corrupt", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), ""},
	}
	for _, tt := range tests {
		key, err := ParsePrivateKey(tt.pem)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: want error", tt.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		m, err := signingMethodFor(key)
		if err != nil || m.Alg() != tt.want {
			t.Errorf("%s: alg %v (%v), want %s", tt.name, m, err, tt.want)
		}
	}
	if _, ok := any(keys.rsa).(*rsa.PrivateKey); !ok {
		t.Fatal("unreachable")
	}
}

func TestWithAlgorithm(t *testing.T) {
	creds := Credentials{AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKeyPEM: pkcs8PEM(t, keys.rsa)}
	c, err := New(creds, WithAlgorithm("PS512"))
	if err != nil || c.Algorithm() != "PS512" {
		t.Fatalf("PS512: %v %v", c, err)
	}
	for _, alg := range []string{"RS256", "ES256", "HS256"} {
		if _, err := New(creds, WithAlgorithm(alg)); err == nil {
			t.Errorf("%s on an RSA key: want error", alg)
		}
	}
	ec := creds
	ec.PrivateKeyPEM = pkcs8PEM(t, keys.p256)
	if _, err := New(ec, WithAlgorithm("ES384")); err == nil {
		t.Error("ES384 on a P-256 key: want error")
	}
	var _ *ecdsa.PrivateKey = keys.p256
}

func TestParseTokenResponse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		body    string
		wantTTL time.Duration // -1 = error
	}{
		{`{"access_token":"a","expires_in":3600,"token_type":"Bearer"}`, time.Hour},
		{`{"access_token":"a","expires_in":"3600","token_type":"bearer"}`, time.Hour},
		{`{"access_token":"a","expires_in":2,"token_type":"BEARER"}`, 2 * time.Second},
		{`{"access_token":"a"}`, time.Hour},
		{`{"access_token":"a","expires_in":"soon"}`, -1},
		{`{"access_token":"a","token_type":"mac"}`, -1},
		{`{"expires_in":3600}`, -1},
		{`<html>`, -1},
	}
	for _, tt := range tests {
		tok, err := parseTokenResponse([]byte(tt.body), now)
		if tt.wantTTL < 0 {
			if err == nil {
				t.Errorf("%s: want error", tt.body)
			}
			continue
		}
		if err != nil || tok.value != "a" || tok.expiry.Sub(now) != tt.wantTTL {
			t.Errorf("%s: %+v %v", tt.body, tok, err)
		}
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","expires_in":"3600","token_type":"bearer"}`))
	f.Add([]byte(`{"access_token":"a","expires_in":1e400}`))
	f.Add([]byte(`{"access_token":"a","expires_in":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseTokenResponse(b, time.Unix(0, 0))
		if err == nil && (tok.value == "" || tok.expiry.Before(time.Unix(0, 0))) {
			t.Fatalf("accepted %q as %+v", b, tok)
		}
	})
}
