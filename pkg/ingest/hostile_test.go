package ingest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
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
