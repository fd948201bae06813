package netsuitetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// exchange is one request the client sent and what came back.
type exchange struct {
	Method     string
	URL        *url.URL
	Header     http.Header
	Body       []byte
	Status     int // 0: transport error
	RespHeader http.Header
	RespBody   []byte
}

func (e exchange) isToken() bool { return strings.HasSuffix(e.URL.Path, tokenPath) }

func (e exchange) isWrite() bool {
	return e.Method == http.MethodPost && !strings.HasSuffix(e.URL.Path, suiteQLPath) ||
		e.Method == http.MethodPut || e.Method == http.MethodPatch
}

const (
	restPrefix  = "/services/rest"
	tokenPath   = restPrefix + "/auth/oauth2/v1/token"
	recordPath  = restPrefix + "/record/v1/"
	suiteQLPath = restPrefix + "/query/v1/suiteql"
)

// recorder is an http.RoundTripper that keeps every exchange.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []exchange
}

func (rec *recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	out := r.Clone(r.Context())
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		out.Body = io.NopCloser(bytes.NewReader(body))
	}
	ex := exchange{Method: r.Method, URL: r.URL, Header: r.Header.Clone(), Body: body}
	resp, err := rec.next.RoundTrip(out)
	if err == nil {
		rb, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(rb))
		ex.Status, ex.RespHeader, ex.RespBody = resp.StatusCode, resp.Header.Clone(), rb
		if rerr != nil {
			err = rerr
		}
	}
	rec.mu.Lock()
	rec.log = append(rec.log, ex)
	rec.mu.Unlock()
	return resp, err
}

// exchanges returns what was recorded so far.
func (rec *recorder) exchanges() []exchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]exchange(nil), rec.log...)
}

// api returns the API calls (token requests excluded).
func (rec *recorder) api() []exchange {
	var out []exchange
	for _, e := range rec.exchanges() {
		if !e.isToken() {
			out = append(out, e)
		}
	}
	return out
}

func (rec *recorder) tokens() []exchange {
	var out []exchange
	for _, e := range rec.exchanges() {
		if e.isToken() {
			out = append(out, e)
		}
	}
	return out
}

var eidCharset = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// checkWire holds every recorded exchange to the rules of the reference that
// apply to all calls, on both sides of the wire.
func checkWire(t *testing.T, rec *recorder) {
	t.Helper()
	issued := map[string]bool{}
	for i, e := range rec.exchanges() {
		where := e.Method + " " + e.URL.Path
		if e.isToken() {
			if e.Status == http.StatusOK {
				var tr struct {
					AccessToken string `json:"access_token"`
				}
				if err := json.Unmarshal(e.RespBody, &tr); err == nil {
					issued[tr.AccessToken] = true
				}
			}
			continue
		}
		// §2.2: every API call carries a token the endpoint issued.
		tok, ok := strings.CutPrefix(e.Header.Get("Authorization"), "Bearer ")
		if !ok || !issued[tok] {
			t.Errorf("#%d %s: Authorization is not 'Bearer <issued access token>'", i, where)
		}
		if strings.HasPrefix(e.URL.Path, recordPath) {
			for _, seg := range strings.Split(e.URL.Path, "/") {
				if ext, ok := strings.CutPrefix(seg, "eid:"); ok && !eidCharset.MatchString(ext) {
					t.Errorf("#%d %s: external id outside [A-Za-z0-9_-]", i, where)
				}
			}
		}
		if e.isWrite() {
			// §3: writes are JSON and ask for unknown fields to fail.
			if ct := e.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("#%d %s: Content-Type %q", i, where, ct)
			}
			if v := e.Header.Get("X-NetSuite-PropertyNameValidation"); v != "Error" {
				t.Errorf("#%d %s: X-NetSuite-PropertyNameValidation %q, want Error", i, where, v)
			}
			if !json.Valid(e.Body) {
				t.Errorf("#%d %s: body is not JSON: %q", i, where, e.Body)
			}
		}
		if strings.HasSuffix(e.URL.Path, suiteQLPath) && !strings.EqualFold(e.Header.Get("Prefer"), "transient") {
			t.Errorf("#%d %s: SuiteQL without Prefer: transient", i, where)
		}
		switch {
		case e.Status == http.StatusNoContent:
			// §3, §4.2: writes answer 204 with no body.
			if len(e.RespBody) != 0 {
				t.Errorf("#%d %s: 204 with a body %q", i, where, e.RespBody)
			}
		case e.Status >= 200 && e.Status < 300:
			if !jsonMedia(e.RespHeader.Get("Content-Type")) || !json.Valid(e.RespBody) {
				t.Errorf("#%d %s: %d answer is not JSON (%s): %q", i, where, e.Status, e.RespHeader.Get("Content-Type"), e.RespBody)
			}
		case e.Status >= 400:
			// §10: the error shape.
			var eb struct {
				Status  int               `json:"status"`
				Details []json.RawMessage `json:"o:errorDetails"`
			}
			if err := json.Unmarshal(e.RespBody, &eb); err != nil || eb.Status != e.Status || len(eb.Details) == 0 {
				t.Errorf("#%d %s: %d body is not NetSuite's error shape: %s", i, where, e.Status, e.RespBody)
			}
			if !jsonMedia(e.RespHeader.Get("Content-Type")) {
				t.Errorf("#%d %s: error media type %q", i, where, e.RespHeader.Get("Content-Type"))
			}
			if e.RespHeader.Get("Retry-After") != "" {
				t.Errorf("#%d %s: Retry-After is not documented", i, where)
			}
		}
	}
}

func jsonMedia(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/vnd.oracle.resource+json")
}

// jwtParts decodes a compact JWT's header and claims without verifying it.
func jwtParts(tok string) (header, claims map[string]any, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, nil, false
	}
	return header, claims, true
}
