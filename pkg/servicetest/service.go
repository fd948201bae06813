package servicetest

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// RunFunc is how every service starts (pkg/fleet's Service.Run): it blocks
// until ctx is done and the service has shut down.
type RunFunc func(ctx context.Context, environ map[string]string, logOut io.Writer) error

// Service is a service running in the test's process.
type Service struct {
	URL  string // http://host:port of /healthz, /readyz, /metrics and its own routes
	Logs *Logs

	stop func()
}

type runOptions struct {
	addr      string
	env       map[string]string
	unreadyOK bool
}

// RunOption adjusts one Run.
type RunOption func(*runOptions)

// At serves the service on addr (from FreeAddr) instead of a fresh port.
func At(addr string) RunOption { return func(o *runOptions) { o.addr = addr } }

// Setenv adds to or overrides the environment of Env.Environ.
func Setenv(env map[string]string) RunOption {
	return func(o *runOptions) {
		if o.env == nil {
			o.env = map[string]string{}
		}
		maps.Copy(o.env, env)
	}
}

// Healthy returns once /healthz answers, for a service expected to stay
// unready; by default Run waits for /readyz.
func Healthy() RunOption { return func(o *runOptions) { o.unreadyOK = true } }

// Run starts run with Environ plus MLC_HTTP_ADDR and the options' variables,
// waits until the service is ready and stops it at the end of the test
// (failing it if Run returns an error or does not stop within Wait).
func (e *Env) Run(run RunFunc, opts ...RunOption) *Service {
	t := e.t
	t.Helper()
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.addr == "" {
		o.addr = FreeAddr(t)
	}
	env := e.Environ()
	env["MLC_HTTP_ADDR"] = o.addr
	maps.Copy(env, o.env)
	s := &Service{URL: "http://" + o.addr, Logs: &Logs{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, env, s.Logs) }()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			if e.Commerce != nil {
				// Unused keep-alive connections of the simulator's deliveries
				// would hold up the service's graceful shutdown.
				e.Commerce.CloseIdleConnections()
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("servicetest: service stopped with: %v", err)
				}
			case <-time.After(Wait):
				t.Errorf("servicetest: service did not stop within %v", Wait)
			}
		})
	}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("service log:\n%s", s.Logs.String())
		}
	})
	path := "/readyz"
	if o.unreadyOK {
		path = "/healthz"
	}
	deadline := time.Now().Add(Wait)
	for {
		select {
		case err := <-done:
			t.Fatalf("servicetest: service exited during start: %v\n%s", err, s.Logs.String())
		default:
		}
		if status, _ := s.get(path); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servicetest: %s%s not OK within %v\n%s", s.URL, path, Wait, s.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// Stop shuts the service down now (it is also stopped at the end of the
// test); afterwards Logs holds everything it logged.
func (s *Service) Stop() { s.stop() }

func (s *Service) get(path string) (int, string) {
	resp, err := http.Get(s.URL + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Get sends GET path and returns the status and body.
func (s *Service) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	status, body := s.get(path)
	if status == 0 {
		t.Fatalf("GET %s: %s", path, body)
	}
	return status, body
}

// Post sends body to path with hdr (Content-Type application/json unless
// hdr sets it) and returns the status and the answer.
func (s *Service) Post(t testing.TB, path string, body []byte, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Metric returns the value of one series on /metrics, e.g.
// `mlc_ingest_ignored_total{reason="invoice-not-paid"}`; "" when absent.
func (s *Service) Metric(t testing.TB, series string) string {
	t.Helper()
	_, body := s.Get(t, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// Logs captures a service's log output; safe for concurrent use.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
