package commerce

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// receiver is a minimal ingest endpoint: verify the raw body, decode, answer
// like the connector (200 {"op":"success"}, 401 on a bad signature).
type receiver struct {
	v        WebhookVerifier
	mu       sync.Mutex
	orders   []OrderPlaced
	invoices []InvoiceSaved
	custs    []CustomerCreated
	errs     []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err == nil {
		err = rc.v.Verify(raw, r.Header)
	}
	if err == nil {
		rc.mu.Lock()
		switch r.URL.Path {
		case "/order-placed":
			var o OrderPlaced
			if o, err = DecodeOrderPlaced(raw); err == nil {
				rc.orders = append(rc.orders, o)
			}
		case "/invoice-captured":
			var i InvoiceSaved
			if i, err = DecodeInvoiceSaved(raw); err == nil {
				rc.invoices = append(rc.invoices, i)
			}
		case "/customer-created":
			var c CustomerCreated
			if c, err = DecodeCustomerCreated(raw); err == nil {
				rc.custs = append(rc.custs, c)
			}
		}
		rc.mu.Unlock()
	}
	if err != nil {
		rc.mu.Lock()
		rc.errs = append(rc.errs, err)
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"op":"success"}`)
}

func TestSimWebhooks(t *testing.T) {
	a, b := testKeys(t)
	rsaV, err := NewRSAVerifier(pubPEM(t, a))
	if err != nil {
		t.Fatal(err)
	}
	hmacV, _ := NewHMACVerifier([]byte("shared"))
	cases := []struct {
		name string
		v    WebhookVerifier
		cfg  commercesim.WebhookConfig
		ok   bool
	}{
		{"rsa", rsaV, commercesim.WebhookConfig{Mode: "rsa", PrivateKey: a}, true},
		{"rsa other key", rsaV, commercesim.WebhookConfig{Mode: "rsa", PrivateKey: b}, false},
		{"hmac", hmacV, commercesim.WebhookConfig{Mode: "hmac", Secret: []byte("shared")}, true},
		{"hmac receiver, rsa sender", hmacV, commercesim.WebhookConfig{Mode: "rsa", PrivateKey: a}, false},
		{"unsigned", rsaV, commercesim.WebhookConfig{Mode: "none"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{v: tc.v}
			hs := httptest.NewServer(rc)
			defer hs.Close()
			cfg := tc.cfg
			cfg.BaseURL = hs.URL
			s := commercesim.NewTestServer(t, commercesim.Config{Seed: 13, Webhooks: cfg})
			cu, err := s.RegisterCustomer(t.Context(), "default", commercesim.CustomerSpec{})
			if err != nil {
				t.Fatal(err)
			}
			var placed []commercesim.Order
			for range 5 {
				o, err := s.PlaceOrder(t.Context(), "default", commercesim.OrderSpec{})
				if err != nil {
					t.Fatal(err)
				}
				placed = append(placed, o)
			}
			inv, err := s.CaptureInvoice(t.Context(), placed[0].EntityID)
			if err != nil {
				t.Fatal(err)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if !tc.ok {
				if len(rc.orders)+len(rc.invoices)+len(rc.custs) != 0 || len(rc.errs) == 0 {
					t.Fatalf("accepted %d/%d/%d, errors %v", len(rc.orders), len(rc.invoices), len(rc.custs), rc.errs)
				}
				for _, err := range rc.errs {
					if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMissingSignature) {
						t.Fatalf("rejected for another reason: %v", err)
					}
				}
				return
			}
			if len(rc.errs) != 0 {
				t.Fatalf("rejected: %v", rc.errs)
			}
			if len(rc.orders) != 5 {
				t.Fatalf("%d orders", len(rc.orders))
			}
			for i, o := range rc.orders {
				if o.IncrementID != placed[i].IncrementID || o.EventName != "sales_order_place_after" || o.CustomerEmail != placed[i].CustomerEmail {
					t.Errorf("order %d: %+v, placed %s %s", i, o, placed[i].IncrementID, placed[i].CustomerEmail)
				}
			}
			var captured []InvoiceSaved
			for _, i := range rc.invoices {
				if i.Captured() {
					captured = append(captured, i)
				}
			}
			if len(captured) != 1 || captured[0].IncrementID != inv.IncrementID || captured[0].OrderID != int64(placed[0].EntityID) {
				t.Fatalf("invoices %+v, captured %s", rc.invoices, inv.IncrementID)
			}
			found := false
			for _, c := range rc.custs {
				found = found || (c.ID == int64(cu.ID) && strings.EqualFold(c.Email, cu.Email))
			}
			if !found {
				t.Fatalf("customers %+v, registered %d %s", rc.custs, cu.ID, cu.Email)
			}
			for _, d := range s.Deliveries() {
				if !d.Success {
					t.Errorf("delivery %s judged %q", d.Event, d.Outcome)
				}
			}
		})
	}
}
