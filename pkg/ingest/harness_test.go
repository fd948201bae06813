package ingest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type options struct {
	drop         float64
	poll         bool
	pollInterval time.Duration
	env          map[string]string
	noWebhooks   bool       // the simulator sends no Commerce webhooks
	io           *ioOptions // the simulator also delivers through Adobe I/O Events
	stores       []string   // connected stores (default: just "default"); ids are looked up from Commerce
}

// ioOptions turn on the simulator's I/O Events deliveries to ingest's
// /webhooks/adobe-io and the store connection's I/O Events keys.
type ioOptions struct {
	rule     string          // commercesim.RetryRuleCurrent (default) or RetryRuleLegacy
	schedule []time.Duration // retry waits; default 8 x 50ms
	clientID string          // the recipient the store connection accepts; default the simulator's
	// via, when set, gets ingest's endpoint URL and returns the URL the
	// simulator posts to (a proxy in front of ingest).
	via func(target string) string
}

// harness is ingest running as in production: its own goroutine started by
// ingest.Run, a real JetStream server, the Commerce simulator sending signed
// webhooks to it and answering its backfill poll.
type harness struct {
	t    *testing.T
	ns   *server.Server
	dir  string
	port int
	js   jetstream.JetStream
	sim  *commercesim.Server
	key  *rsa.PrivateKey
	url  string // ingest base URL
	logs *syncBuffer
	stop func()
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), logs: &syncBuffer{}}
	h.ns = natstest.RunServerWithDir(t, h.dir)
	h.port = h.ns.Addr().(*net.TCPAddr).Port
	_, h.js = natstest.Connect(t, h.ns)
	ctx := context.Background()
	spec := ingest.ServiceSpec()
	if _, err := stream.ApplyDeclared(ctx, h.js, spec.Uses()); err != nil {
		t.Fatal(err)
	}
	master, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := h.js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	creds := secrets.NewStore(kv, keys)

	h.key = testKey(t)
	addr := freeAddr(t)
	h.url = "http://" + addr
	simCfg := commercesim.Config{
		Seed: 7,
		Webhooks: commercesim.WebhookConfig{
			BaseURL:    h.url + "/webhooks/commerce",
			PrivateKey: h.key,
			Timeout:    5 * time.Second,
			DropRate:   o.drop,
		},
	}
	if o.noWebhooks {
		simCfg.Webhooks.BaseURL = ""
	}
	if o.io != nil {
		target := h.url + "/webhooks/adobe-io"
		if o.io.via != nil {
			target = o.io.via(target)
		}
		sched := o.io.schedule
		if sched == nil {
			sched = []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond,
				50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}
		}
		simCfg.IOEvents = commercesim.IOEventsConfig{URL: target, ClientID: "mlc-harness-io-client", RetryRule: o.io.rule,
			RetrySchedule: sched, Timeout: 5 * time.Second}
	}
	h.sim = commercesim.NewTestServer(t, simCfg)
	oa := commercesim.DefaultOAuth1()
	conn := connection.Commerce{
		Store: "default", BaseURL: h.sim.StoreBaseURL("default"), Flavour: "paas", Auth: "oauth1",
		OAuth1: connection.OAuth1{ConsumerKey: oa.ConsumerKey, ConsumerSecret: oa.ConsumerSecret,
			AccessToken: oa.AccessToken, AccessTokenSecret: oa.AccessTokenSecret},
		Webhook: connection.Webhook{Mode: "rsa", PublicKeys: []string{publicPEM(t, h.key)}},
	}
	if o.io != nil {
		conn.IOEvents.ClientID = h.sim.IOEventsClientID()
		if o.io.clientID != "" {
			conn.IOEvents.ClientID = o.io.clientID
		}
		for _, k := range h.sim.IOEventsPublicKeysPEM() {
			conn.IOEvents.PublicKeys = append(conn.IOEvents.PublicKeys, string(k))
		}
	}
	stores := o.stores
	if len(stores) == 0 {
		stores = []string{"default"}
	}
	for _, code := range stores {
		conn.Store, conn.BaseURL = code, h.sim.StoreBaseURL(code)
		if err := connection.SaveCommerce(ctx, creds, conn); err != nil {
			t.Fatal(err)
		}
	}
	interval := o.pollInterval
	if interval == 0 {
		interval = 200 * time.Millisecond
	}
	env := map[string]string{
		"MLC_NATS_URL":         h.ns.ClientURL(),
		"MLC_HTTP_ADDR":        addr,
		"MLC_MASTER_KEY":       base64.StdEncoding.EncodeToString(master),
		"MLC_LOG_LEVEL":        "debug",
		"MLC_SHUTDOWN_TIMEOUT": "5s",
		"MLC_POLL_ENABLED":     strconv.FormatBool(o.poll),
		"MLC_POLL_INTERVAL":    interval.String(),
		"MLC_POLL_SETTLE":      "0s",
		"MLC_POLL_LOOKBACK":    "1m",
	}
	for k, v := range o.env {
		env[k] = v
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ingest.Run(runCtx, env, h.logs) }()
	var once sync.Once
	h.stop = func() { once.Do(func() { stopIngest(t, cancel, done) }) }
	t.Cleanup(func() {
		// The simulator's unused keep-alive connections would hold up
		// ingest's graceful shutdown (I/O Events deliver concurrently).
		h.sim.CloseIdleConnections()
		h.stop()
		if t.Failed() {
			t.Logf("ingest logs:\n%s", h.logs.String())
		}
	})
	h.waitFor("ingest ready", func() bool {
		resp, err := http.Get(h.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return h
}

func stopIngest(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ingest.Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("ingest did not stop")
	}
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// count returns how many messages COMMERCE holds on subject.
func (h *harness) count(subject string) uint64 {
	h.t.Helper()
	st, err := h.js.Stream(context.Background(), "COMMERCE")
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func (h *harness) total() uint64 {
	h.t.Helper()
	st, err := h.js.Stream(context.Background(), "COMMERCE")
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs
}

// last returns the envelope and headers of the last message on subject.
func (h *harness) last(subject string) (event.Envelope, map[string]string) {
	h.t.Helper()
	st, err := h.js.Stream(context.Background(), "COMMERCE")
	if err != nil {
		h.t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		h.t.Fatal(err)
	}
	ev, err := event.Decode(m.Data)
	if err != nil {
		h.t.Fatal(err)
	}
	hdr := map[string]string{}
	for k := range m.Header {
		hdr[k] = m.Header.Get(k)
	}
	return ev, hdr
}

// post sends a webhook body with headers and returns status and body.
func (h *harness) post(path string, body []byte, hdr http.Header) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signCommerce signs body the way Commerce's webhook module does.
func signCommerce(t *testing.T, key *rsa.PrivateKey, body []byte) string {
	t.Helper()
	digest := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(body)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func (h *harness) metrics() string {
	h.t.Helper()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicPEM(t *testing.T, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func metricValue(metrics, series string) string {
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimPrefix(line, series+" ")
		}
	}
	return ""
}
