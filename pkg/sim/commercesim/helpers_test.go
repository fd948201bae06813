package commercesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func nonce(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// call sends a signed (OAuth 1.0a) request to path under the store base URL
// and returns status and body.
func call(t testing.TB, s *Server, method, path string, q url.Values, body any) (int, []byte) {
	t.Helper()
	u := s.StoreBaseURL("default") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := SignOAuth1(req, s.Config().OAuth1, nonce(t), time.Now()); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func mustPlace(t testing.TB, s *Server, store string, spec OrderSpec) Order {
	t.Helper()
	o, err := s.PlaceOrder(context.Background(), store, spec)
	if err != nil {
		t.Fatalf("place order: %v", err)
	}
	return o
}

// search builds searchCriteria query values.
type search struct{ url.Values }

func newSearch() search { return search{url.Values{}} }

func (q search) filter(g, f int, field, value, cond string) search {
	p := "searchCriteria[filter_groups][" + itoa(g) + "][filters][" + itoa(f) + "]"
	q.Set(p+"[field]", field)
	q.Set(p+"[value]", value)
	if cond != "" {
		q.Set(p+"[condition_type]", cond)
	}
	return q
}

func (q search) sort(i int, field, dir string) search {
	q.Set("searchCriteria[sortOrders]["+itoa(i)+"][field]", field)
	q.Set("searchCriteria[sortOrders]["+itoa(i)+"][direction]", dir)
	return q
}

func (q search) page(size, cur int) search {
	q.Set("searchCriteria[pageSize]", itoa(size))
	q.Set("searchCriteria[currentPage]", itoa(cur))
	return q
}

func itoa(n int) string { return strconv.Itoa(n) }
