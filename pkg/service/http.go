package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition; nil means ready.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// HTTPServer serves /healthz, /readyz and /metrics; services mount their
// own routes on Mux, or serve the listener with their own Server
// (ServeWith: ingest's webhooks).
type HTTPServer struct {
	Mux      *http.ServeMux
	Registry *prometheus.Registry
	srv      Server
	ln       net.Listener
	limits   Limits

	mu     sync.Mutex
	checks []Check
}

// NewHTTPServer listens on addr right away (":0" picks a free port; Addr
// reports it) so that callers can print where the service listens.
func NewHTTPServer(addr string, opts ...HTTPOption) (*HTTPServer, error) {
	o := httpOptions{maxHeaderBytes: 64 << 10, maxConns: 1024}
	for _, opt := range opts {
		opt(&o)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln = newLimitListener(ln, o.maxConns, reg)
	h := &HTTPServer{Mux: http.NewServeMux(), Registry: reg, ln: ln, limits: Limits{
		MaxHeaderBytes:    o.maxHeaderBytes,
		ReadHeaderTimeout: 5 * time.Second,
		// A webhook body is at most a megabyte and the answer follows one
		// JetStream ack: a client slower than this is holding a connection.
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 60 * time.Second,
		IdleTimeout:  120 * time.Second,
	}}
	h.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.Mux.HandleFunc("GET /readyz", h.readyz)
	h.Mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	h.srv = &http.Server{
		Handler:           h.Mux,
		ReadHeaderTimeout: h.limits.ReadHeaderTimeout,
		MaxHeaderBytes:    h.limits.MaxHeaderBytes,
		ReadTimeout:       h.limits.ReadTimeout,
		WriteTimeout:      h.limits.WriteTimeout,
		IdleTimeout:       h.limits.IdleTimeout,
	}
	return h, nil
}

// Server serves the HTTPServer's listener: net/http's *http.Server unless a
// service sets its own with ServeWith. Serve returns nil or
// http.ErrServerClosed once Shutdown or Close stopped it.
type Server interface {
	Serve(ln net.Listener) error
	// Shutdown stops accepting, lets in-flight requests finish and closes
	// idle connections; ctx's deadline bounds the wait.
	Shutdown(ctx context.Context) error
	// Close closes every connection at once.
	Close() error
}

// Limits are what a request may take: a Server given to ServeWith keeps
// them as net/http's does.
type Limits struct {
	MaxHeaderBytes    int           // header block (431 above it; net/http allows 4 KiB of slack)
	ReadHeaderTimeout time.Duration // from the connection's first byte to the end of the headers
	ReadTimeout       time.Duration // headers and body
	WriteTimeout      time.Duration // from the end of the headers to the answer written
	IdleTimeout       time.Duration // a kept-alive connection waiting for its next request
}

// Limits returns the request limits of this server.
func (h *HTTPServer) Limits() Limits { return h.limits }

// ServeWith replaces net/http's server on this listener, before Serve. srv
// gets the listener with its connection limit (the 503 over
// MLC_HTTP_MAX_CONNS is the listener's), must keep Limits, and must pass
// the requests it does not answer itself to Mux (/healthz, /readyz,
// /metrics): a service that needs a leaner HTTP path than net/http's for
// its own routes.
func (h *HTTPServer) ServeWith(srv Server) { h.srv = srv }

// Addr is the address the server listens on.
func (h *HTTPServer) Addr() string { return h.ln.Addr().String() }

// AddCheck adds a readiness condition.
func (h *HTTPServer) AddCheck(name string, fn func(ctx context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, Check{name, fn})
}

func (h *HTTPServer) readyz(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	checks := append([]Check(nil), h.checks...)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := http.StatusOK
	res := map[string]string{}
	for _, c := range checks {
		if err := c.Fn(ctx); err != nil {
			status = http.StatusServiceUnavailable
			res[c.Name] = err.Error()
			continue
		}
		res[c.Name] = "ok"
	}
	writeJSON(w, status, res)
}

// Serve runs the server until ctx is done, then shuts it down within grace.
func (h *HTTPServer) Serve(ctx context.Context, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(h.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	// Half the grace for in-flight requests (a webhook waits at most its
	// ack timeout); then close what is left, such as connections a client
	// opened but never used, which Shutdown would otherwise wait on.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace/2)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil {
		_ = h.srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
