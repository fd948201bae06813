// Package bench measures ml-connector's services as an operator runs them:
// real JetStream, the real service started in-process, load over loopback.
// `mlc bench` and the Go benchmarks use it; nothing here asserts a speed.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// IngestTarget is an ingest service running in-process on an embedded
// JetStream server, with one store ("bench") whose webhooks it verifies.
type IngestTarget struct {
	URL string // base URL of ingest

	mode   string
	key    *rsa.PrivateKey
	secret []byte
	bodies [][]byte // realistic order webhook bodies used as templates

	ns     *server.Server
	dir    string
	stop   context.CancelFunc
	done   chan error
	client *http.Client
}

// TargetOptions configure StartIngest.
type TargetOptions struct {
	Mode       string // webhook signature: "rsa" (Commerce's own scheme) or "hmac"
	SyncAlways bool   // JetStream fsync on every write (production setting)
	Dir        string // JetStream store; default a temporary directory removed by Stop
}

// StartIngest brings up JetStream and ingest and prepares realistic webhook
// bodies (orders from the Commerce simulator, PHP-encoded).
func StartIngest(ctx context.Context, o TargetOptions) (*IngestTarget, error) {
	t := &IngestTarget{mode: o.Mode, done: make(chan error, 1)}
	if t.mode == "" {
		t.mode = commerce.VerifyRSA
	}
	t.dir = o.Dir
	if t.dir == "" {
		d, err := os.MkdirTemp("", "mlc-bench-")
		if err != nil {
			return nil, err
		}
		t.dir = d
	}
	ns, err := devstack.StartNATS(t.dir, -1, o.SyncAlways)
	if err != nil {
		return nil, err
	}
	t.ns = ns
	if err := t.prepare(ctx); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

func (t *IngestTarget) prepare(ctx context.Context) error {
	nc, js, err := stream.Connect(t.ns.ClientURL(), "", "mlc-bench", zerolog.Nop())
	if err != nil {
		return err
	}
	defer nc.Close()
	spec := ingest.ServiceSpec()
	if _, err := stream.ApplyDeclared(ctx, js, spec.Uses()); err != nil {
		return err
	}
	master, err := secrets.GenerateKey()
	if err != nil {
		return err
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return err
	}
	conn := connection.Commerce{Store: "bench", BaseURL: "http://127.0.0.1:9/rest/bench", Auth: "oauth1", Flavour: "paas",
		OAuth1: connection.OAuth1{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "t", AccessTokenSecret: "ts"}}
	switch t.mode {
	case commerce.VerifyRSA:
		if t.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(&t.key.PublicKey)
		if err != nil {
			return err
		}
		conn.Webhook = connection.Webhook{Mode: commerce.VerifyRSA, PublicKeys: []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}
	case commerce.VerifyHMAC:
		t.secret = []byte("bench-shared-secret-0123456789abcdef")
		conn.Webhook = connection.Webhook{Mode: commerce.VerifyHMAC, Secrets: []string{string(t.secret)}}
	default:
		return fmt.Errorf("bench: signature mode %q: want rsa or hmac", t.mode)
	}
	if err := connection.SaveCommerce(ctx, secrets.NewStore(kv, keys), conn); err != nil {
		return err
	}
	if t.bodies, err = sampleBodies(ctx, 32); err != nil {
		return err
	}
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	t.URL = "http://" + addr
	env := map[string]string{
		"MLC_NATS_URL": t.ns.ClientURL(), "MLC_HTTP_ADDR": addr, "MLC_LOG_LEVEL": "warn",
		"MLC_MASTER_KEY": base64.StdEncoding.EncodeToString(master), "MLC_POLL_ENABLED": "false",
		"MLC_COMMERCE_STORE": "bench", "MLC_SHUTDOWN_TIMEOUT": "10s",
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	t.stop = cancel
	go func() { t.done <- ingest.Run(rctx, env, io.Discard) }()
	t.client = &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := t.client.Get(t.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("bench: ingest not ready within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sampleBodies captures real order webhook bodies from the Commerce
// simulator (PHP-style JSON, ~2-4 KB each).
func sampleBodies(ctx context.Context, n int) ([][]byte, error) {
	var mu sync.Mutex
	var bodies [][]byte
	capture := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/order-placed") {
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
		}
		_, _ = io.WriteString(w, `{"op":"success"}`)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: capture, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	sim := commercesim.New(commercesim.Config{Seed: 42, Webhooks: commercesim.WebhookConfig{
		BaseURL: "http://" + ln.Addr().String(), Mode: "none", Timeout: 5 * time.Second}})
	defer sim.Close()
	for range n {
		if _, err := sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{}); err != nil {
			return nil, err
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != n {
		return nil, fmt.Errorf("bench: captured %d of %d sample bodies", len(bodies), n)
	}
	return bodies, nil
}

// Request is one signed webhook ready to send.
type Request struct {
	Body      []byte
	Signature string
}

// Requests builds n distinct signed order webhooks (unique increment ids,
// so every one is stored, none is a duplicate). RSA signing is the slow
// part; it runs on every core before the measurement starts.
func (t *IngestTarget) Requests(n int, progress func()) ([]Request, error) {
	out := make([]Request, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	prefix := fmt.Sprintf("B%d-", time.Now().UnixNano()%1_000_000_000)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				tmpl := t.bodies[i%len(t.bodies)]
				body := bytes.Replace(tmpl, incrementField(tmpl), []byte(`"increment_id":"`+prefix+fmt.Sprintf("%09d", i)+`"`), 1)
				var sig string
				var err error
				if t.mode == commerce.VerifyRSA {
					sig, err = commercesim.SignRSA(t.key, body)
				} else {
					sig = commercesim.SignHMAC(t.secret, body)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				out[i] = Request{Body: body, Signature: sig}
				if progress != nil {
					progress()
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

// incrementField returns the order's `"increment_id":"..."` bytes.
func incrementField(body []byte) []byte {
	const key = `"increment_id":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return nil
	}
	j := bytes.IndexByte(body[i+len(key):], '"')
	return body[i : i+len(key)+j+1]
}

// Send posts one webhook and reports whether ingest answered exactly 200
// {"op":"success"}, i.e. the order is durably stored.
func (t *IngestTarget) Send(ctx context.Context, r Request) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/webhooks/commerce/order-placed", bytes.NewReader(r.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(commerce.HeaderWebhookSignature, r.Signature)
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"op":"success"`) {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return nil
}

// NATSURL is the embedded JetStream server's client URL.
func (t *IngestTarget) NATSURL() string { return t.ns.ClientURL() }

// Stop shuts ingest and JetStream down and removes a temporary store.
func (t *IngestTarget) Stop() {
	if t.stop != nil {
		t.stop()
		<-t.done
	}
	if t.ns != nil {
		t.ns.Shutdown()
		t.ns.WaitForShutdown()
	}
	if strings.Contains(t.dir, "mlc-bench-") {
		_ = os.RemoveAll(t.dir)
	}
}

// Result summarises a run. Latency is measured from when a request was due
// (open loop) or sent (closed loop) to ingest's {"op":"success"}.
type Result struct {
	Name       string        `json:"name"`
	Requests   int           `json:"requests"`
	Errors     int           `json:"errors"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	Throughput float64       `json:"throughput_per_s"`
	P50        time.Duration `json:"p50_ns"`
	P90        time.Duration `json:"p90_ns"`
	P99        time.Duration `json:"p99_ns"`
	Max        time.Duration `json:"max_ns"`
	FirstError string        `json:"first_error,omitempty"`
}

func summarise(name string, lat []time.Duration, errs int, firstErr error, elapsed time.Duration) Result {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r := Result{Name: name, Requests: len(lat) + errs, Errors: errs, Elapsed: elapsed}
	if elapsed > 0 {
		r.Throughput = float64(len(lat)) / elapsed.Seconds()
	}
	if firstErr != nil {
		r.FirstError = firstErr.Error()
	}
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	r.P50, r.P90, r.P99 = q(0.50), q(0.90), q(0.99)
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1]
	}
	return r
}

// FixedRate sends reqs at rate per second (open loop: a slow answer does
// not delay the next request, so latency includes any queueing).
func (t *IngestTarget) FixedRate(ctx context.Context, name string, reqs []Request, rate float64) Result {
	interval := time.Duration(float64(time.Second) / rate)
	lat := make([]time.Duration, 0, len(reqs))
	var mu sync.Mutex
	var errs int
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for i, r := range reqs {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := t.Send(ctx, r)
			took := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			lat = append(lat, took)
		}()
	}
	wg.Wait()
	return summarise(name, lat, errs, firstErr, time.Since(start))
}

// MaxThroughput sends reqs from concurrency workers as fast as ingest answers.
func (t *IngestTarget) MaxThroughput(ctx context.Context, name string, reqs []Request, concurrency int) Result {
	var next atomic.Int64
	lats := make([][]time.Duration, concurrency)
	errCounts := make([]int, concurrency)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				s := time.Now()
				if err := t.Send(ctx, reqs[i]); err != nil {
					errCounts[w]++
					once.Do(func() { firstErr = err })
					continue
				}
				lats[w] = append(lats[w], time.Since(s))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	errs := 0
	for w := range concurrency {
		all = append(all, lats[w]...)
		errs += errCounts[w]
	}
	return summarise(name, all, errs, firstErr, elapsed)
}
