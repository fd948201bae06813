package commercesim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// oauthSkew is Commerce's allowed clock deviation (Nonce\Generator::TIME_DEVIATION).
const oauthSkew = 600

func urlPathUnescape(s string) (string, error) { return url.PathUnescape(s) }

// authenticate returns the auth kind, or a refusal status and body.
func (s *Server) authenticate(r *http.Request, resource string) (string, int, any) {
	resourcesDenied := errorBody("The consumer isn't authorized to access %resources.", Object{{"resources", resource}})
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	if s.cfg.Flavour == SaaS {
		return s.authIMS(r, h)
	}
	switch {
	case len(h) > 6 && strings.EqualFold(h[:6], "OAuth "):
		if st, body := s.verifyOAuth1(r, h[6:]); st != 0 {
			return "", st, body
		}
		return "oauth1", 0, nil
	case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "):
		tok := strings.TrimSpace(h[7:])
		if s.cfg.BearerEnabled && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.OAuth1.AccessToken)) == 1 {
			return "bearer", 0, nil
		}
		// IMS against PaaS: accepted when the token came from our IMS endpoint.
		s.mu.Lock()
		_, isIMS := s.imsTokens[tok]
		s.mu.Unlock()
		if isIMS {
			return s.authIMS(r, h)
		}
		return "", http.StatusUnauthorized, resourcesDenied
	}
	// Anonymous: Commerce runs the ACL check as a guest and fails it.
	return "", http.StatusUnauthorized, resourcesDenied
}

func oauthErr(msg string, params any) (int, any) {
	return http.StatusUnauthorized, errorBody(msg, params)
}

// parseOAuthHeader parses `k="v", k2="v2"` (values percent-encoded).
func parseOAuthHeader(h string) (map[string]string, bool) {
	out := map[string]string{}
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, false
		}
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(strings.TrimSuffix(v, `"`), `"`)
		dk, err1 := url.QueryUnescape(strings.TrimSpace(k))
		dv, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, false
		}
		out[dk] = dv
	}
	return out, true
}

// verifyOAuth1 checks an OAuth 1.0a request per RFC 5849 like Commerce's
// Oauth::validateAccessTokenRequest: protocol params, timestamp skew, nonce
// (recorded before the signature is checked), token, signature.
func (s *Server) verifyOAuth1(r *http.Request, h string) (int, any) {
	p, ok := parseOAuthHeader(h)
	if !ok {
		return oauthErr("The signature is invalid. Verify and try again.", nil)
	}
	for _, req := range []string{"oauth_consumer_key", "oauth_signature_method", "oauth_signature", "oauth_nonce", "oauth_timestamp", "oauth_token"} {
		if p[req] == "" {
			return oauthErr("\"%fieldName\" is required. Enter and try again.", Object{{"fieldName", req}})
		}
	}
	if v, ok := p["oauth_version"]; ok && v != "1.0" {
		return oauthErr("The \"%1\" Oauth version isn't supported.", []any{v})
	}
	var algo func() hash.Hash
	switch p["oauth_signature_method"] {
	case "HMAC-SHA256":
		algo = sha256.New
	case "HMAC-SHA1":
		algo = sha1.New
	default:
		return oauthErr("Signature method %1 is not supported", []any{p["oauth_signature_method"]})
	}
	creds := s.cfg.OAuth1
	if p["oauth_consumer_key"] != creds.ConsumerKey {
		return oauthErr("A consumer with \"%1\" ID doesn't exist. Verify the ID and try again.", []any{p["oauth_consumer_key"]})
	}
	ts, err := strconv.ParseInt(p["oauth_timestamp"], 10, 64)
	if err != nil || ts <= 0 {
		return oauthErr("The timestamp is invalid. Verify and try again.", nil)
	}
	s.mu.Lock()
	now := s.nowLocked().Unix()
	if d := now - ts; d > oauthSkew || d < -oauthSkew {
		s.mu.Unlock()
		return oauthErr("The timestamp is out of the allowed range. Verify the timestamp and try again.", nil)
	}
	nk := creds.ConsumerKey + "|" + p["oauth_nonce"]
	if _, used := s.nonces[nk]; used {
		s.mu.Unlock()
		return oauthErr("The nonce is already being used by the consumer with ID %1.", []any{"1"})
	}
	s.nonces[nk] = ts
	// Forget nonces whose timestamp can no longer pass the skew check.
	if len(s.nonces) > 4096 {
		for k, t := range s.nonces {
			if now-t > 2*oauthSkew {
				delete(s.nonces, k)
			}
		}
	}
	base := s.baseURL
	if base == "" {
		// Like Commerce: the URL as this request presents it.
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	s.mu.Unlock()

	if p["oauth_token"] != creds.AccessToken {
		return oauthErr("The token length is invalid. Check the length and try again.", nil)
	}
	want, err := s.oauthSignature(r, p, base, creds, algo)
	if err != nil || !hmac.Equal([]byte(want), []byte(p["oauth_signature"])) {
		return oauthErr("The signature is invalid. Verify and try again.", nil)
	}
	return 0, nil
}

// oauthSignature computes the RFC 5849 signature for r as the server sees
// it: base URL from SetBaseURL plus the request path, oauth params from the
// header, query params and form-encoded body params; never a JSON body.
func (s *Server) oauthSignature(r *http.Request, p map[string]string, base string, creds OAuth1Credentials, algo func() hash.Hash) (string, error) {
	type pair struct{ k, v string }
	var pairs []pair
	for k, v := range p {
		if k == "oauth_signature" || k == "realm" {
			continue
		}
		pairs = append(pairs, pair{PercentEncode(k), PercentEncode(v)})
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, pair{PercentEncode(k), PercentEncode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, pr := range pairs {
		parts[i] = pr.k + "=" + pr.v
	}
	baseURI := normalizeBaseURI(base + r.URL.EscapedPath())
	msg := strings.ToUpper(r.Method) + "&" + PercentEncode(baseURI) + "&" + PercentEncode(strings.Join(parts, "&"))
	key := PercentEncode(creds.ConsumerSecret) + "&" + PercentEncode(creds.AccessTokenSecret)
	mac := hmac.New(algo, []byte(key))
	mac.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// normalizeBaseURI lowercases scheme and host and drops default ports.
func normalizeBaseURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndex(host, ":")]
	}
	return scheme + "://" + host + u.EscapedPath()
}

// PercentEncode is RFC 3986 encoding as OAuth 1.0a requires: only
// A-Z a-z 0-9 - . _ ~ stay.
func PercentEncode(s string) string {
	const hx = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hx[c>>4])
		b.WriteByte(hx[c&15])
	}
	return b.String()
}

// SignOAuth1 sets an OAuth 1.0a HMAC-SHA256 Authorization header on req, for
// tests and tools that drive the simulator without a client library. nonce
// and timestamp are taken as given.
func SignOAuth1(req *http.Request, creds OAuth1Credentials, nonce string, ts time.Time) error {
	p := map[string]string{
		"oauth_consumer_key":     creds.ConsumerKey,
		"oauth_token":            creds.AccessToken,
		"oauth_signature_method": "HMAC-SHA256",
		"oauth_timestamp":        strconv.FormatInt(ts.Unix(), 10),
		"oauth_nonce":            nonce,
		"oauth_version":          "1.0",
	}
	base := req.URL.Scheme + "://" + req.URL.Host
	sig, err := (&Server{}).oauthSignature(req, p, base, creds, sha256.New)
	if err != nil {
		return err
	}
	p["oauth_signature"] = sig
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = PercentEncode(k) + `="` + PercentEncode(p[k]) + `"`
	}
	req.Header.Set("Authorization", "OAuth "+strings.Join(parts, ", "))
	return nil
}

// authIMS checks the SaaS gateway headers and the IMS token.
func (s *Server) authIMS(r *http.Request, h string) (string, int, any) {
	if len(h) <= 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", http.StatusUnauthorized, Object{{"error_code", "401013"}, {"message", "Oauth token is not valid"}}
	}
	if r.Header.Get("x-api-key") != s.cfg.IMS.ClientID {
		return "", http.StatusForbidden, Object{{"error_code", "403000"}, {"message", "Api Key is invalid"}}
	}
	if r.Header.Get("x-gw-ims-org-id") != s.cfg.IMS.OrgID {
		return "", http.StatusForbidden, Object{{"error_code", "403003"}, {"message", "Api Key is not allowed to access the organization"}}
	}
	tok := strings.TrimSpace(h[7:])
	s.mu.Lock()
	exp, ok := s.imsTokens[tok]
	now := s.nowLocked()
	s.mu.Unlock()
	if !ok || !now.Before(exp) {
		return "", http.StatusUnauthorized, Object{{"error_code", "401013"}, {"message", "Oauth token is not valid"}}
	}
	return "ims", 0, nil
}

// handleIMSToken serves POST /ims/token/v3 (client_credentials).
func (s *Server) handleIMSToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, Object{{"error", "method_not_allowed"}})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, Object{{"error", "invalid_request"}, {"error_description", err.Error()}})
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "client_credentials":
		writeJSON(w, http.StatusBadRequest, Object{{"error", "unsupported_grant_type"}, {"error_description", "unsupported grant_type"}})
		return
	case f.Get("client_id") != s.cfg.IMS.ClientID:
		writeJSON(w, http.StatusBadRequest, Object{{"error", "invalid_client"}, {"error_description", "invalid client_id parameter"}})
		return
	case subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.cfg.IMS.ClientSecret)) != 1:
		writeJSON(w, http.StatusUnauthorized, Object{{"error", "invalid_client"}, {"error_description", "invalid client_secret parameter"}})
		return
	}
	hasScope := false
	for _, sc := range strings.FieldsFunc(f.Get("scope"), func(r rune) bool { return r == ',' || r == ' ' }) {
		if sc == "commerce.accs" {
			hasScope = true
		}
	}
	if !hasScope {
		writeJSON(w, http.StatusBadRequest, Object{{"error", "invalid_scope"}, {"error_description", "Invalid scope (commerce.accs is required)"}})
		return
	}
	tok := "eyJhbGciOiJSUzI1NiIsIng1dSI6Imltc19uYTEta2V5LWF0LTEuY2VyIn0." + s.randHex(48)
	s.mu.Lock()
	s.imsTokens[tok] = s.nowLocked().Add(s.cfg.IMS.TokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, Object{{"access_token", tok}, {"token_type", "bearer"}, {"expires_in", int64(s.cfg.IMS.TokenLifetime/time.Second) - 1}})
}
