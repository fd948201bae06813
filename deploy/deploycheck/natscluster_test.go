package deploycheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/deploy/natsauth"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// wait bounds every wait here: generous for a loaded 2-core machine under -race.
const wait = 20 * time.Second

// repo is the repository root; tests run in deploy/deploycheck.
func repo(t testing.TB, parts ...string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(append([]string{root}, parts...)...)
}

func loadPermissions(t testing.TB) natsauth.Permissions {
	t.Helper()
	p, err := natsauth.Load(repo(t, "deploy", "nats", "permissions.json"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsFiles are throwaway certificates like scripts/gen-secrets.sh makes: a
// CA and one server certificate for every node (server and client auth,
// the latter for the mutual TLS of routes).
type tlsFiles struct{ CA, Cert, Key string }

func writeCerts(t testing.TB, dir string) tlsFiles {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ml-connector test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost", "nats-1", "nats-2", "nats-3"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := tlsFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem")}
	for path, block := range map[string]*pem.Block{
		f.CA: {Type: "CERTIFICATE", Bytes: caDER}, f.Cert: {Type: "CERTIFICATE", Bytes: der}, f.Key: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// cluster is three nats-servers started from deploy/nats/nats-{1,2,3}.conf,
// with only what a test must change overridden: loopback ports, the store
// directories, the certificate paths.
type cluster struct {
	t     *testing.T
	dir   string
	tls   tlsFiles
	seeds map[string]string // user -> NKey seed file
	nodes [3]*node
}

type node struct {
	name        string
	conf        string // the copied config file
	clientPort  int
	clusterPort int
	storeDir    string

	mu  sync.Mutex
	srv *server.Server
}

// startCluster copies the shipped configuration into a temporary tree,
// creates an NKey per user of permissions.json (their public keys in the
// environment, as the shipped accounts.conf expects) and starts the nodes.
func startCluster(t *testing.T, perms natsauth.Permissions) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), seeds: map[string]string{}}
	c.tls = writeCerts(t, filepath.Join(c.dir, "tls"))
	for _, u := range perms.Users() {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		file := filepath.Join(c.dir, "nkeys", u+".nk")
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		c.seeds[u] = file
		t.Setenv(natsauth.NKeyVar(u), pub)
	}
	etc := filepath.Join(c.dir, "etc-nats")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	src := repo(t, "deploy", "nats")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		// The one rewrite: where the certificates are mounted.
		s := strings.ReplaceAll(string(b), "/etc/nats-tls/", filepath.Join(c.dir, "tls")+"/")
		if err := os.WriteFile(filepath.Join(etc, e.Name()), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range c.nodes {
		cp, err := freeport.Addr()
		if err != nil {
			t.Fatal(err)
		}
		rp, err := freeport.Addr()
		if err != nil {
			t.Fatal(err)
		}
		c.nodes[i] = &node{
			name: fmt.Sprintf("nats-%d", i+1), conf: filepath.Join(etc, fmt.Sprintf("nats-%d.conf", i+1)),
			clientPort: port(t, cp), clusterPort: port(t, rp), storeDir: filepath.Join(c.dir, fmt.Sprintf("data-%d", i+1), "jetstream"),
		}
	}
	for i := range c.nodes {
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	// Wait for a JetStream meta leader: the cluster can take streams.
	deadline := time.Now().Add(wait)
	for {
		ready := true
		for _, n := range c.nodes {
			if s := n.server(); s == nil || !s.JetStreamIsClustered() || !hasMetaLeader(s) {
				ready = false
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("cluster: no JetStream meta leader")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

func hasMetaLeader(s *server.Server) bool {
	jsz, err := s.Jsz(&server.JSzOptions{})
	return err == nil && jsz.Meta != nil && jsz.Meta.Leader != ""
}

func port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// options parses node i's shipped config and points it at loopback ports
// and its temporary store.
func (c *cluster) options(i int) *server.Options {
	c.t.Helper()
	n := c.nodes[i]
	opts, err := server.ProcessConfigFile(n.conf)
	if err != nil {
		c.t.Fatalf("%s: %v", n.conf, err)
	}
	opts.Host, opts.Port = "127.0.0.1", n.clientPort
	opts.HTTPPort = 0 // no monitoring listener in tests (the shipped one is loopback-only, checked elsewhere)
	opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", n.clusterPort
	opts.Routes = nil
	for _, m := range c.nodes {
		opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(m.clusterPort))})
	}
	opts.StoreDir = n.storeDir
	opts.NoLog, opts.NoSigs = true, true
	return opts
}

func (c *cluster) start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	s, err := server.NewServer(c.options(i))
	if err != nil {
		c.t.Fatalf("%s: %v", n.name, err)
	}
	go s.Start()
	if !s.ReadyForConnections(wait) {
		c.t.Fatalf("%s: not ready", n.name)
	}
	n.mu.Lock()
	n.srv = s
	n.mu.Unlock()
}

// stop shuts node i down: its clients lose it, the others carry on.
func (c *cluster) stop(i int) {
	n := c.nodes[i]
	n.mu.Lock()
	s := n.srv
	n.srv = nil
	n.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

func (n *node) server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// index of the node whose server is called name.
func (c *cluster) index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	c.t.Fatalf("no node %q", name)
	return -1
}

// urls lists every node, as services are configured (MLC_NATS_URL).
func (c *cluster) urls() string {
	var u []string
	for _, n := range c.nodes {
		u = append(u, fmt.Sprintf("tls://127.0.0.1:%d", n.clientPort))
	}
	return strings.Join(u, ",")
}

// client is one user's connection, made the way services make theirs
// (stream.Connect with stream.Security), that also records every
// permission violation the server reports to it.
type client struct {
	user string
	nc   *nats.Conn
	js   jetstream.JetStream

	mu      sync.Mutex
	denials []string
	notify  chan struct{}
}

// connect dials as user; connection name "mlc-<user>" gives the inbox
// prefix a service uses (the operator's CLI names itself mlc-cli).
func (c *cluster) connect(t testing.TB, user string) *client {
	t.Helper()
	seed, ok := c.seeds[user]
	if !ok {
		t.Fatalf("no user %q", user)
	}
	cl := &client{user: user, notify: make(chan struct{}, 1)}
	sec, err := stream.Security{NKeyFile: seed, CAFile: c.tls.CA}.Options()
	if err != nil {
		t.Fatal(err)
	}
	sec = append(sec,
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { cl.record(err) }),
		nats.ReconnectWait(50*time.Millisecond),
	)
	nc, js, err := stream.Connect(c.urls(), "", "mlc-"+user, zerolog.Nop(), sec...)
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	if !waitConnected(nc) {
		t.Fatalf("connect %s: %v", user, nc.LastError())
	}
	cl.nc, cl.js = nc, js
	return cl
}

func waitConnected(nc *nats.Conn) bool {
	deadline := time.Now().Add(wait)
	for !nc.IsConnected() {
		if nc.IsClosed() || time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func (cl *client) record(err error) {
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
		return
	}
	cl.mu.Lock()
	cl.denials = append(cl.denials, err.Error())
	cl.mu.Unlock()
	select {
	case cl.notify <- struct{}{}:
	default:
	}
}

// takeDenial removes and reports a recorded violation of kind
// ("Publish", "Subscription") whose subject matches pattern (a NATS
// subject, '*' standing for a token the client chose, e.g. a consumer name).
func (cl *client) takeDenial(kind, pattern string) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for i, d := range cl.denials {
		_, rest, ok := strings.Cut(d, "for "+kind+` to "`)
		if !ok {
			continue
		}
		subj, _, ok := strings.Cut(rest, `"`)
		if ok && subjectMatches(pattern, subj) {
			cl.denials = append(cl.denials[:i], cl.denials[i+1:]...)
			return true
		}
	}
	return false
}

// subjectMatches reports whether subject matches pattern, token by token
// ('*' any one token, '>' the rest); wildcards in subject are literal.
func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || tok != "*" && tok != s[i] {
			return false
		}
	}
	return len(p) == len(s)
}

// denied runs op and requires the server to refuse subject (a pattern,
// see takeDenial) to this user: the positive evidence is the server's
// permission violation naming it (and op must not succeed).
func (cl *client) denied(t testing.TB, kind, subject string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	full := kind + ` to "` + subject + `"`
	deadline := time.After(wait)
	for !cl.takeDenial(kind, subject) {
		select {
		case <-cl.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%s: no permission violation for %s; seen: %v", cl.user, full, cl.pending())
		}
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatalf("%s: %s was refused by the server but the call reported success", cl.user, full)
	}
}

func (cl *client) pending() []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]string(nil), cl.denials...)
}

// request is a raw request on subject, for API calls the client libraries
// would not make.
func (cl *client) request(subject string, body []byte) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := cl.nc.RequestWithContext(ctx, subject, body)
		return err
	}
}
