// Package servicetest starts a service's real surroundings for its tests: an
// in-process JetStream server (port -1, storage in t.TempDir()) with
// streams/ applied, the Commerce and NetSuite simulators over httptest,
// connections to them stored encrypted under a fresh master key, and the
// service itself, run by its Run func with an environment built for it.
//
//	e := servicetest.New(t, servicetest.WithCommerce(commercesim.Config{}))
//	svc := e.Run(ingest.Run)
//	status, body := svc.Post(t, "/webhooks/commerce/order-placed", raw, hdr)
//	msg := e.Next(t, "COMMERCE", "commerce.order.placed.default")
//
// Everything stops when the test ends; a failed test prints the service's log.
package servicetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Wait bounds every wait of this package (WaitFor, Next, a service's start
// and stop): long enough for a loaded 2-core machine under -race.
const Wait = 20 * time.Second

// Env is one test's system around the services under test.
type Env struct {
	t    testing.TB
	NATS *server.Server
	Dir  string // JetStream store directory, kept across StopNATS/StartNATS
	port int
	NC   *nats.Conn
	JS   jetstream.JetStream

	MasterKey []byte
	Secrets   *secrets.Store // mlc_credentials under MasterKey

	Commerce    *commercesim.Server // nil without WithCommerce
	WebhookKey  *rsa.PrivateKey     // signs the Commerce simulator's webhooks
	NetSuite    *netsuitesim.Server // nil without WithNetSuite
	NetSuiteKey *ecdsa.PrivateKey   // the NetSuite connection's certificate key

	mu        sync.Mutex
	consumers map[string]jetstream.Consumer
}

type options struct {
	commerce  *commercesim.Config
	stores    []string
	storesSet bool
	netsuite  *netsuitesim.Config
	selection *stream.Selection
}

// Option chooses what New starts.
type Option func(*options)

// WithCommerce runs the Commerce simulator. Unless cfg names other signing
// material, its webhooks (sent when cfg.Webhooks.BaseURL is set) are signed
// with a fresh RSA key, Env.WebhookKey, which the stored connections
// verify with and tests can sign their own bodies with.
func WithCommerce(cfg commercesim.Config) Option {
	return func(o *options) { o.commerce = &cfg }
}

// WithStores stores a working connection to each of the simulator's stores
// (default: "default"; none when called without codes).
func WithStores(codes ...string) Option {
	return func(o *options) { o.stores, o.storesSet = codes, true }
}

// WithNetSuite runs the NetSuite simulator and stores a connection to it
// (an EC P-256 certificate key, as `mlc connect netsuite` would store).
func WithNetSuite(cfg netsuitesim.Config) Option {
	return func(o *options) { o.netsuite = &cfg }
}

// WithStreams applies only this part of streams/ (default: all of it).
func WithStreams(sel *stream.Selection) Option {
	return func(o *options) { o.selection = sel }
}

// New starts JetStream, applies streams/, creates the master key and runs
// the simulators the options ask for.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	e := &Env{t: t, Dir: t.TempDir(), consumers: map[string]jetstream.Consumer{}}
	e.NATS = natstest.RunServerWithDir(t, e.Dir)
	e.port = e.NATS.Addr().(*net.TCPAddr).Port
	e.NC, e.JS = natstest.Connect(t, e.NATS)
	ctx := context.Background()
	if _, err := stream.ApplyDeclared(ctx, e.JS, o.selection); err != nil {
		t.Fatalf("servicetest: apply streams/: %v", err)
	}
	var err error
	if e.MasterKey, err = secrets.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyring(e.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := e.JS.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatalf("servicetest: %s (is it in the selection?): %v", secrets.Bucket, err)
	}
	e.Secrets = secrets.NewStore(kv, keys)
	if o.commerce != nil {
		e.startCommerce(*o.commerce)
		stores := o.stores
		if !o.storesSet {
			stores = []string{"default"}
		}
		for _, code := range stores {
			e.SaveCommerce(e.CommerceConnection(code))
		}
	}
	if o.netsuite != nil {
		e.startNetSuite(*o.netsuite)
	}
	return e
}

func (e *Env) startCommerce(cfg commercesim.Config) {
	t := e.t
	t.Helper()
	if cfg.Webhooks.PrivateKey == nil && len(cfg.Webhooks.Secret) == 0 && cfg.Webhooks.Mode == "" {
		cfg.Webhooks.PrivateKey = RSAKey(t)
	}
	e.WebhookKey = cfg.Webhooks.PrivateKey
	e.Commerce = commercesim.NewTestServer(t, cfg)
}

func (e *Env) startNetSuite(cfg netsuitesim.Config) {
	t := e.t
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.NetSuiteKey = k
	if cfg.AccountID == "" {
		cfg.AccountID = "1234567"
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "servicetest-client"
	}
	e.NetSuite = netsuitesim.NewTestServer(t, cfg)
	e.NetSuite.RegisterCertificate("servicetest-cert", &k.PublicKey)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	n := connection.NetSuite{
		AccountID: cfg.AccountID, ClientID: cfg.ClientID, CertificateID: "servicetest-cert",
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), BaseURL: e.NetSuite.URL(),
	}
	if err := connection.SaveNetSuite(context.Background(), e.Secrets, n); err != nil {
		t.Fatalf("servicetest: store the NetSuite connection: %v", err)
	}
}

// CommerceConnection is a working connection to one of the simulator's
// stores: its OAuth 1.0a integration, webhooks verified as the simulator
// signs them, and its I/O Events keys when it delivers I/O Events.
func (e *Env) CommerceConnection(store string) connection.Commerce {
	e.t.Helper()
	if e.Commerce == nil {
		e.t.Fatal("servicetest: CommerceConnection without WithCommerce")
	}
	cfg := e.Commerce.Config()
	oa := cfg.OAuth1
	c := connection.Commerce{
		Store: store, BaseURL: e.Commerce.StoreBaseURL(store), Flavour: "paas", Auth: "oauth1",
		OAuth1: connection.OAuth1{ConsumerKey: oa.ConsumerKey, ConsumerSecret: oa.ConsumerSecret,
			AccessToken: oa.AccessToken, AccessTokenSecret: oa.AccessTokenSecret},
	}
	switch {
	case cfg.Webhooks.Mode == "hmac":
		c.Webhook = connection.Webhook{Mode: "hmac", Secrets: []string{string(cfg.Webhooks.Secret)}}
	case cfg.Webhooks.Mode == "none":
		c.Webhook = connection.Webhook{Mode: "none"}
	default:
		c.Webhook = connection.Webhook{Mode: "rsa", PublicKeys: []string{PublicKeyPEM(e.t, e.WebhookKey)}}
	}
	if cfg.IOEvents.URL != "" {
		c.IOEvents.ClientID = e.Commerce.IOEventsClientID()
		for _, k := range e.Commerce.IOEventsPublicKeysPEM() {
			c.IOEvents.PublicKeys = append(c.IOEvents.PublicKeys, string(k))
		}
	}
	return c
}

// SaveCommerce stores c encrypted, as `mlc connect commerce` does.
func (e *Env) SaveCommerce(c connection.Commerce) {
	e.t.Helper()
	if err := connection.SaveCommerce(context.Background(), e.Secrets, c); err != nil {
		e.t.Fatalf("servicetest: store the Commerce connection: %v", err)
	}
}

// Environ is the environment a service gets: NATS, the master key, debug
// logs and a short shutdown grace. Run adds MLC_HTTP_ADDR and the caller's.
func (e *Env) Environ() map[string]string {
	return map[string]string{
		"MLC_NATS_URL":         e.NATS.ClientURL(),
		secrets.EnvMasterKey:   base64.StdEncoding.EncodeToString(e.MasterKey),
		"MLC_LOG_LEVEL":        "debug",
		"MLC_SHUTDOWN_TIMEOUT": "5s",
	}
}

// StopNATS shuts the JetStream server down (an outage); StartNATS brings
// it back on the same port and data, where clients reconnect.
func (e *Env) StopNATS() {
	e.NATS.Shutdown()
	e.NATS.WaitForShutdown()
}

// StartNATS restarts the server StopNATS stopped.
func (e *Env) StartNATS() {
	e.t.Helper()
	e.NATS = natstest.RunServerOn(e.t, e.Dir, e.port)
}

// FreeAddr is a loopback host:port free just now, for a service whose
// address must be known before it starts (the simulator's webhook target).
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// WaitFor polls cond until it holds, failing the test after Wait.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Wait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RSAKey generates an RSA-2048 key (the size of the Commerce admin's
// webhook key pair).
func RSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// PublicKeyPEM is k's public half as the Commerce admin shows it.
func PublicKeyPEM(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
