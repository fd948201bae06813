package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestTarget(t *testing.T) {
	for addr, want := range map[string]string{
		"":               "http://127.0.0.1:8080/healthz",
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		"[::]:8080":      "http://127.0.0.1:8080/healthz",
		"10.1.2.3:8081":  "http://10.1.2.3:8081/healthz",
		"[::1]:8080":     "http://[::1]:8080/healthz",
		"localhost:8080": "http://localhost:8080/healthz",
	} {
		got, err := target(addr, "/healthz")
		if err != nil || got != want {
			t.Errorf("target(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	for _, addr := range []string{"8080", "host:port:x", "::8080"} {
		if _, err := target(addr, "/healthz"); err == nil {
			t.Errorf("target(%q): want an error", addr)
		}
	}
	if _, err := target(":8080", "healthz"); err == nil {
		t.Error("a path without / is an error")
	}
}

func TestCheck(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/readyz" && ready.Load():
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if err := check(addr, "/healthz", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := check(addr, "/readyz", time.Second); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("unready: %v", err)
	}
	ready.Store(true)
	if err := check(addr, "/readyz", time.Second); err != nil {
		t.Fatal(err)
	}
	// Nothing listening: an error, not a hang.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if err := check(closed, "/healthz", time.Second); err == nil {
		t.Fatal("no server: want an error")
	}
}

// FuzzTarget: no MLC_HTTP_ADDR makes target panic, and an accepted one is
// a loopback or explicit host URL with the path.
func FuzzTarget(f *testing.F) {
	for _, s := range []string{"", ":8080", "0.0.0.0:9000", "[::]:8080", "[::1]:1", "host:port:x", "\x00:1", "[", "]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		u, err := target(addr, "/healthz")
		if err == nil && !strings.HasPrefix(u, "http://") || err == nil && !strings.HasSuffix(u, "/healthz") {
			t.Fatalf("target(%q) = %q", addr, u)
		}
	})
}
