package service_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/service"
)

// countingServer is a Server of a service's own: net/http's, with a route
// of its own before the shared mux, counting its shutdowns.
type countingServer struct {
	*http.Server
	shutdowns atomic.Int32
}

func (s *countingServer) Shutdown(ctx context.Context) error {
	s.shutdowns.Add(1)
	return s.Server.Shutdown(ctx)
}

// tryKeepAlive opens a connection and makes one request on it, keeping the
// connection open when it was served (not refused over the limit).
func tryKeepAlive(addr string) (net.Conn, bool) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, false
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				_ = c.SetDeadline(time.Time{})
				return c, true
			}
		}
	}
	c.Close()
	return nil, false
}

// A Server set with ServeWith gets the listener with its connection limit,
// keeps the shared routes through Mux and is shut down with the service.
func TestServeWith(t *testing.T) {
	h, err := service.NewHTTPServer("127.0.0.1:0", service.WithMaxConns(1), service.WithMaxHeaderBytes(8192))
	if err != nil {
		t.Fatal(err)
	}
	if l := h.Limits(); l.MaxHeaderBytes != 8192 || l.ReadHeaderTimeout <= 0 || l.ReadTimeout <= l.ReadHeaderTimeout || l.WriteTimeout <= 0 || l.IdleTimeout <= 0 {
		t.Fatalf("limits %+v", l)
	}
	srv := &countingServer{Server: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/own" {
			_, _ = w.Write([]byte("own route"))
			return
		}
		h.Mux.ServeHTTP(w, r)
	})}}
	h.ServeWith(srv)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, 2*time.Second) }()
	for path, want := range map[string]string{"/own": "own route", "/healthz": `"status":"ok"`} {
		status, body, err := getPath(h.Addr(), path)
		if err != nil || status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q %v", path, status, body, err)
		}
	}
	// The slot of the last request's connection frees once the server has
	// seen its close: until then a new connection is over the limit.
	var held net.Conn
	for deadline := time.Now().Add(10 * time.Second); held == nil; time.Sleep(20 * time.Millisecond) {
		if c, ok := tryKeepAlive(h.Addr()); ok {
			held = c
		} else if time.Now().After(deadline) {
			t.Fatal("the connection slot never freed")
		}
	}
	defer held.Close()
	if status, _, err := getPath(h.Addr(), "/own"); err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("over the connection limit: %d %v", status, err)
	}
	held.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if srv.shutdowns.Load() != 1 {
		t.Fatalf("%d shutdowns", srv.shutdowns.Load())
	}
	if _, err := net.DialTimeout("tcp", h.Addr(), time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}
