package netsuite

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Token timing (ref §2.1, §2.3).
const (
	assertionLifetime = 5 * time.Minute // exp - iat; NetSuite wants < 60 min
	renewBefore       = 60 * time.Second
	defaultTokenLife  = time.Hour
	tokenCallTimeout  = 30 * time.Second
	// authHoldOff is how long a configuration error is answered from memory
	// instead of asking the token endpoint again, so a busy caller cannot
	// hammer it with assertions it will refuse.
	authHoldOff = time.Minute
)

// ScopeFormat is how several scopes are written into the assertion's scope
// claim; Oracle's text, samples and community code disagree (ref §2.1). A
// single scope is always sent as a plain string.
type ScopeFormat int

const (
	ScopeComma ScopeFormat = iota // "restlets,rest_webservices" (Oracle's text)
	ScopeSpace                    // "restlets rest_webservices" (OAuth style)
	ScopeArray                    // ["restlets","rest_webservices"] (Oracle's sample)
)

// ScopeRESTWebServices is the only scope the connector needs.
const ScopeRESTWebServices = "rest_webservices"

// ParsePrivateKey reads the first private key in PEM data: PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY").
// Other blocks (a certificate, EC parameters) are skipped.
func ParsePrivateKey(pemData []byte) (crypto.Signer, error) {
	rest := pemData
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("netsuite: no private key PEM block found")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("netsuite: parse %s: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		default:
			return nil, fmt.Errorf("netsuite: unsupported private key type %T (NetSuite takes RSA or EC P-256/384/521)", key)
		}
	}
}

// signingMethodFor picks the algorithm for a key: PS256 for RSA (RS256 is
// refused by NetSuite), ES256/384/512 by EC curve.
func signingMethodFor(key crypto.Signer) (jwt.SigningMethod, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return jwt.SigningMethodPS256, nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return jwt.SigningMethodES256, nil
		case elliptic.P384():
			return jwt.SigningMethodES384, nil
		case elliptic.P521():
			return jwt.SigningMethodES512, nil
		}
		return nil, fmt.Errorf("netsuite: unsupported EC curve %s", k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("netsuite: unsupported key type %T", key)
}

func signingMethodByName(alg string, key crypto.Signer) (jwt.SigningMethod, error) {
	switch strings.ToUpper(alg) {
	case "PS256", "PS384", "PS512":
		if _, ok := key.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("netsuite: algorithm %s needs an RSA key, have %T", alg, key)
		}
		return jwt.GetSigningMethod(strings.ToUpper(alg)), nil
	case "ES256", "ES384", "ES512":
		m, err := signingMethodFor(key)
		if err != nil || m.Alg() != strings.ToUpper(alg) {
			return nil, fmt.Errorf("netsuite: algorithm %s does not match the key's curve", alg)
		}
		return m, nil
	}
	return nil, fmt.Errorf("netsuite: algorithm %q not allowed (PS256/384/512, ES256/384/512; RS256 was withdrawn)", alg)
}

// assertionSigner builds client assertions (ref §2.1).
type assertionSigner struct {
	clientID, certID, aud string
	method                jwt.SigningMethod
	key                   crypto.Signer
	scopes                []string
	scopeFormat           ScopeFormat
}

func (s *assertionSigner) scopeClaim() any {
	if len(s.scopes) == 1 {
		return s.scopes[0]
	}
	switch s.scopeFormat {
	case ScopeSpace:
		return strings.Join(s.scopes, " ")
	case ScopeArray:
		return s.scopes
	}
	return strings.Join(s.scopes, ",")
}

// sign returns a fresh assertion valid from now for five minutes.
func (s *assertionSigner) sign(now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"iss":   s.clientID,
		"aud":   s.aud,
		"scope": s.scopeClaim(),
		"iat":   now.Unix(),
		"exp":   now.Add(assertionLifetime).Unix(),
		"jti":   uuid.NewString(),
	}
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["typ"] = "JWT"
	tok.Header["kid"] = s.certID
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("netsuite: sign client assertion: %w", err)
	}
	return signed, nil
}

// accessToken is a cached bearer token.
type accessToken struct {
	value   string
	expiry  time.Time
	renewAt time.Time // expiry less a margin of 60 s, or half the lifetime for short-lived tokens
}

// tokenResponse is the token endpoint's success body.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
	TokenType   string          `json:"token_type"`
}

// parseTokenResponse decodes a 200 answer, taking expires_in as a number or
// a numeric string and token_type case-insensitively (ref §2.2).
func parseTokenResponse(body []byte, now time.Time) (accessToken, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return accessToken{}, fmt.Errorf("netsuite: decode token response: %w", err)
	}
	if tr.AccessToken == "" {
		return accessToken{}, errors.New("netsuite: token response has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return accessToken{}, fmt.Errorf("netsuite: token_type %q is not bearer", tr.TokenType)
	}
	life := defaultTokenLife
	if raw := bytes.TrimSpace(tr.ExpiresIn); len(raw) > 0 && string(raw) != "null" {
		s := strings.Trim(string(raw), `"`)
		secs, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || secs < 0 || secs > 1e7 {
			return accessToken{}, fmt.Errorf("netsuite: bad expires_in %s", raw)
		}
		life = time.Duration(secs * float64(time.Second))
	}
	return accessToken{value: tr.AccessToken, expiry: now.Add(life), renewAt: now.Add(life - min(renewBefore, life/2))}, nil
}

// tokenSource caches the access token and renews it single-flight.
type tokenSource struct {
	signer   *assertionSigner
	tokenURL string
	http     *http.Client
	now      func() time.Time

	mu       sync.Mutex
	tok      accessToken
	inflight *tokenCall
	failErr  error // last ErrAuthConfig, answered until failedAt+authHoldOff
	failedAt time.Time
}

type tokenCall struct {
	done chan struct{}
	tok  accessToken
	err  error
}

// token returns a bearer token with at least a minute left (half its life
// for short-lived tokens), fetching one if needed. Concurrent callers share one exchange; a caller whose ctx ends
// stops waiting but the exchange completes for the others.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	if ts.tok.value != "" && ts.now().Before(ts.tok.renewAt) {
		v := ts.tok.value
		ts.mu.Unlock()
		return v, nil
	}
	if ts.failErr != nil && ts.now().Sub(ts.failedAt) < authHoldOff {
		err := ts.failErr
		ts.mu.Unlock()
		return "", err
	}
	call := ts.inflight
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		ts.inflight = call
		go ts.exchange(context.WithoutCancel(ctx), call)
	}
	ts.mu.Unlock()
	select {
	case <-call.done:
		if call.err != nil {
			return "", call.err
		}
		return call.tok.value, nil
	case <-ctx.Done():
		return "", fmt.Errorf("netsuite: waiting for token: %w", ctx.Err())
	}
}

func (ts *tokenSource) exchange(ctx context.Context, call *tokenCall) {
	ctx, cancel := context.WithTimeout(ctx, tokenCallTimeout)
	defer cancel()
	tok, err := ts.fetch(ctx)
	ts.mu.Lock()
	if err == nil {
		ts.tok = tok
		ts.failErr = nil
	} else if errors.Is(err, ErrAuthConfig) {
		ts.failErr, ts.failedAt = err, ts.now()
	}
	ts.inflight = nil
	ts.mu.Unlock()
	call.tok, call.err = tok, err
	close(call.done)
}

// invalidate drops the cached token if it is still the one that failed, so
// a newer token fetched meanwhile survives.
func (ts *tokenSource) invalidate(value string) {
	ts.mu.Lock()
	if ts.tok.value == value {
		ts.tok = accessToken{}
	}
	ts.mu.Unlock()
}

// fetch runs the client-credentials exchange: on invalid_grant or a 500 it
// signs a fresh assertion and tries once more; anything else a 4xx says is
// a configuration error (ref §2.3).
func (ts *tokenSource) fetch(ctx context.Context) (accessToken, error) {
	var last *Error
	for attempt := 0; attempt < 2; attempt++ {
		tok, nsErr, err := ts.post(ctx)
		if err != nil {
			return accessToken{}, err
		}
		if nsErr == nil {
			return tok, nil
		}
		last = nsErr
		switch {
		case nsErr.Status == http.StatusBadRequest && nsErr.Code == "invalid_grant":
			continue
		case nsErr.Status == http.StatusInternalServerError:
			continue
		case nsErr.Status == http.StatusTooManyRequests || nsErr.Status >= 500:
			return accessToken{}, nsErr // throttled or unavailable: the caller backs off
		default:
			return accessToken{}, ts.configError(nsErr)
		}
	}
	return accessToken{}, ts.configError(last)
}

func (ts *tokenSource) post(ctx context.Context) (accessToken, *Error, error) {
	assertion, err := ts.signer.sign(ts.now())
	if err != nil {
		return accessToken{}, nil, err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return accessToken{}, nil, fmt.Errorf("netsuite: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := ts.http.Do(req)
	if err != nil {
		return accessToken{}, nil, transportError("POST token", false, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return accessToken{}, nil, transportError("POST token", false, err)
	}
	if resp.StatusCode != http.StatusOK {
		return accessToken{}, parseError("POST token", resp.StatusCode, resp.Header, body), nil
	}
	tok, err := parseTokenResponse(body, ts.now())
	return tok, nil, err
}

func (ts *tokenSource) configError(e *Error) error {
	s := ts.signer
	return fmt.Errorf("%w: the token endpoint refused the client assertion (%w); check the certificate ID (kid %q) "+
		"is the one mapped under OAuth 2.0 Client Credentials (M2M) Setup, the client ID (iss %q) is the integration's, "+
		"the algorithm %s matches the uploaded certificate's key, the private key belongs to that certificate, "+
		"and that no sandbox refresh wiped the M2M mapping",
		ErrAuthConfig, e, s.certID, s.clientID, s.method.Alg())
}
