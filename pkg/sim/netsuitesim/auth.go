package netsuitesim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// maxIatSkew tolerates clocks slightly ahead of ours.
	maxIatSkew = 30 * time.Second
)

// allowedAlgs are the assertion algorithms NetSuite accepts (ref §2.1).
var allowedAlgs = []string{"PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// tokenError is an OAuth-style token endpoint error.
type tokenError struct {
	status int
	code   string
	desc   string
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, body []byte) {
	s.mu.Lock()
	s.stats.TokenRequests++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		writeTokenError(w, tokenError{http.StatusMethodNotAllowed, "invalid_request", "token endpoint accepts POST only"})
		return
	}
	tok, expiresIn, te := s.issueToken(r.Header.Get("Content-Type"), body)
	if te != nil {
		writeTokenError(w, *te)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, "application/json;charset=UTF-8", map[string]any{
		"access_token": tok, "expires_in": expiresIn, "token_type": "Bearer",
	})
}

func writeTokenError(w http.ResponseWriter, te tokenError) {
	body := map[string]string{"error": te.code}
	if te.desc != "" {
		body["error_description"] = te.desc
	}
	writeJSON(w, te.status, "application/json;charset=UTF-8", body)
}

func (s *Server) issueToken(contentType string, body []byte) (string, int, *tokenError) {
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/x-www-form-urlencoded") {
		return "", 0, &tokenError{http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", 0, &tokenError{http.StatusBadRequest, "invalid_request", "malformed form body"}
	}
	if form.Get("grant_type") != "client_credentials" {
		return "", 0, &tokenError{http.StatusBadRequest, "invalid_request", "grant_type must be client_credentials"}
	}
	if form.Get("client_assertion_type") != assertionType {
		return "", 0, &tokenError{http.StatusBadRequest, "invalid_request", "client_assertion_type must be " + assertionType}
	}
	assertion := form.Get("client_assertion")
	if assertion == "" {
		return "", 0, &tokenError{http.StatusBadRequest, "invalid_request", "client_assertion is required"}
	}
	if te := s.verifyAssertion(assertion, time.Now()); te != nil {
		return "", 0, te
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	tok := hex.EncodeToString(raw)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, exp := range s.tokens {
		if now.After(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = now.Add(s.cfg.TokenLifetime)
	s.stats.TokensIssued++
	return tok, max(1, int(s.cfg.TokenLifetime/time.Second)), nil
}

// verifyAssertion applies every rule of ref §2.1 and §13.
func (s *Server) verifyAssertion(assertion string, now time.Time) *tokenError {
	bad := func(code, format string, a ...any) *tokenError {
		status := http.StatusBadRequest
		if code == "invalid_client" {
			status = http.StatusUnauthorized
		}
		return &tokenError{status, code, fmt.Sprintf(format, a...)}
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return bad("invalid_request", "client_assertion is not a JWS compact serialization")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return bad("invalid_request", "JWT header is not base64url without padding")
	}
	var hdr struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return bad("invalid_request", "JWT header is not JSON")
	}
	if hdr.Typ != "JWT" {
		return bad("invalid_request", "JWT header typ must be JWT, got %q", hdr.Typ)
	}
	switch {
	case strings.HasPrefix(hdr.Alg, "RS"):
		// RS256 was withdrawn; NetSuite reportedly answers a bare 500 (ref §2.1).
		return &tokenError{status: http.StatusInternalServerError, code: "server_error"}
	case !contains(allowedAlgs, hdr.Alg):
		return bad("invalid_request", "JWT alg %q is not supported; use PS256/384/512 or ES256/384/512", hdr.Alg)
	}
	s.mu.Lock()
	key, ok := s.certs[hdr.Kid]
	clientID := s.cfg.ClientID
	aud := s.baseURL + tokenPath
	s.mu.Unlock()
	if hdr.Kid == "" || !ok {
		return bad("invalid_client", "no certificate mapping for kid %q", hdr.Kid)
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods(allowedAlgs), jwt.WithoutClaimsValidation())
	if err != nil {
		if errors.Is(err, jwt.ErrTokenSignatureInvalid) || errors.Is(err, jwt.ErrTokenUnverifiable) {
			return bad("invalid_grant", "signature does not verify against certificate %s", hdr.Kid)
		}
		return bad("invalid_request", "malformed client_assertion: %v", err)
	}
	if iss, _ := claims["iss"].(string); iss != clientID {
		return bad("invalid_client", "iss %q is not the client id of an integration record", iss)
	}
	if !audMatches(claims["aud"], aud) {
		return bad("invalid_grant", "aud must be %s", aud)
	}
	iat, okIat := numericClaim(claims["iat"])
	exp, okExp := numericClaim(claims["exp"])
	if !okIat || !okExp {
		return bad("invalid_grant", "iat and exp are required")
	}
	if exp-iat >= 3600 {
		return bad("invalid_grant", "exp must be less than 60 minutes after iat")
	}
	if exp <= iat {
		return bad("invalid_grant", "exp must be after iat")
	}
	if float64(now.Unix()) >= exp {
		return bad("invalid_grant", "client_assertion has expired")
	}
	if iat > float64(now.Add(maxIatSkew).Unix()) {
		return bad("invalid_grant", "iat is in the future")
	}
	if !hasScope(claims["scope"], "rest_webservices") {
		return bad("invalid_grant", "scope must include rest_webservices")
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func audMatches(v any, want string) bool {
	switch a := v.(type) {
	case string:
		return a == want
	case []any:
		return len(a) == 1 && a[0] == want
	}
	return false
}

func numericClaim(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// hasScope accepts a comma-separated string, a space-separated string or a
// JSON array (ref §2.1: the format is unconfirmed).
func hasScope(v any, want string) bool {
	var scopes []string
	switch sc := v.(type) {
	case string:
		scopes = strings.FieldsFunc(sc, func(r rune) bool { return r == ',' || r == ' ' })
	case []any:
		for _, x := range sc {
			if str, ok := x.(string); ok {
				scopes = append(scopes, str)
			}
		}
	}
	for _, x := range scopes {
		if strings.TrimSpace(x) == want {
			return true
		}
	}
	return false
}

// authenticate checks the bearer token of an API call.
func (s *Server) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return errInvalidLogin()
	}
	tok := strings.TrimSpace(h[len(prefix):])
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	if !ok || !time.Now().Before(exp) {
		return errInvalidLogin()
	}
	return nil
}

// ExpireTokens makes every access token issued so far expired, as if its
// lifetime had passed: the next API call with one gets 401 INVALID_LOGIN.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for t := range s.tokens {
		s.tokens[t] = now
	}
}

func errInvalidLogin() *apiError {
	return newErr(http.StatusUnauthorized, "INVALID_LOGIN", detailInvalidLogin)
}
