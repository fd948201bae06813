package commerce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// RFC 5849 §3.4.1.1's worked example (query, form body and protocol
// parameters, realm excluded), written out by hand in the RFC.
func TestSignatureBaseStringRFC5849(t *testing.T) {
	u, _ := url.Parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
	params := u.Query()
	form, _ := url.ParseQuery("c2&a3=2+q")
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	for k, v := range map[string]string{"realm": "Example", "oauth_consumer_key": "9djdj82h48djs9d2", "oauth_token": "kkk9d7dh3k39sjv7",
		"oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131201", "oauth_nonce": "7d8f3e4a", "oauth_signature": "x"} {
		params.Set(k, v)
	}
	want := "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
		"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_" +
		"key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m" +
		"ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk" +
		"9d7dh3k39sjv7"
	if got := SignatureBaseString("post", u, params); got != want {
		t.Fatalf("base string\n got %s\nwant %s", got, want)
	}
}

// The signature of a Commerce-style GET: default port dropped, host lower-cased,
// query parameters (decoded, then re-encoded) in the base string; the expected
// value was computed with openssl over the hand-written base string.
func TestOAuth1Authorize(t *testing.T) {
	a, err := NewOAuth1(OAuth1Credentials{ConsumerKey: "ck", ConsumerSecret: "c&s", AccessToken: "at", AccessTokenSecret: "t+s"},
		OAuth1Clock(func() time.Time { return time.Unix(1700000000, 0) }), OAuth1Nonce(func() string { return "n0nce" }))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"searchCriteria[sort]": {"a b"}, "searchCriteria[pageSize]": {"2"}}
	req, _ := http.NewRequest("GET", "https://Shop.Example.com:443/rest/default/V1/orders?"+q.Encode(), nil)
	if err := a.Authorize(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	h := req.Header.Get("Authorization")
	want := `OAuth oauth_consumer_key="ck", oauth_nonce="n0nce", oauth_signature="4E8BH3kUXqHUCt4%2Bd%2Faf1eOWW1HvtxdsSUFaaoJKUKw%3D", ` +
		`oauth_signature_method="HMAC-SHA256", oauth_timestamp="1700000000", oauth_token="at", oauth_version="1.0"`
	if h != want {
		t.Fatalf("header\n got %s\nwant %s", h, want)
	}
}

func TestOAuth1FreshNonceAndBearer(t *testing.T) {
	a, err := NewOAuth1(OAuth1Credentials{ConsumerKey: "ck", ConsumerSecret: "cs", AccessToken: "at", AccessTokenSecret: "ts"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 50 {
		req, _ := http.NewRequest("GET", "https://x/V1/orders", nil)
		_ = a.Authorize(t.Context(), req)
		h := req.Header.Get("Authorization")
		i := strings.Index(h, `oauth_nonce="`)
		nonce := h[i+13 : i+13+32]
		if seen[nonce] {
			t.Fatalf("nonce %s reused", nonce)
		}
		seen[nonce] = true
	}
	b, err := NewOAuth1(OAuth1Credentials{AccessToken: "at"}, OAuth1Bearer(true))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "https://x/V1/orders", nil)
	_ = b.Authorize(t.Context(), req)
	if req.Header.Get("Authorization") != "Bearer at" {
		t.Fatal(req.Header.Get("Authorization"))
	}
	if _, err := NewOAuth1(OAuth1Credentials{ConsumerKey: "ck"}); err == nil || !strings.Contains(err.Error(), "access token secret") {
		t.Fatalf("incomplete credentials: %v", err)
	}
}

func TestCredentialsMasked(t *testing.T) {
	o := OAuth1Credentials{ConsumerKey: "ck-visible?", ConsumerSecret: "SECRET1", AccessToken: "SECRET2", AccessTokenSecret: "SECRET3"}
	i := IMSCredentials{ClientID: "cid", ClientSecret: "SECRET4", OrgID: "org@AdobeOrg"}
	cfg := Config{OAuth1: o, IMS: i}
	js, _ := json.Marshal(cfg)
	a, _ := NewOAuth1(o)
	ims, _ := NewIMS(i)
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprint(i), fmt.Sprintf("%#v", i),
		fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(js), fmt.Sprint(a), fmt.Sprint(ims)} {
		if strings.Contains(s, "SECRET") {
			t.Errorf("secret leaked: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(i), "cid") {
		t.Error("client id should be visible")
	}
}

func TestSearchCriteriaValues(t *testing.T) {
	sc := SearchCriteria{}.
		Where(F("updated_at", CondGteq, "2024-01-01 00:00:00")).
		Where(F("status", "", "pending"), F("status", CondEq, "processing")).
		OrderBy("updated_at", "ASC").OrderBy("entity_id", "").
		Page(100, 1)
	want := "searchCriteria%5BcurrentPage%5D=1" +
		"&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bcondition_type%5D=gteq" +
		"&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bfield%5D=updated_at" +
		"&searchCriteria%5Bfilter_groups%5D%5B0%5D%5Bfilters%5D%5B0%5D%5Bvalue%5D=2024-01-01+00%3A00%3A00" +
		"&searchCriteria%5Bfilter_groups%5D%5B1%5D%5Bfilters%5D%5B0%5D%5Bcondition_type%5D=eq" +
		"&searchCriteria%5Bfilter_groups%5D%5B1%5D%5Bfilters%5D%5B0%5D%5Bfield%5D=status" +
		"&searchCriteria%5Bfilter_groups%5D%5B1%5D%5Bfilters%5D%5B0%5D%5Bvalue%5D=pending" +
		"&searchCriteria%5Bfilter_groups%5D%5B1%5D%5Bfilters%5D%5B1%5D%5Bcondition_type%5D=eq" +
		"&searchCriteria%5Bfilter_groups%5D%5B1%5D%5Bfilters%5D%5B1%5D%5Bfield%5D=status" +
		"&searchCriteria%5Bfilter_groups%5D%5B1%5D%5Bfilters%5D%5B1%5D%5Bvalue%5D=processing" +
		"&searchCriteria%5BpageSize%5D=100" +
		"&searchCriteria%5BsortOrders%5D%5B0%5D%5Bdirection%5D=ASC" +
		"&searchCriteria%5BsortOrders%5D%5B0%5D%5Bfield%5D=updated_at" +
		"&searchCriteria%5BsortOrders%5D%5B1%5D%5Bdirection%5D=ASC" +
		"&searchCriteria%5BsortOrders%5D%5B1%5D%5Bfield%5D=entity_id"
	if got := sc.Values().Encode(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// Builders copy: deriving from sc leaves sc alone.
	_ = sc.Where(F("x", "eq", "1"))
	if len(sc.Groups) != 2 {
		t.Fatal("Where mutated its receiver")
	}
}

func TestKeysetCriteria(t *testing.T) {
	cur := Cursor{UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), EntityID: 42}
	v := keysetCriteria(cur, time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC), 300, nil).Values()
	g := func(k string) string { return v.Get("searchCriteria" + k) }
	checks := map[string]string{
		"[filter_groups][0][filters][0][field]": "updated_at", "[filter_groups][0][filters][0][condition_type]": "gteq",
		"[filter_groups][0][filters][0][value]": "2026-01-02 03:04:05",
		"[filter_groups][1][filters][0][field]": "updated_at", "[filter_groups][1][filters][0][condition_type]": "gt",
		"[filter_groups][1][filters][1][field]": "entity_id", "[filter_groups][1][filters][1][condition_type]": "gt",
		"[filter_groups][1][filters][1][value]":          "42",
		"[filter_groups][2][filters][0][condition_type]": "lteq", "[filter_groups][2][filters][0][value]": "2026-01-02 04:00:00",
		"[sortOrders][0][field]": "updated_at", "[sortOrders][1][field]": "entity_id", "[sortOrders][1][direction]": "ASC",
		"[pageSize]": "300", "[currentPage]": "1",
	}
	for k, want := range checks {
		if got := g(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

func TestCursorJSON(t *testing.T) {
	c := Cursor{UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), EntityID: 7}
	b, err := json.Marshal(c)
	if err != nil || string(b) != `{"updated_at":"2026-01-02 03:04:05","entity_id":7}` {
		t.Fatalf("%s %v", b, err)
	}
	var back Cursor
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Fatalf("%+v %v", back, err)
	}
	if r := c.Rewind(10 * time.Minute); r.EntityID != 0 || !r.UpdatedAt.Equal(c.UpdatedAt.Add(-10*time.Minute)) {
		t.Fatalf("rewind %+v", r)
	}
	if err := json.Unmarshal([]byte(`{"updated_at":"yesterday"}`), &back); err == nil {
		t.Fatal("bad cursor accepted")
	}
}

func TestAsyncPath(t *testing.T) {
	auth, _ := NewOAuth1(OAuth1Credentials{AccessToken: "x"}, OAuth1Bearer(true))
	paas, _ := New("https://shop.example.com/rest/all/", PaaS, auth)
	saas, _ := New("https://na1.api.commerce.adobe.com/tenant", SaaS, auth)
	cases := []struct {
		c    *Client
		bulk bool
		want string
	}{
		{paas, true, "async/bulk/V1/products/bySku"},
		{paas, false, "async/V1/products/bySku"},
		{saas, true, "V1/async/bulk/products/bySku"},
		{saas, false, "V1/async/products/bySku"},
	}
	for _, c := range cases {
		if got := c.c.asyncPath(c.bulk, "V1/products/bySku"); got != c.want {
			t.Errorf("%v bulk=%v: %s, want %s", c.c.Flavour(), c.bulk, got, c.want)
		}
	}
	if paas.BaseURL() != "https://shop.example.com/rest/all" {
		t.Error(paas.BaseURL())
	}
	for _, bad := range []string{"shop.example.com", "ftp://x/rest", "https://x/rest/all/V1", "https://x/rest?a=1"} {
		if _, err := New(bad, PaaS, auth); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestNewFromConfig(t *testing.T) {
	c, err := NewFromConfig(Config{BaseURL: "https://x/tenant", Auth: "ims", IMS: IMSCredentials{ClientID: "a", ClientSecret: "b", OrgID: "c"}})
	if err != nil || c.Flavour() != SaaS {
		t.Fatalf("ims: %v", err)
	}
	if _, ok := c.auth.(*IMS); !ok {
		t.Fatalf("ims: %T", c.auth)
	}
	c, err = NewFromConfig(Config{BaseURL: "https://x/rest/all", OAuth1: OAuth1Credentials{"a", "b", "c", "d"}})
	if err != nil || c.Flavour() != PaaS {
		t.Fatalf("oauth1: %v", err)
	}
	if _, err := NewFromConfig(Config{BaseURL: "https://x/rest/all", Auth: "basic"}); err == nil {
		t.Fatal("unknown auth accepted")
	}
	if _, err := NewFromConfig(Config{BaseURL: "https://x/rest/all", Auth: "ims"}); err == nil {
		t.Fatal("empty ims credentials accepted")
	}
	if a, err := NewAuthenticator(Config{Auth: "oauth1"}, nil); err == nil || a != nil {
		t.Fatalf("empty oauth1: %v %v", a, err)
	}
}

func TestRESTTypesTolerance(t *testing.T) {
	body := `{"entity_id":"3","increment_id":"000000003","store_id":1,"created_at":"2017-08-21 22:22:19","updated_at":"2017-08-21 22:22:19",
	"customer_is_guest":0,"grand_total":104.59,"discount_amount":-5,"items":[{"item_id":5,"sku":"MS09-M-Red","product_type":"configurable","qty_ordered":1,"price":32},
	{"item_id":6,"sku":"MS09-M-Red","product_type":"simple","parent_item_id":"5","qty_ordered":1,"price":0}],
	"billing_address":{"address_type":"billing","street":["1 Main St"],"city":"Austin"},
	"payment":{"method":"checkmo","additional_information":[]},
	"extension_attributes":{"shipping_assignments":[{"shipping":{"address":{"address_type":"shipping","city":"Dallas"},"method":"flatrate_flatrate","total":{"shipping_amount":5}},"items":[]}]}}`
	var o Order
	if err := json.Unmarshal([]byte(body), &o); err != nil {
		t.Fatal(err)
	}
	if o.EntityID != 3 || !o.GrandTotal.Equal(decimal.RequireFromString("104.59")) || o.Items[1].ParentItemID != 5 ||
		o.ShippingAddress().City != "Dallas" || o.ShippingMethod() != "flatrate_flatrate" || o.UpdatedAt.Hour() != 22 {
		t.Fatalf("%+v", o)
	}
	var empty Order
	if err := json.Unmarshal([]byte(`{"increment_id":"1","extension_attributes":[],"customer_id":null}`), &empty); err != nil || empty.ShippingAddress() != nil {
		t.Fatalf("[] extension attributes: %v", err)
	}
	var cu Customer
	if err := json.Unmarshal([]byte(`{"id":1,"default_billing":"4","addresses":[{"id":4,"region":[],"default_billing":true},{"region":"Texas"},{"region":{"region_code":"TX","region_id":57}}]}`), &cu); err != nil || cu.DefaultBilling != 4 ||
		cu.Addresses[1].Region.Region != "Texas" || cu.Addresses[2].Region.RegionCode != "TX" || cu.Addresses[2].Region.RegionID != 57 {
		t.Fatalf("customer: %v %+v", err, cu)
	}
	var inv Invoice
	if err := json.Unmarshal([]byte(`{"entity_id":1,"increment_id":"1","state":"2"}`), &inv); err != nil || !inv.Captured() {
		t.Fatalf("invoice: %v", err)
	}
}
