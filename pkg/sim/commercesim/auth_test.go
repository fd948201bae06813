package commercesim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"
)

func dghubbleClient(s *Server, creds OAuth1Credentials) *http.Client {
	cfg := oauth1.Config{ConsumerKey: creds.ConsumerKey, ConsumerSecret: creds.ConsumerSecret,
		Signer: &oauth1.HMAC256Signer{ConsumerSecret: creds.ConsumerSecret}}
	return cfg.Client(context.Background(), oauth1.NewToken(creds.AccessToken, creds.AccessTokenSecret))
}

func TestOAuth1SignedWithLibraryAccepted(t *testing.T) {
	s := NewTestServer(t, Config{})
	mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	c := dghubbleClient(s, s.Config().OAuth1)
	q := newSearch().filter(0, 0, "increment_id", "000000001", "eq").page(10, 1)
	resp, err := c.Get(s.StoreBaseURL("default") + "/V1/orders?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if m := decode(t, b); m["total_count"].(float64) != 1 {
		t.Fatalf("total_count %v", m["total_count"])
	}
}

func TestOAuth1Refusals(t *testing.T) {
	s := NewTestServer(t, Config{})
	good := s.Config().OAuth1
	signed := func(creds OAuth1Credentials, nonce string, at time.Time, rawQuery string) *http.Request {
		req, _ := http.NewRequest("GET", s.StoreBaseURL("default")+"/V1/orders?"+rawQuery, nil)
		if err := SignOAuth1(req, creds, nonce, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	q := newSearch().page(5, 1).Encode()

	t.Run("good", func(t *testing.T) {
		if st, b := do(t, signed(good, nonce(t), time.Now(), q)); st != 200 {
			t.Fatalf("status %d %s", st, b)
		}
	})
	t.Run("wrong consumer secret", func(t *testing.T) {
		bad := good
		bad.ConsumerSecret = "nope"
		st, b := do(t, signed(bad, nonce(t), time.Now(), q))
		if st != 401 || !strings.Contains(string(b), "The signature is invalid") {
			t.Fatalf("status %d %s", st, b)
		}
	})
	t.Run("wrong token secret", func(t *testing.T) {
		bad := good
		bad.AccessTokenSecret = "nope"
		if st, _ := do(t, signed(bad, nonce(t), time.Now(), q)); st != 401 {
			t.Fatalf("status %d", st)
		}
	})
	t.Run("nonce reuse", func(t *testing.T) {
		n := nonce(t)
		if st, b := do(t, signed(good, n, time.Now(), q)); st != 200 {
			t.Fatalf("first: %d %s", st, b)
		}
		st, b := do(t, signed(good, n, time.Now(), q))
		if st != 401 || !strings.Contains(string(b), "nonce is already being used") {
			t.Fatalf("reuse: %d %s", st, b)
		}
	})
	t.Run("skew", func(t *testing.T) {
		if st, b := do(t, signed(good, nonce(t), time.Now().Add(-590*time.Second), q)); st != 200 {
			t.Fatalf("590s old: %d %s", st, b)
		}
		st, b := do(t, signed(good, nonce(t), time.Now().Add(-601*time.Second), q))
		if st != 401 || !strings.Contains(string(b), "timestamp") {
			t.Fatalf("601s old: %d %s", st, b)
		}
		if st, _ := do(t, signed(good, nonce(t), time.Now().Add(700*time.Second), q)); st != 401 {
			t.Fatalf("future: %d", st)
		}
	})
	t.Run("query tampered after signing", func(t *testing.T) {
		req := signed(good, nonce(t), time.Now(), q)
		v := req.URL.Query()
		v.Set("searchCriteria[pageSize]", "6")
		req.URL.RawQuery = v.Encode()
		if st, b := do(t, req); st != 401 || !strings.Contains(string(b), "signature is invalid") {
			t.Fatalf("status %d %s", st, b)
		}
	})
	t.Run("path tampered after signing", func(t *testing.T) {
		req := signed(good, nonce(t), time.Now(), q)
		req.URL.Path = "/rest/uk/V1/orders"
		if st, _ := do(t, req); st != 401 {
			t.Fatalf("status %d", st)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.StoreBaseURL("default")+"/V1/orders?searchCriteria=", nil)
		st, b := do(t, req)
		if st != 401 || !strings.Contains(string(b), "%resources") {
			t.Fatalf("status %d %s", st, b)
		}
	})
}

func TestBearerIntegrationToken(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		s := NewTestServer(t, Config{BearerEnabled: enabled})
		req, _ := http.NewRequest("GET", s.StoreBaseURL("all")+"/V1/orders?searchCriteria=", nil)
		req.Header.Set("Authorization", "Bearer "+s.Config().OAuth1.AccessToken)
		st, b := do(t, req)
		if !enabled {
			m := decode(t, b)
			params, _ := m["parameters"].(map[string]any)
			if st != 401 || m["message"] != "The consumer isn't authorized to access %resources." || params["resources"] != "Magento_Sales::actions_view" {
				t.Fatalf("disabled: %d %s", st, b)
			}
			continue
		}
		if st != 200 {
			t.Fatalf("enabled: %d %s", st, b)
		}
	}
}

func imsToken(t *testing.T, s *Server, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.URL()+"/ims/token/v3", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, decode(t, b)
}

func TestIMSFlow(t *testing.T) {
	s := NewTestServer(t, Config{Flavour: SaaS, IMS: IMSConfig{TokenLifetime: time.Hour}})
	ims := s.Config().IMS
	form := url.Values{"client_id": {ims.ClientID}, "client_secret": {ims.ClientSecret}, "grant_type": {"client_credentials"},
		"scope": {"openid,AdobeID,email,profile,additional_info.roles,additional_info.projectedProductContext,commerce.accs"}}

	noScope := url.Values{}
	for k, v := range form {
		noScope[k] = v
	}
	noScope.Set("scope", "openid,AdobeID")
	if st, _ := imsToken(t, s, noScope); st != 400 {
		t.Fatalf("missing commerce.accs: %d", st)
	}
	badSecret := url.Values{}
	for k, v := range form {
		badSecret[k] = v
	}
	badSecret.Set("client_secret", "x")
	if st, _ := imsToken(t, s, badSecret); st != 401 {
		t.Fatalf("bad secret: %d", st)
	}
	st, tok := imsToken(t, s, form)
	if st != 200 || tok["token_type"] != "bearer" || tok["expires_in"].(float64) != 3599 {
		t.Fatalf("token: %d %v", st, tok)
	}
	access := tok["access_token"].(string)

	get := func(token, apiKey, org string) int {
		req, _ := http.NewRequest("GET", s.StoreBaseURL("")+"/V1/orders?searchCriteria=", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("x-api-key", apiKey)
		req.Header.Set("x-gw-ims-org-id", org)
		st, _ := do(t, req)
		return st
	}
	if st := get(access, ims.ClientID, ims.OrgID); st != 200 {
		t.Fatalf("good token: %d", st)
	}
	if st := get(access, "other", ims.OrgID); st != 403 {
		t.Fatalf("wrong api key: %d", st)
	}
	if st := get(access, ims.ClientID, "other@AdobeOrg"); st != 403 {
		t.Fatalf("wrong org: %d", st)
	}
	if st := get("forged", ims.ClientID, ims.OrgID); st != 401 {
		t.Fatalf("forged: %d", st)
	}
	// OAuth 1.0a is not accepted on SaaS.
	if st, _ := call(t, s, "GET", "/V1/orders", nil, nil); st != 401 {
		t.Fatalf("oauth on saas: %d", st)
	}
	s.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if st := get(access, ims.ClientID, ims.OrgID); st != 401 {
		t.Fatalf("expired: %d", st)
	}
}

func TestOAuth1BaseURLAsTheServerSeesIt(t *testing.T) {
	// Without SetBaseURL the request's own scheme and Host are used.
	s := New(Config{})
	t.Cleanup(s.Close)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	req, _ := http.NewRequest("GET", ts.URL+"/rest/all/V1/orders?searchCriteria=", nil)
	if err := SignOAuth1(req, s.Config().OAuth1, nonce(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	if st, b := do(t, req); st != 200 {
		t.Fatalf("host-derived: %d %s", st, b)
	}
	// A proxy that changes the host breaks the signature.
	s.SetBaseURL("https://shop.example.com")
	req, _ = http.NewRequest("GET", ts.URL+"/rest/all/V1/orders?searchCriteria=", nil)
	if err := SignOAuth1(req, s.Config().OAuth1, nonce(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	if st, _ := do(t, req); st != 401 {
		t.Fatalf("proxied host: %d", st)
	}
}
