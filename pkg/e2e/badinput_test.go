package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// badRequest is one hostile webhook and the answer it must get.
type badRequest struct {
	name   string
	path   string
	body   []byte
	header http.Header
	status int
	says   string // part of the answer that tells the sender what is wrong
}

// The running system is sent what a careless or hostile client sends:
// unsigned, tampered, truncated, oversized, form-encoded, unknown events
// and stores, hostile increment_ids. Each gets a clear 4xx, nothing is
// stored, no process falls over, and a real order still goes through.
func badInputScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "bad_input", env: map[string]string{
		"MLC_TRANSFORM_CONFIRM_WINDOW": "4s", "MLC_TRANSFORM_CONFIRM_RETRY": "250ms"}})
	ctx := context.Background()
	o, err := s.sims.Commerce.PlaceOrder(ctx, "default", commercesim.OrderSpec{})
	if err != nil || o.Delivery == nil || !o.Delivery.Success {
		t.Fatalf("a real order: %v %+v", err, o.Delivery)
	}
	before := s.commerceMsgs(t)
	good := o.Delivery.Body
	withID := func(id any) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		m["data"].(map[string]any)["order"].(map[string]any)["increment_id"] = id
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tampered := bytes.Replace(good, []byte(o.IncrementID), []byte("999999999"), 1)
	const orders = "/webhooks/commerce/order-placed"
	cases := []badRequest{
		{name: "unsigned", path: orders, body: good, header: http.Header{}, status: 401, says: "signature"},
		{name: "tampered", path: orders, body: tampered, header: s.signed(good), status: 401, says: "signature"},
		{name: "truncated, signed as sent", path: orders, body: good[:len(good)/2], header: s.signed(good[:len(good)/2]), status: 400, says: ""},
		{name: "truncated in transit", path: orders, body: good[:len(good)/2], header: s.signed(good), status: 401, says: "signature"},
		{name: "oversized", path: orders, body: bytes.Repeat([]byte("x"), 2<<20), header: http.Header{}, status: 413, says: "limit"},
		{name: "form-encoded", path: orders, body: []byte("increment_id=1&store=default"), status: 400,
			header: s.signed([]byte("increment_id=1&store=default"), "Content-Type", "application/x-www-form-urlencoded")},
		{name: "unknown event", path: "/webhooks/commerce/order-deleted", body: good, header: s.signed(good), status: 404, says: "unknown webhook"},
		{name: "unknown store", path: orders, body: good, header: s.signed(good, commercesim.HeaderStore, "nowhere"), status: 401, says: "not connected"},
		{name: "store in path unknown", path: "/webhooks/commerce/us.east/order-placed", body: good, header: s.signed(good), status: 401, says: "not connected"},
		{name: "empty increment_id", path: orders, body: withID(""), header: s.signed(withID("")), status: 400, says: "increment_id"},
		{name: "increment_id null", path: orders, body: withID(nil), header: s.signed(withID(nil)), status: 400, says: "increment_id"},
		{name: "increment_id blank", path: orders, body: withID(" \t "), header: s.signed(withID(" \t ")), status: 400, says: "increment_id"},
		{name: "increment_id a list", path: orders, body: withID([]any{"1", "2"}), header: s.signed(withID([]any{"1", "2"})), status: 400, says: "increment_id"},
		{name: "increment_id an object", path: orders, body: withID(map[string]any{"$gt": ""}), header: s.signed(withID(map[string]any{"$gt": ""})), status: 400, says: "increment_id"},
		{name: "increment_id too long", path: orders, body: withID(strings.Repeat("9", 300)), header: s.signed(withID(strings.Repeat("9", 300))), status: 400, says: "external id"},
	}
	for _, c := range cases {
		status, answer := s.post(t, c.path, c.body, c.header)
		if status != c.status || !strings.Contains(answer, c.says) || !strings.Contains(answer, `"error"`) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, status, clip(answer, 300), c.status, c.says)
		}
	}
	if after := s.commerceMsgs(t); after != before {
		t.Errorf("COMMERCE holds %d messages after the sweep, %d before: a bad request was stored", after, before)
	}
	// Signed ids that are odd but storable (a numeric id as PHP may send
	// it, path and markup characters, spaces, non-ASCII) are stored once,
	// each under its own external id; as no such order is in Commerce,
	// transform reports each as a phantom and NetSuite gets nothing.
	odd := []any{12.5, "../../etc/passwd", "<script>alert(1)</script>", "1 OR 1=1", "00 01", "Zoë-0001", "a.b>c*"}
	for _, id := range odd {
		b := withID(id)
		for range 2 {
			if status, answer := s.post(t, orders, b, s.signed(b)); status != http.StatusOK {
				t.Errorf("increment_id %v: %d %s", id, status, answer)
			}
		}
	}
	if after := s.commerceMsgs(t); after != before+uint64(len(odd)) {
		t.Errorf("COMMERCE holds %d messages, want %d: each odd id once", after, before+uint64(len(odd)))
	}
	for name, p := range s.procs {
		if !p.alive() {
			t.Errorf("%s died during the sweep", name)
		}
	}
	res := s.scenario(traffic(10, 10), nil)
	phantoms := 0
	if _, err := audit.ScanStream(ctx, s.js, event.StreamSync, audit.Scan{Subject: event.SyncSubject(false, event.KindSalesOrder)}, func(r audit.Row) error {
		if r.Status == event.StatusPhantom {
			phantoms++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if phantoms != len(odd) {
		t.Errorf("%d phantom outcomes, want one for each of the %d odd ids", phantoms, len(odd))
	}
	return res
}

// signed is the header set the Commerce simulator sends with body, plus
// extra header pairs.
func (s *system) signed(body []byte, kv ...string) http.Header {
	s.t.Helper()
	sig, err := commercesim.SignRSA(s.sims.WebhookKey, body)
	if err != nil {
		s.t.Fatal(err)
	}
	h := http.Header{}
	h.Set(commercesim.HeaderSignature, sig)
	h.Set(commercesim.HeaderStore, "default")
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func (s *system) post(t *testing.T, path string, body []byte, h http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.ingest+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *system) commerceMsgs(t *testing.T) uint64 {
	t.Helper()
	st, err := s.js.Stream(context.Background(), event.StreamCommerce)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
