package ingest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// served is ingest's fasthttp server with short limits on a real
// JetStream, one store ("s") whose webhooks need no signature.
func served(t *testing.T, l service.Limits) (addr string, srv *server, wait func() error) {
	t.Helper()
	ns := natstest.RunServer(t)
	_, js := natstest.Connect(t, ns)
	if _, err := stream.ApplyDeclared(context.Background(), js, ServiceSpec().Uses()); err != nil {
		t.Fatal(err)
	}
	stores := NewStores(nil, AllowUnverified(true))
	if err := stores.Set(connection.Commerce{Store: "s", BaseURL: "http://127.0.0.1:9/rest/s", Auth: "oauth1", Flavour: "paas",
		OAuth1:  connection.OAuth1{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "t", AccessTokenSecret: "ts"},
		Webhook: connection.Webhook{Mode: "none"}}); err != nil {
		t.Fatal(err)
	}
	hooks := NewWebhooks(stores, stream.NewPublisher(js), NewMetrics(prometheus.NewRegistry()), zerolog.Nop(), 1<<16, 5*time.Second, "s")
	srv = newServer(hooks.Handler(http.NotFoundHandler()), l, zerolog.Nop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var serveErr error
	go func() {
		defer close(done)
		serveErr = srv.Serve(ln)
	}()
	wait = func() error { <-done; return serveErr }
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		_ = wait()
	})
	return ln.Addr().String(), srv, wait
}

var limits = service.Limits{MaxHeaderBytes: 8192, ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond,
	WriteTimeout: time.Second, IdleTimeout: 400 * time.Millisecond}

const order = `{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"100","store_id":0}}}`

func head(n int) string {
	return "POST /webhooks/commerce/order-placed HTTP/1.1\r\nHost: i\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n"
}

func connect(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// A client that sends its headers and then stalls gets 400 once the read
// timeout passes, and loses the connection; one that stalls inside its
// headers is cut off after the header timeout; an idle kept-alive
// connection is closed after the idle timeout.
func TestTimeouts(t *testing.T) {
	addr, _, _ := served(t, limits)

	c, br := connect(t, addr)
	start := time.Now()
	if _, err := io.WriteString(c, head(len(order))+order[:10]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "reading body") || !resp.Close || took < limits.ReadTimeout {
		t.Errorf("stalled body: %d close %v after %v: %s", resp.StatusCode, resp.Close, took, b)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("connection kept after a stalled body: %v", err)
	}

	c, br = connect(t, addr)
	start = time.Now()
	if _, err := io.WriteString(c, "POST /webhooks/commerce/order-placed HTTP/1.1\r\nHost: i\r\n"); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(br) // an answer (408) or not, then the close
	if took := time.Since(start); err != nil || took < limits.ReadHeaderTimeout || took > limits.ReadTimeout+time.Second {
		t.Errorf("stalled headers: closed after %v (%v)", took, err)
	}

	c, br = connect(t, addr)
	if _, err := io.WriteString(c, head(len(order))+order); err != nil {
		t.Fatal(err)
	}
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	_, _ = io.ReadAll(resp.Body)
	start = time.Now()
	if _, err := io.ReadAll(br); err != nil || time.Since(start) < limits.IdleTimeout {
		t.Errorf("idle connection closed after %v (%v)", time.Since(start), err)
	}
}

// Shutdown lets a request in flight finish with its 200 (the fact stored)
// and closes idle connections; Serve then returns without an error.
func TestGracefulShutdown(t *testing.T) {
	l := limits
	l.ReadTimeout = 5 * time.Second
	addr, srv, wait := served(t, l)
	idle, idleBR := connect(t, addr)
	if _, err := io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: i\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(idleBR, nil)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("fallback: %v %v", resp, err)
	}
	_, _ = io.ReadAll(resp.Body)
	busy, busyBR := connect(t, addr)
	if _, err := io.WriteString(busy, head(len(order))+order[:10]); err != nil {
		t.Fatal(err)
	}
	// The handler is reading the body once the server counts the
	// connection active; then shut down and send the rest.
	waitFor(t, func() bool { return srv.srv.GetOpenConnectionsCount() == 2 })
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	if _, err := idleBR.ReadByte(); err != io.EOF {
		t.Errorf("idle connection kept at shutdown: %v", err)
	}
	if _, err := io.WriteString(busy, order[10:]); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(busyBR, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != `{"op":"success"}` || !resp.Close {
		t.Errorf("in-flight webhook at shutdown: %d close %v %s", resp.StatusCode, resp.Close, b)
	}
	if err := <-shut; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := wait(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("serve: %v", err)
	}
}

// Close ends connections that Shutdown's deadline left open.
func TestCloseAfterTheShutdownDeadline(t *testing.T) {
	l := limits
	l.ReadTimeout = time.Minute
	addr, srv, wait := served(t, l)
	c, br := connect(t, addr)
	if _, err := io.WriteString(c, head(len(order))+order[:10]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return srv.srv.GetOpenConnectionsCount() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown with a stuck request: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(br); err != nil {
		t.Errorf("stuck connection after Close: %v", err)
	}
	_ = wait()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
