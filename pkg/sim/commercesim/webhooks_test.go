package commercesim

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type hit struct {
	path   string
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint answering with answer.
type receiver struct {
	mu     sync.Mutex
	hits   []hit
	answer func(w http.ResponseWriter)
	srv    *httptest.Server
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter)) *receiver {
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.hits = append(rc.hits, hit{r.URL.Path, r.Header.Clone(), b})
		rc.mu.Unlock()
		rc.answer(w)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hit(nil), rc.hits...)
}

func okAnswer(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"op":"success"}`))
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestWebhookRSASignatureOverBase64Body(t *testing.T) {
	rc := newReceiver(t, okAnswer)
	key := rsaKey()
	s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL + "/webhooks/commerce", PrivateKey: key,
		Headers: map[string]string{"Authorization": "Bearer s3cret"}}})
	o := mustPlace(t, s, "uk", OrderSpec{Buyer: BuyerGuest, Firstname: "Zoë", Lastname: "Łódź", Email: "zoe@example.com",
		Lines: []LineSpec{{SKU: "MS09", Child: "MS09-L-Red", Qty: 2}, {SKU: "WB04", Qty: 1}}})
	if o.Delivery == nil || !o.Delivery.Success || o.Delivery.Outcome != "success" {
		t.Fatalf("delivery %+v", o.Delivery)
	}
	hits := rc.got()
	if len(hits) != 1 {
		t.Fatalf("%d hits", len(hits))
	}
	h := hits[0]
	if h.path != "/webhooks/commerce/order-placed" {
		t.Fatalf("path %s", h.path)
	}
	for name, want := range map[string]string{"Content-Type": "application/json", "Authorization": "Bearer s3cret", "X-Mlc-Store": "uk"} {
		if got := h.header.Get(name); got != want {
			t.Errorf("%s = %q want %q", name, got, want)
		}
	}
	if h.header.Get(HeaderRequestID) == "" {
		t.Error("no request id")
	}
	sig, err := base64.StdEncoding.DecodeString(h.header.Get(HeaderSignature))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(h.body)))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, d[:], sig); err != nil {
		t.Fatalf("signature over base64(body) does not verify: %v", err)
	}
	raw := sha256.Sum256(h.body)
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, raw[:], sig); err == nil {
		t.Fatal("signature verifies over the raw body; the module signs base64(body)")
	}
	body := string(h.body)
	for _, want := range []string{`"eventName":"sales_order_place_after"`, `Zo\u00eb`, `\u0141\u00f3d\u017a`, `\/`,
		`"extension_attributes":[]`, `"address_type":"shipping"`, `"increment_id":"2000000001"`, `"status_histories":[]`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	if strings.Contains(body, "Zoë") || strings.Contains(body, ": ") || strings.Contains(body, `"entity_id"`) {
		t.Errorf("body not PHP-like or has entity_id before save: %s", body)
	}
	// Configurable line: parent and child with the child's SKU.
	var ev struct {
		Data struct {
			Order struct {
				Items []struct {
					SKU         string  `json:"sku"`
					ProductType string  `json:"product_type"`
					Price       float64 `json:"price"`
				} `json:"items"`
				GrandTotal float64 `json:"grand_total"`
			} `json:"order"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.body, &ev); err != nil {
		t.Fatal(err)
	}
	it := ev.Data.Order.Items
	if len(it) != 3 || it[0].ProductType != "configurable" || it[0].SKU != "MS09-L-Red" || it[1].ProductType != "simple" || it[1].SKU != "MS09-L-Red" || it[1].Price != 0 {
		t.Fatalf("items %+v", it)
	}
	if f, _ := o.GrandTotal.Float64(); f != ev.Data.Order.GrandTotal {
		t.Fatalf("grand total %v vs %v", o.GrandTotal, ev.Data.Order.GrandTotal)
	}
}

func TestWebhookHMACMode(t *testing.T) {
	rc := newReceiver(t, okAnswer)
	secret := []byte("shared-secret")
	s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL, Mode: "hmac", Secret: secret}})
	c, err := s.RegisterCustomer(context.Background(), "default", CustomerSpec{Firstname: "Zoë", Email: "zoe@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h := rc.got()[0]
	if h.path != "/customer-created" || h.header.Get(HeaderSignature) != SignHMAC(secret, h.body) {
		t.Fatalf("path %s sig %q", h.path, h.header.Get(HeaderSignature))
	}
	var ev struct {
		EventName string `json:"eventName"`
		Data      struct {
			Customer struct {
				ID    int    `json:"id"`
				Email string `json:"email"`
			} `json:"customer"`
			AccountController json.RawMessage `json:"account_controller"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.EventName != "customer_register_success" || ev.Data.Customer.ID != c.ID || string(ev.Data.AccountController) != "[]" {
		t.Fatalf("%s", h.body)
	}
}

func TestWebhookInvoiceEvents(t *testing.T) {
	rc := newReceiver(t, okAnswer)
	s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL, Mode: "none"}})
	o := mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest, Lines: []LineSpec{{SKU: "24-WG088", Qty: 1}}})
	ctx := context.Background()
	if _, err := s.SaveInvoice(ctx, o.EntityID, InvoiceOpen); err != nil {
		t.Fatal(err)
	}
	inv, err := s.CaptureInvoice(ctx, o.EntityID)
	if err != nil {
		t.Fatal(err)
	}
	if inv.State != InvoicePaid || !inv.GrandTotal.Equal(o.GrandTotal) {
		t.Fatalf("invoice %+v order total %s", inv, o.GrandTotal)
	}
	if _, err := s.CaptureInvoice(ctx, o.EntityID); !errors.Is(err, ErrCannotInvoice) {
		t.Fatalf("second capture: %v", err)
	}
	hits := rc.got()
	if len(hits) != 3 || hits[0].header.Get(HeaderSignature) != "" {
		t.Fatalf("%d hits", len(hits))
	}
	for i, wantState := range []string{`"state":1`, `"state":2`} {
		b := string(hits[i+1].body)
		if hits[i+1].path != "/invoice-captured" || !strings.Contains(b, `"eventName":"sales_order_invoice_save_after"`) ||
			!strings.Contains(b, `"data_object":{`) || !strings.Contains(b, `"invoice":{`) || !strings.Contains(b, wantState) ||
			!strings.Contains(b, `"order_increment_id":"`+o.IncrementID+`"`) {
			t.Fatalf("invoice body %d: %s", i, b)
		}
	}
}

func TestWebhookResponseJudgement(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		success bool
	}{
		{"op object", 200, `{"op":"success"}`, true},
		{"op array", 200, `[{"op":"success"},{"op":"add","path":"x","value":1}]`, true},
		{"201", 201, `{"op":"success"}`, false},
		{"204", 204, ``, false},
		{"503", 503, `{"op":"success"}`, false},
		{"not json", 200, `ok`, false},
		{"empty array", 200, `[]`, false},
		{"no op", 200, `{"status":"ok"}`, false},
		{"exception", 200, `{"op":"exception","message":"no"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter) {
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			})
			s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL}})
			o, err := s.PlaceOrder(context.Background(), "default", OrderSpec{})
			d := s.Deliveries()
			if len(d) == 0 {
				t.Fatal("no delivery")
			}
			last := d[len(d)-1]
			if last.Success != c.success || last.StatusCode != c.status || (c.success != (last.Outcome == "success")) {
				t.Fatalf("delivery %+v", last)
			}
			// required=false: only an exception op aborts the flow.
			if c.name == "exception" {
				if !errors.Is(err, ErrCheckoutAborted) || o.Placed {
					t.Fatalf("exception should abort: %v", err)
				}
			} else if err != nil || !o.Placed {
				t.Fatalf("not required, should place: %v", err)
			}
		})
	}
}

func TestWebhookRequiredFailureAbortsCheckout(t *testing.T) {
	rc := newReceiver(t, func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
	s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL, Required: true}})
	o, err := s.PlaceOrder(context.Background(), "default", OrderSpec{Buyer: BuyerGuest})
	if !errors.Is(err, ErrCheckoutAborted) || o.Placed {
		t.Fatalf("err %v placed %v", err, o.Placed)
	}
	if st, b := call(t, s, "GET", "/V1/orders", url.Values{"searchCriteria": {""}}, nil); st != 200 || decode(t, b)["total_count"].(float64) != 0 {
		t.Fatalf("aborted order visible: %s", b)
	}
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter) {
		<-release
		okAnswer(w)
	})
	defer close(release)
	s := NewTestServer(t, Config{Webhooks: WebhookConfig{BaseURL: rc.srv.URL, Timeout: 50 * time.Millisecond, SoftTimeout: 10 * time.Millisecond}})
	o, err := s.PlaceOrder(context.Background(), "default", OrderSpec{Buyer: BuyerGuest})
	if err != nil || !o.Placed {
		t.Fatalf("not required: %v", err)
	}
	d := o.Delivery
	if d.Success || !strings.HasPrefix(d.Outcome, "timeout") || !d.SoftTimeout {
		t.Fatalf("delivery %+v", d)
	}
}

func TestWebhookDropAndDuplicateRates(t *testing.T) {
	rc := newReceiver(t, okAnswer)
	s := NewTestServer(t, Config{Seed: 7, Webhooks: WebhookConfig{BaseURL: rc.srv.URL, DropRate: 0.2, DuplicateRate: 0.2}})
	const n = 200
	for range n {
		mustPlace(t, s, "default", OrderSpec{Buyer: BuyerGuest})
	}
	var dropped, dups, sent int
	for _, d := range s.Deliveries() {
		switch {
		case d.Dropped:
			dropped++
		case d.Duplicate:
			dups++
		}
		if !d.Dropped {
			sent++
		}
	}
	if dropped < 20 || dropped > 60 || dups < 15 || dups > 60 {
		t.Fatalf("dropped %d dups %d of %d", dropped, dups, n)
	}
	if got := len(rc.got()); got != sent || sent != n-dropped+dups {
		t.Fatalf("receiver saw %d, sent %d", got, sent)
	}
	// Duplicates carry the same body.
	bodies := map[string]int{}
	for _, h := range rc.got() {
		bodies[string(h.body)]++
	}
	twice := 0
	for _, c := range bodies {
		if c == 2 {
			twice++
		}
	}
	if twice != dups {
		t.Fatalf("%d bodies twice, %d dups", twice, dups)
	}
	// Dropped orders are still placed: the poll must find them.
	if len(s.Orders()) != n {
		t.Fatal("orders missing")
	}
}
