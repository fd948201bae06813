package commerce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// simBody is a real webhook body from the Commerce simulator and the
// decoder it is for: "order", "invoice", "customer" or "io".
type simBody struct {
	kind, shape string
	body        []byte
}

var (
	simOnce   sync.Once
	simCached []simBody
	simErr    error
)

// simBodies returns every shape the decoders read, from the simulator:
// observer webhooks (data.order, data.invoice, data.customer), the same
// records as plugin payloads ({"order":…}, {"result":…}, {"entity":…},
// {"customer":…}) and I/O Events deliveries of all three. Built once per
// process (the fuzz workers each build their own).
func simBodies(tb testing.TB) []simBody {
	tb.Helper()
	simOnce.Do(func() { simCached, simErr = buildSimBodies(tb) })
	if simErr != nil {
		tb.Fatal(simErr)
	}
	return simCached
}

func buildSimBodies(tb testing.TB) ([]simBody, error) {
	var mu sync.Mutex
	var out []simBody
	capture := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		kind := map[string]string{"/order-placed": "order", "/invoice-captured": "invoice", "/customer-created": "customer", "/io": "io"}[r.URL.Path]
		if kind != "" && r.Method == http.MethodPost {
			mu.Lock()
			out = append(out, simBody{kind: kind, shape: "observer", body: b})
			mu.Unlock()
		}
		_, _ = io.WriteString(w, `{"op":"success"}`)
	})
	hs := httptest.NewServer(capture)
	defer hs.Close()
	a, b := testKeys(tb)
	s := commercesim.New(commercesim.Config{Seed: 21,
		Webhooks: commercesim.WebhookConfig{BaseURL: hs.URL, Mode: "none", Timeout: 5 * time.Second},
		IOEvents: commercesim.IOEventsConfig{URL: hs.URL + "/io", Keys: []*rsa.PrivateKey{a, b}, RetrySchedule: []time.Duration{},
			Timeout: 5 * time.Second}})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cu, err := s.RegisterCustomer(ctx, "default", commercesim.CustomerSpec{Firstname: "Zoë", Lastname: "O'Brien"})
	if err != nil {
		return nil, err
	}
	var first commercesim.Order
	for i := range 6 {
		spec := commercesim.OrderSpec{}
		if i%2 == 1 {
			spec.CustomerID = cu.ID
		}
		o, err := s.PlaceOrder(ctx, "default", spec)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = o
		}
	}
	if _, err := s.CaptureInvoice(ctx, first.EntityID); err != nil {
		return nil, err
	}
	if err := s.WaitIOEvents(ctx); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	// The plugin shapes carry the observer's record at the top level.
	plugin := map[string][]string{"order": {"order", "result"}, "invoice": {"invoice", "entity", "result"}, "customer": {"customer", "result"}}
	dataKey := map[string]string{"order": "order", "invoice": "invoice", "customer": "customer"}
	var more []simBody
	for _, sb := range out {
		if sb.kind == "io" {
			continue // shape set below
		}
		var top struct {
			Data map[string]json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(sb.body, &top); err != nil {
			return nil, err
		}
		rec := top.Data[dataKey[sb.kind]]
		for _, k := range plugin[sb.kind] {
			more = append(more, simBody{kind: sb.kind, shape: "plugin " + k, body: []byte(`{"` + k + `":` + string(rec) + `,"subject":[]}`)})
		}
	}
	for i, sb := range out {
		if sb.kind == "io" {
			var ev struct{ Type string }
			if err := json.Unmarshal(sb.body, &ev); err != nil {
				return nil, err
			}
			out[i].shape = ev.Type[strings.LastIndex(ev.Type, ".")+1:]
		}
	}
	out = append(out, more...)
	kinds := map[string]int{}
	for _, sb := range out {
		kinds[sb.kind]++
	}
	if kinds["order"] < 6 || kinds["invoice"] < 1 || kinds["customer"] < 1 || kinds["io"] < 8 {
		return nil, fmt.Errorf("simulator sent too few bodies: %v", kinds)
	}
	return out, nil
}

// BenchmarkDecodeSim decodes the simulator's bodies, one sub-benchmark per
// kind and shape (the first body of each): "order/observer" is the 2-4 KB
// order webhook ingest receives most.
//
//	go test -run '^$' -bench 'Decode' -benchmem ./commerce/
func BenchmarkDecodeSim(b *testing.B) {
	seen := map[string]bool{}
	for _, sb := range simBodies(b) {
		name := sb.kind + "/" + strings.ReplaceAll(sb.shape, " ", "-")
		if seen[name] {
			continue
		}
		seen[name] = true
		decode := decoderFor(sb.kind)
		body := sb.body
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if err := decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// decoderFor is the decode a receiver of kind runs; an I/O event is decoded
// with its record.
func decoderFor(kind string) func([]byte) error {
	switch kind {
	case "order":
		return func(b []byte) error { _, err := DecodeOrderPlaced(b); return err }
	case "invoice":
		return func(b []byte) error { _, err := DecodeInvoiceSaved(b); return err }
	case "customer":
		return func(b []byte) error { _, err := DecodeCustomerCreated(b); return err }
	}
	return func(b []byte) error {
		e, err := DecodeIOEvent(b)
		if err != nil {
			return err
		}
		switch {
		case strings.Contains(e.Type, "order"):
			_, err = e.Order()
		case strings.Contains(e.Type, "invoice"):
			_, err = e.Invoice()
		default:
			_, err = e.Customer()
		}
		return err
	}
}
