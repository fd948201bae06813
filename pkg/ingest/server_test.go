package ingest_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// wire is one kept-alive client connection speaking raw HTTP/1.1, for the
// edges a well-behaved client never reaches.
type wire struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, url string) *wire {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &wire{t: t, c: c, br: bufio.NewReader(c)}
}

// send writes raw and reads one answer.
func (w *wire) send(raw string) (*http.Response, string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, raw); err != nil {
		w.t.Fatal(err)
	}
	return w.read()
}

func (w *wire) read() (*http.Response, string) {
	w.t.Helper()
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// closed reports whether the server closed the connection: nothing more
// to read, an end or a reset (a close with unread data resets), not a
// timeout.
func (w *wire) closed() bool {
	_ = w.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := w.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func post(path string, hdr map[string]string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: ingest\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, len(body))
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	return b.String() + "\r\n" + body
}

// chunked sends body in chunks of 1000 bytes, without a Content-Length.
func chunked(path string, hdr map[string]string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: ingest\r\nTransfer-Encoding: chunked\r\n", path)
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	for len(body) > 0 {
		n := min(len(body), 1000)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	return b.String() + "0\r\n\r\n"
}

// The body limit holds whether the length is announced or not: just under
// and at it are stored, one byte over is 413, and a Content-Length over it
// is answered before the body arrives.
func TestBodyLimitEdges(t *testing.T) {
	const limit = 4096
	h := newHarness(t, options{env: map[string]string{"MLC_INGEST_MAX_BODY": strconv.Itoa(limit)}})
	w := dial(t, h.svc.URL)
	stored := 0
	for i, c := range []struct {
		size    int
		chunked bool
		want    int
	}{
		{limit - 1, false, 200}, {limit, false, 200}, {limit + 1, false, 413},
		{limit - 1, true, 200}, {limit, true, 200}, {limit + 1, true, 413},
	} {
		body := orderOfSize(t, c.size, "E"+strconv.Itoa(i))
		hdr := map[string]string{"X-Adobe-Commerce-Webhook-Signature": signCommerce(t, h.WebhookKey, body)}
		raw := post("/webhooks/commerce/order-placed", hdr, string(body))
		if c.chunked {
			raw = chunked("/webhooks/commerce/order-placed", hdr, string(body))
		}
		if c.want != 200 {
			w = dial(t, h.svc.URL) // a refused body may cost the connection
		}
		resp, answer := w.send(raw)
		if resp.StatusCode != c.want || (c.want == 413 && !strings.Contains(answer, "limit")) {
			t.Errorf("%d bytes (chunked %v): %d %s, want %d", c.size, c.chunked, resp.StatusCode, answer, c.want)
		}
		if c.want == 200 {
			stored++
		}
	}
	if n := h.count(orderSubject); n != uint64(stored) {
		t.Fatalf("%d stored, want %d", n, stored)
	}
	// Announced over the limit: 413 at once, the body never read.
	resp := rawRequest(t, h.svc.URL, "/webhooks/commerce/order-placed", nil)
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "1000000 bytes") {
		t.Errorf("Content-Length over the limit: %d %s", resp.StatusCode, b)
	}
}

// A header block of MLC_HTTP_MAX_HEADER_BYTES is served, one over it and
// net/http's 4 KiB of slack is 431, answered by the server itself.
func TestHeaderLimitEdges(t *testing.T) {
	const max = 8192
	h := newHarness(t, options{env: map[string]string{"MLC_HTTP_MAX_HEADER_BYTES": strconv.Itoa(max)}})
	for _, c := range []struct {
		block, want int
	}{{max, http.StatusUnauthorized}, {max + 4096 + 1, http.StatusRequestHeaderFieldsTooLarge}} {
		head := post("/webhooks/commerce/order-placed", map[string]string{"X-Mlc-Store": "nowhere"}, "")
		head = strings.TrimSuffix(head, "\r\n")
		pad := c.block - len(head) - len("X-Pad: \r\n\r\n")
		raw := head + "X-Pad: " + strings.Repeat("p", pad) + "\r\n\r\n"
		if got := strings.Index(raw, "\r\n\r\n") + 4; got != c.block {
			t.Fatalf("built a %d byte header block, want %d", got, c.block)
		}
		resp, body := dial(t, h.svc.URL).send(raw)
		if resp.StatusCode != c.want || len(body) > 1024 {
			t.Errorf("%d byte header block: %d %.200s, want %d", c.block, resp.StatusCode, body, c.want)
		}
	}
}

// Connections over MLC_HTTP_MAX_CONNS get 503 at once; a closed one frees
// its slot.
func TestConnectionLimit(t *testing.T) {
	h := newHarness(t, options{env: map[string]string{"MLC_HTTP_MAX_CONNS": "2"}})
	get := "GET /healthz HTTP/1.1\r\nHost: ingest\r\n\r\n"
	// The harness's own kept-alive connections (readiness, metrics) hold
	// slots until the server sees them closed.
	http.DefaultClient.CloseIdleConnections()
	var held []*wire
	h.waitFor("two connections served", func() bool {
		w := dial(t, h.svc.URL)
		if resp, _ := w.send(get); resp.StatusCode == http.StatusOK {
			held = append(held, w)
		}
		return len(held) == 2
	})
	first := held[0]
	resp, body := dial(t, h.svc.URL).send(get)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	first.c.Close()
	h.waitFor("a slot freed by the closed connection", func() bool {
		w := dial(t, h.svc.URL)
		resp, _ := w.send(get)
		w.c.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// An unknown store is refused from its headers: a huge body is not waited
// for (and the connection is closed rather than drained), a small one is
// drained and the connection kept.
func TestUnknownStoreWithAHugeBody(t *testing.T) {
	h := newHarness(t, options{})
	w := dial(t, h.svc.URL)
	head := fmt.Sprintf("POST /webhooks/commerce/order-placed HTTP/1.1\r\nHost: ingest\r\nX-Mlc-Store: nowhere\r\nContent-Length: %d\r\n\r\n", 50<<20)
	if _, err := io.WriteString(w.c, head+strings.Repeat("x", 1<<20)); err != nil {
		t.Fatal(err)
	}
	resp, body := w.read()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close || !strings.Contains(body, "nowhere") {
		t.Fatalf("50 MB body of an unknown store: %d close %v %s", resp.StatusCode, resp.Close, body)
	}
	if !w.closed() {
		t.Error("connection kept after a body too big to drain")
	}
	small := dial(t, h.svc.URL)
	for range 2 {
		resp, body := small.send(post("/webhooks/commerce/order-placed", map[string]string{"X-Mlc-Store": "nowhere"}, strings.Repeat("x", 10000)))
		if resp.StatusCode != http.StatusUnauthorized || resp.Close {
			t.Fatalf("10 KB body of an unknown store: %d close %v %s", resp.StatusCode, resp.Close, body)
		}
	}
	if n := h.total(); n != 0 {
		t.Fatalf("%d stored", n)
	}
}

// Routes answer as the net/http patterns did: POST only on the Commerce
// endpoints, path segments unescaped, anything else to the service's own
// routes, which never read a body.
func TestRoutes(t *testing.T) {
	h := newHarness(t, options{})
	w := dial(t, h.svc.URL)
	for _, c := range []struct {
		raw, want string
		status    int
	}{
		{"GET /webhooks/commerce/order-placed HTTP/1.1\r\nHost: i\r\n\r\n", "Method Not Allowed", 405},
		{post("/webhooks/commerce/a/b/order-placed", nil, "{}"), "Not Found", 404},
		{post("/webhooks/commerce/order-placed/", nil, "{}"), "Not Found", 404},
		{post("/webhooks/commerce/us%20east/order-placed", nil, "{}"), `store \"us east\" is not connected`, 401},
		{post("/webhooks/commerce/order-placed?store=en_us", nil, "{}"), `store \"en_us\" is not connected`, 401},
		{post("/webhooks/adobe-io/us.east", nil, "{}"), `store \"us.east\" has no I/O Events`, 401},
		{post("/webhooks/commerce/%zz/order-placed", nil, "{}"), "Bad Request", 400},
		{post("/metrics", nil, "{}"), "Not Found", 404},
		{"GET /healthz HTTP/1.1\r\nHost: i\r\n\r\n", `"status":"ok"`, 200},
		{"GET /readyz HTTP/1.1\r\nHost: i\r\n\r\n", `"commerce":"ok"`, 200},
		{"GET /nowhere HTTP/1.1\r\nHost: i\r\n\r\n", "404 page not found", 404},
	} {
		resp, body := w.send(c.raw)
		if resp.StatusCode != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%.60q: %d %s, want %d %q", c.raw, resp.StatusCode, body, c.status, c.want)
		}
		if c.status == 405 && resp.Header.Get("Allow") != http.MethodPost {
			t.Errorf("405 without Allow: POST: %v", resp.Header)
		}
	}
	// Not HTTP at all: 400 from the server, connection closed.
	g := dial(t, h.svc.URL)
	if resp, _ := g.send("GARBAGE\r\n\r\n"); resp.StatusCode != http.StatusBadRequest || !g.closed() {
		t.Errorf("garbage: %d", resp.StatusCode)
	}
}
