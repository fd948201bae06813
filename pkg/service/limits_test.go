package service_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/service"
)

func serve(t *testing.T, opts ...service.HTTPOption) *service.HTTPServer {
	t.Helper()
	h, err := service.NewHTTPServer("127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, 2*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return h
}

// keepAlive opens a connection, gets one answer on it and keeps it open.
func keepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("held connection: %d", resp.StatusCode)
	}
	return c
}

func get(addr string) (int, string, error) { return getPath(addr, "/healthz") }

func getPath(addr, path string) (int, string, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestConnectionsOverTheLimitGet503(t *testing.T) {
	h := serve(t, service.WithMaxConns(2))
	first := keepAlive(t, h.Addr())
	keepAlive(t, h.Addr())
	for i := range 3 {
		status, body, err := get(h.Addr())
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, "too many connections") {
			t.Fatalf("request %d over the limit: %d %q %v", i, status, body, err)
		}
	}
	first.Close()
	// Until the server has seen a close, its slot is still taken: retry,
	// counting the further refusals.
	refused := 3
	waitOK := func(path string) string {
		deadline := time.Now().Add(10 * time.Second)
		for {
			status, body, err := getPath(h.Addr(), path)
			if err == nil && status == http.StatusOK {
				return body
			}
			if status == http.StatusServiceUnavailable {
				refused++
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: a closed connection did not free its slot: %d %v", path, status, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitOK("/healthz")
	metrics := waitOK("/metrics")
	if !strings.Contains(metrics, fmt.Sprintf("mlc_http_connections_refused_total %d\n", refused)) {
		t.Errorf("refusals (%d) not counted:\n%s", refused, metrics)
	}
}

func TestHeaderBlockOverTheLimitGets431(t *testing.T) {
	h := serve(t, service.WithMaxHeaderBytes(8192))
	for size, want := range map[int]int{1 << 10: http.StatusOK, 64 << 10: http.StatusRequestHeaderFieldsTooLarge} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+h.Addr()+"/healthz", nil)
		req.Header.Set("X-Big", strings.Repeat("b", size))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%d byte header: %d, want %d", size, resp.StatusCode, want)
		}
	}
}

func TestHTTPLimitsConfigured(t *testing.T) {
	for _, env := range []map[string]string{{"MLC_HTTP_MAX_CONNS": "0"}, {"MLC_HTTP_MAX_HEADER_BYTES": "100"}} {
		if _, err := service.LoadConfig[service.Base](env); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	b, err := service.LoadConfig[service.Base](nil)
	if err != nil || b.HTTPMaxConns != 1024 || b.HTTPMaxHeaderBytes != 64<<10 {
		t.Fatalf("defaults %+v %v", b, err)
	}
}
