package commerce

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dghubble/oauth1"
)

// OAuth1Credentials are the four values of a Commerce integration (ref §12).
// String, GoString and MarshalJSON mask the secrets.
type OAuth1Credentials struct {
	ConsumerKey       string
	ConsumerSecret    string
	AccessToken       string
	AccessTokenSecret string
}

func (c OAuth1Credentials) String() string {
	return fmt.Sprintf("OAuth1Credentials{ConsumerKey:%s ConsumerSecret:%s AccessToken:%s AccessTokenSecret:%s}",
		mask(c.ConsumerKey), mask(c.ConsumerSecret), mask(c.AccessToken), mask(c.AccessTokenSecret))
}

func (c OAuth1Credentials) GoString() string { return c.String() }

func (c OAuth1Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"consumer_key": mask(c.ConsumerKey), "consumer_secret": mask(c.ConsumerSecret),
		"access_token": mask(c.AccessToken), "access_token_secret": mask(c.AccessTokenSecret),
	})
}

// Validate reports a missing value.
func (c OAuth1Credentials) Validate() error {
	var missing []string
	for name, v := range map[string]string{"consumer key": c.ConsumerKey, "consumer secret": c.ConsumerSecret,
		"access token": c.AccessToken, "access token secret": c.AccessTokenSecret} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("commerce: oauth1 credentials: missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// mask shows that a value is set without revealing it.
func mask(s string) string {
	if s == "" {
		return `""`
	}
	return "****"
}

// OAuth1 signs requests with OAuth 1.0a HMAC-SHA256 (RFC 5849), query
// parameters included, a fresh nonce per request; or, with OAuth1Bearer,
// sends the access token as a plain Bearer token.
type OAuth1 struct {
	creds  OAuth1Credentials
	bearer bool
	now    func() time.Time
	nonce  func() string
	signer oauth1.Signer
}

// OAuth1Option configures OAuth1.
type OAuth1Option func(*OAuth1)

// OAuth1Bearer sends the integration access token as "Authorization: Bearer".
// Commerce refuses it unless the store enabled bearer use of integration
// tokens (ref §12); signing is the default and the recommendation.
func OAuth1Bearer(on bool) OAuth1Option { return func(a *OAuth1) { a.bearer = on } }

// OAuth1Clock replaces the timestamp source (tests, skew).
func OAuth1Clock(now func() time.Time) OAuth1Option { return func(a *OAuth1) { a.now = now } }

// OAuth1Nonce replaces the nonce source (tests only: nonces must never repeat).
func OAuth1Nonce(nonce func() string) OAuth1Option { return func(a *OAuth1) { a.nonce = nonce } }

// NewOAuth1 returns the OAuth 1.0a authenticator.
func NewOAuth1(creds OAuth1Credentials, opts ...OAuth1Option) (*OAuth1, error) {
	a := &OAuth1{creds: creds, now: time.Now, nonce: randomNonce}
	for _, o := range opts {
		o(a)
	}
	if a.bearer {
		if creds.AccessToken == "" {
			return nil, errors.New("commerce: oauth1 bearer: missing access token")
		}
	} else if err := creds.Validate(); err != nil {
		return nil, err
	}
	a.signer = &oauth1.HMAC256Signer{ConsumerSecret: creds.ConsumerSecret}
	return a, nil
}

func (a *OAuth1) String() string {
	return fmt.Sprintf("commerce.OAuth1{bearer:%v creds:%s}", a.bearer, a.creds)
}

// Authorize sets the Authorization header for this attempt.
func (a *OAuth1) Authorize(_ context.Context, req *http.Request) error {
	if a.bearer {
		req.Header.Set("Authorization", "Bearer "+a.creds.AccessToken)
		return nil
	}
	oauthParams := map[string]string{
		"oauth_consumer_key":     a.creds.ConsumerKey,
		"oauth_token":            a.creds.AccessToken,
		"oauth_signature_method": a.signer.Name(),
		"oauth_timestamp":        strconv.FormatInt(a.now().Unix(), 10),
		"oauth_nonce":            a.nonce(),
		"oauth_version":          "1.0",
	}
	params := url.Values{}
	for k, vs := range req.URL.Query() {
		params[k] = append([]string(nil), vs...)
	}
	for k, v := range oauthParams {
		params.Add(k, v)
	}
	sig, err := a.signer.Sign(a.creds.AccessTokenSecret, SignatureBaseString(req.Method, req.URL, params))
	if err != nil {
		return fmt.Errorf("oauth1 sign: %w", err)
	}
	oauthParams["oauth_signature"] = sig
	req.Header.Set("Authorization", oauthHeader(oauthParams))
	return nil
}

func oauthHeader(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = oauth1.PercentEncode(k) + `="` + oauth1.PercentEncode(p[k]) + `"`
	}
	return "OAuth " + strings.Join(parts, ", ")
}

// SignatureBaseString is the RFC 5849 §3.4.1 base string: the upper-case
// method, the encoded base URI (lower-case scheme and host, default port
// dropped, no query) and the encoded, sorted parameter string. params holds
// every decoded query (and form) parameter plus the oauth_* protocol
// parameters except oauth_signature and realm.
func SignatureBaseString(method string, u *url.URL, params url.Values) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if h, port, ok := strings.Cut(host, ":"); ok && ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) {
		host = h
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range params {
		if k == "oauth_signature" || k == "realm" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, pair{oauth1.PercentEncode(k), oauth1.PercentEncode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	enc := make([]string, len(pairs))
	for i, p := range pairs {
		enc[i] = p.k + "=" + p.v
	}
	return strings.ToUpper(method) + "&" + oauth1.PercentEncode(scheme+"://"+host+path) + "&" +
		oauth1.PercentEncode(strings.Join(enc, "&"))
}

const nonceAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomNonce returns 32 random alphanumerics.
func randomNonce() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("commerce: crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	for i := range b {
		b[i] = nonceAlphabet[int(b[i])%len(nonceAlphabet)]
	}
	return string(b[:])
}
