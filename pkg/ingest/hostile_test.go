package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// rawRequest sends a request's headers and only the start of a body that
// Content-Length says is much longer, and reads the answer: ingest must
// answer without waiting for the rest.
func rawRequest(t *testing.T, url, path string, hdr map[string]string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n", path)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n{\"eventName\":\"sales_order_place_after\",")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	// Far more than an answer takes, far less than the server's 30 s read
	// timeout, after which a body-first handler would answer too.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestUnknownStoreIsRefusedBeforeTheBody(t *testing.T) {
	h := newHarness(t, options{io: &ioOptions{}})
	for _, c := range []struct {
		path string
		hdr  map[string]string
	}{
		{"/webhooks/commerce/order-placed", map[string]string{"X-Mlc-Store": "nowhere"}},
		{"/webhooks/commerce/nowhere/order-placed", nil},
		{"/webhooks/adobe-io/nowhere", nil},
		{"/webhooks/adobe-io", map[string]string{"X-Mlc-Store": "nowhere"}},
	} {
		resp := rawRequest(t, h.svc.URL, c.path, c.hdr)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), `nowhere`) {
			t.Errorf("%s %v: %d %s", c.path, c.hdr, resp.StatusCode, body)
		}
	}
	if n := h.total(); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

// A header value is never echoed or logged at its full size, and a header
// block over the limit is refused by the server itself.
func TestHugeHeadersAreRefusedAndNeverEchoed(t *testing.T) {
	h := newHarness(t, options{})
	body := []byte(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"1","store_id":1}}}`)
	huge := strings.Repeat("s", 900<<10)
	status, resp := h.post("/webhooks/commerce/order-placed", body, http.Header{"X-Mlc-Store": {huge}})
	if status != http.StatusRequestHeaderFieldsTooLarge || len(resp) > 1024 {
		t.Errorf("900 KB X-Mlc-Store: %d, %d byte answer", status, len(resp))
	}
	// Under the header limit, still far too long to echo.
	long := "store-" + strings.Repeat("x", 30<<10)
	status, resp = h.post("/webhooks/commerce/order-placed", body, http.Header{"X-Mlc-Store": {long},
		"X-Adobe-Commerce-Request-Id": {"req-" + strings.Repeat("r", 20<<10)}})
	if status != http.StatusUnauthorized || len(resp) > 1024 || !strings.Contains(resp, "store-xxxx") {
		t.Errorf("30 KB X-Mlc-Store: %d, %d byte answer %.200s", status, len(resp), resp)
	}
	// So is a long unknown event name in the path.
	status, resp = h.post("/webhooks/commerce/"+strings.Repeat("e", 20<<10), body, nil)
	if status != http.StatusNotFound || len(resp) > 1024 {
		t.Errorf("20 KB event name: %d, %d byte answer", status, len(resp))
	}
	h.waitFor("the rejections in the log", func() bool { return strings.Count(h.svc.Logs.String(), "webhook rejected") >= 2 })
	h.svc.Stop()
	for _, line := range strings.Split(h.svc.Logs.String(), "\n") {
		if len(line) > 2048 {
			t.Errorf("a %d byte log line: %.300s...", len(line), line)
		}
	}
}

// orderOfSize is a valid order webhook body of exactly n bytes (padded in
// an extra field) with the given increment id.
func orderOfSize(t *testing.T, n int, incrementID string) []byte {
	t.Helper()
	head := `{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"` + incrementID + `","store_id":1,"pad":"`
	tail := `"}}}`
	if n < len(head)+len(tail) {
		t.Fatalf("%d bytes is too small for an order", n)
	}
	return []byte(head + strings.Repeat("p", n-len(head)-len(tail)) + tail)
}

// The body limit sits below what NATS can store (its max_payload, less
// the envelope): a body at the limit is stored, anything bigger, however
// valid, is answered 413, never a 503 promising a backfill that could not
// store it either.
func TestBodyLimitFitsNATSMaxPayload(t *testing.T) {
	h := newHarness(t, options{})
	maxPayload := int(h.NC.MaxPayload())
	f, err := strconv.ParseFloat(h.metric("mlc_ingest_body_limit_bytes"), 64)
	limit := int(f)
	if err != nil || limit <= maxPayload/2 || limit >= maxPayload {
		t.Fatalf("body limit %d (%v) with NATS max_payload %d", limit, err, maxPayload)
	}
	sign := func(b []byte) http.Header {
		return http.Header{"X-Adobe-Commerce-Webhook-Signature": {signCommerce(t, h.WebhookKey, b)}}
	}
	for _, c := range []struct {
		name   string
		size   int
		want   int
		reason string
	}{
		{"at the limit", limit, http.StatusOK, ""},
		{"one byte over", limit + 1, http.StatusRequestEntityTooLarge, "limit"},
		{"just under NATS max_payload", maxPayload - 64, http.StatusRequestEntityTooLarge, "limit"},
	} {
		body := orderOfSize(t, c.size, "B"+strconv.Itoa(c.size))
		status, resp := h.post("/webhooks/commerce/order-placed", body, sign(body))
		if status != c.want || !strings.Contains(resp, c.reason) || strings.Contains(resp, "backfill") {
			t.Errorf("%s (%d bytes): %d %.200s, want %d", c.name, c.size, status, resp, c.want)
		}
	}
	if n := h.count(orderSubject); n != 1 {
		t.Fatalf("%d stored, want the one at the limit", n)
	}
	ev, _ := h.last(orderSubject)
	if len(ev.Data) != limit {
		t.Errorf("stored %d bytes of data, want %d", len(ev.Data), limit)
	}
	// Under the limit but stored base64-encoded (it ends in a newline, which
	// a verbatim copy in the envelope would not keep): too big for NATS,
	// and that can never change, so 413 too.
	body := append(orderOfSize(t, limit-1, "B-newline"), '\n')
	status, resp := h.post("/webhooks/commerce/order-placed", body, sign(body))
	if status != http.StatusRequestEntityTooLarge || strings.Contains(resp, "backfill") {
		t.Errorf("body whose event is over max_payload: %d %.300s", status, resp)
	}
}

// An explicit body limit NATS could not store is refused at start.
func TestBodyLimitOverMaxPayloadIsRefusedAtStart(t *testing.T) {
	e := servicetest.New(t)
	env := e.Environ()
	env["MLC_HTTP_ADDR"] = "127.0.0.1:0"
	env["MLC_INGEST_MAX_BODY"] = "1048576"
	// A deadline so that an ingest which starts anyway fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), servicetest.Wait)
	defer cancel()
	err := ingest.Run(ctx, env, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "MLC_INGEST_MAX_BODY") || !strings.Contains(err.Error(), "max_payload") {
		t.Fatalf("Run with a 1 MiB body limit on a 1 MiB max_payload server: %v", err)
	}
}

// increment_id and traceparent come from the sender: one too long for a
// NetSuite external id is refused, an invalid or oversized traceparent is
// replaced by a fresh trace.
func TestIncrementIDAndTraceparentAreBounded(t *testing.T) {
	h := newHarness(t, options{})
	sign := func(b []byte, extra ...string) http.Header {
		hdr := http.Header{"X-Adobe-Commerce-Webhook-Signature": {signCommerce(t, h.WebhookKey, b)}}
		for i := 0; i+1 < len(extra); i += 2 {
			hdr.Set(extra[i], extra[i+1])
		}
		return hdr
	}
	long := orderOfSize(t, 300, strings.Repeat("9", 120))
	if status, resp := h.post("/webhooks/commerce/order-placed", long, sign(long)); status != http.StatusBadRequest ||
		!strings.Contains(resp, "increment_id") || strings.Contains(resp, strings.Repeat("9", 120)) {
		t.Errorf("120-character increment_id: %d %s", status, resp)
	}
	// The longest that still fits: mlc-so-default-<id> is at most 100.
	fits := strings.Repeat("7", event.MaxExternalIDLen-len("mlc-so-default-"))
	ok := orderOfSize(t, 300, fits)
	if status, resp := h.post("/webhooks/commerce/order-placed", ok, sign(ok)); status != http.StatusOK {
		t.Errorf("%d-character increment_id: %d %s", len(fits), status, resp)
	}
	for i, tp := range []string{
		"00-" + strings.Repeat("a", 32) + "-" + strings.Repeat("b", 16) + "-01" + strings.Repeat("x", 4000),
		"not a trace",
		"00-00000000000000000000000000000000-bbbbbbbbbbbbbbbb-01",
	} {
		body := orderOfSize(t, 300, "T"+strconv.Itoa(i))
		if status, resp := h.post("/webhooks/commerce/order-placed", body, sign(body, "traceparent", tp)); status != http.StatusOK {
			t.Fatalf("traceparent %.40q: %d %s", tp, status, resp)
		}
		_, hdr := h.last(orderSubject)
		if got := hdr[event.HeaderTraceparent]; len(got) != 55 || got == tp {
			t.Errorf("traceparent %.40q stored as %q", tp, got)
		}
		if _, valid := event.ParseTraceparent(hdr[event.HeaderTraceparent]); !valid {
			t.Errorf("stored traceparent %q is not W3C", hdr[event.HeaderTraceparent])
		}
	}
	if n := h.count(orderSubject); n != 4 {
		t.Fatalf("%d stored, want 4", n)
	}
}

// A store connected with webhook verification "none" accepts nothing unless
// the deployment says it is a development one, and then ingest says so
// loudly at start.
func TestUnverifiedWebhooksNeedTheExplicitSetting(t *testing.T) {
	body := orderOfSize(t, 300, "U1")
	for _, allow := range []bool{false, true} {
		t.Run(strconv.FormatBool(allow), func(t *testing.T) {
			e := servicetest.New(t, servicetest.WithCommerce(commercesim.Config{}), servicetest.WithStores())
			c := e.CommerceConnection("default")
			c.Webhook = connection.Webhook{Mode: "none"}
			e.SaveCommerce(c)
			env := map[string]string{"MLC_POLL_ENABLED": "false"}
			if allow {
				env["MLC_INGEST_ALLOW_UNVERIFIED"] = "true"
			}
			svc := e.Run(ingest.Run, servicetest.Setenv(env))
			status, resp := svc.Post(t, "/webhooks/commerce/order-placed", body, nil)
			if !allow {
				if status != http.StatusUnauthorized || !strings.Contains(resp, "MLC_INGEST_ALLOW_UNVERIFIED") {
					t.Fatalf("unsigned webhook without the setting: %d %s", status, resp)
				}
				if n := e.Total(t, "COMMERCE"); n != 0 {
					t.Fatalf("%d stored", n)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("unsigned webhook with the setting: %d %s", status, resp)
			}
			if !strings.Contains(svc.Logs.String(), `"level":"warn"`) || !strings.Contains(svc.Logs.String(), "UNVERIFIED") {
				t.Errorf("no loud warning at start:\n%s", svc.Logs.String())
			}
		})
	}
}
