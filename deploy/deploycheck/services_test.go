package deploycheck

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/deploy/natsauth"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/streams"
)

// TestPermissionsCoverTheServices keeps permissions.json, the rendered
// accounts.conf and the services' own declarations in step: a service
// that starts using a stream or bucket fails here until its user may.
func TestPermissionsCoverTheServices(t *testing.T) {
	perms := loadPermissions(t)
	want, err := os.ReadFile(repo(t, "deploy", "nats", "accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(perms.Render(), want) {
		t.Error("deploy/nats/accounts.conf is not what permissions.json renders: run `go generate ./natsauth` in deploy/")
	}
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, svc := range fleet.All() {
		spec := svc.Spec
		seen[spec.Name] = true
		p, ok := perms.Service(spec.Name)
		if !ok {
			t.Errorf("service %s has no user in permissions.json", spec.Name)
			continue
		}
		for _, st := range spec.Streams {
			if !contains(p.Streams, st) {
				t.Errorf("%s uses stream %s (its ServiceSpec) but permissions.json does not list it", spec.Name, st)
			}
		}
		for _, b := range spec.Buckets {
			if !hasBucket(p, b) {
				t.Errorf("%s uses bucket %s (its ServiceSpec) but permissions.json grants no keys of it", spec.Name, b)
			}
		}
	}
	for _, p := range perms.Services {
		if !seen[p.Name] {
			t.Errorf("permissions.json has a user for %s, which is no service of pkg/fleet", p.Name)
		}
		for _, c := range p.Consumers {
			st, d, _ := strings.Cut(c, "/")
			if _, ok := defs.Consumer(st, d); !ok {
				t.Errorf("%s: consumer %s is not declared in streams/", p.Name, c)
			}
		}
		for _, g := range p.KV {
			if !bucketDeclared(defs, g.Bucket) {
				t.Errorf("%s: bucket %s is not declared in streams/kv", p.Name, g.Bucket)
			}
		}
		// Reading credentials and holding the master key go together: a
		// service given the key without needing it is one more place it
		// can leak from.
		if hasBucket(p, secrets.Bucket) != p.MasterKey {
			t.Errorf("%s: reads %s %v, master_key %v", p.Name, secrets.Bucket, hasBucket(p, secrets.Bucket), p.MasterKey)
		}
	}
}

func hasBucket(p natsauth.Service, bucket string) bool {
	for _, g := range p.KV {
		if g.Bucket == bucket {
			return true
		}
	}
	return false
}

func bucketDeclared(defs stream.Definitions, bucket string) bool {
	for _, b := range defs.Buckets {
		if b.Config.Bucket == bucket {
			return true
		}
	}
	return false
}

// testRealServices runs every service of pkg/fleet as production does,
// each with its own user, TLS and MLC_PROVISION=false, the master key only
// where permissions.json says: each must become ready without a single
// permission violation, and a signed webhook must reach COMMERCE through
// ingest.
func testRealServices(t *testing.T, c *cluster, op *client, perms natsauth.Permissions) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	master, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	credKV, err := op.js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	// The job tests left unsealed probe values; real services would
	// rightly refuse to start on them.
	for _, k := range []string{"commerce.default", "netsuite"} {
		if err := credKV.Purge(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	vault := secrets.NewStore(credKV, keys)

	ingestAddr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	const hookSecret = "deploycheck-webhook-secret"
	sim := commercesim.NewTestServer(t, commercesim.Config{Seed: 11, Webhooks: commercesim.WebhookConfig{
		BaseURL: "http://" + ingestAddr + "/webhooks/commerce", Mode: "hmac", Secret: []byte(hookSecret), Timeout: 5 * time.Second}})
	oa := sim.Config().OAuth1
	if err := connection.SaveCommerce(ctx, vault, connection.Commerce{
		Store: "default", BaseURL: sim.StoreBaseURL("default"), Flavour: "paas", Auth: "oauth1",
		OAuth1:  connection.OAuth1{ConsumerKey: oa.ConsumerKey, ConsumerSecret: oa.ConsumerSecret, AccessToken: oa.AccessToken, AccessTokenSecret: oa.AccessTokenSecret},
		Webhook: connection.Webhook{Mode: "hmac", Secrets: []string{hookSecret}},
	}); err != nil {
		t.Fatal(err)
	}

	// And the NetSuite connection, to its simulator, as mlc connect netsuite stores it.
	nsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ns := netsuitesim.NewTestServer(t, netsuitesim.Config{AccountID: "1234567", ClientID: "deploycheck-client"})
	ns.RegisterCertificate("deploycheck-cert", &nsKey.PublicKey)
	der, err := x509.MarshalPKCS8PrivateKey(nsKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := connection.SaveNetSuite(ctx, vault, connection.NetSuite{
		AccountID: "1234567", ClientID: "deploycheck-client", CertificateID: "deploycheck-cert", BaseURL: ns.URL(),
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}); err != nil {
		t.Fatal(err)
	}

	// audit-mirror mirrors into a real ClickHouse (Debian's clickhouse-server).
	ch := chtest.Start(t)

	var running []*runningService
	for _, svc := range fleet.All() {
		name := svc.Spec.Name
		p, ok := perms.Service(name)
		if !ok {
			t.Fatalf("%s has no user", name)
		}
		addr := ingestAddr
		if name != "ingest" {
			if addr, err = freeport.Addr(); err != nil {
				t.Fatal(err)
			}
		}
		env := map[string]string{
			"MLC_NATS_URL":         c.urls(),
			"MLC_NATS_NKEY_FILE":   c.seeds[name],
			"MLC_NATS_TLS_CA":      c.tls.CA,
			"MLC_PROVISION":        "false",
			"MLC_HTTP_ADDR":        addr,
			"MLC_LOG_LEVEL":        "debug",
			"MLC_SHUTDOWN_TIMEOUT": "5s",
			"MLC_POLL_INTERVAL":    "200ms",
			"MLC_POLL_SETTLE":      "0s",
		}
		if p.MasterKey {
			env[secrets.EnvMasterKey] = base64.StdEncoding.EncodeToString(master)
		}
		if name == "audit-mirror" {
			env["MLC_CLICKHOUSE_DSN"] = ch.Addr
		}
		running = append(running, runService(t, name, svc.Run, env, addr))
	}
	for _, r := range running {
		r.waitReady(t)
	}

	// A storefront order, signed, through ingest's user into COMMERCE.
	order, err := sim.PlaceOrder(ctx, "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	subj := event.CommerceSubject(event.OrderPlaced, "default")
	commerce, err := op.js.Stream(ctx, event.StreamCommerce)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		m, err := commerce.GetLastMsgForSubject(ctx, subj)
		if err == nil && m.Header.Get(event.HeaderMsgID) == event.MsgID(event.OrderPlaced, "default", order.IncrementID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s did not reach %s: %v", order.IncrementID, subj, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ingest's poll took its lease and kept its cursors with its own user.
	cp, err := op.js.KeyValue(ctx, event.BucketCheckpoints)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ingest's poll lease", func() bool {
		_, err := cp.Get(ctx, "lease.ingest-poll")
		return err == nil
	})

	sim.CloseIdleConnections()
	for _, r := range running {
		r.stop(t)
	}
	for _, r := range running {
		if logs := r.logs.String(); strings.Contains(strings.ToLower(logs), "permissions violation") {
			t.Errorf("%s hit a permission violation with its production user:\n%s", r.name, grepLines(logs, "ermissions"))
		}
	}
}

type runningService struct {
	name   string
	url    string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func runService(t *testing.T, name string, run func(context.Context, map[string]string, io.Writer) error, env map[string]string, addr string) *runningService {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningService{name: name, url: "http://" + addr, logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx, env, r.logs) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *runningService) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("%s exited before it was ready: %v\n%s", r.name, err, r.logs.String())
		default:
		}
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready: %d %s\n%s", r.name, resp.StatusCode, body, r.logs.String())
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v\n%s", r.name, err, r.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *runningService) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("%s stopped with %v\n%s", r.name, err, r.logs.String())
		}
	case <-time.After(wait):
		t.Errorf("%s did not stop", r.name)
	}
}

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

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testNodeLoss: with R3 streams and sync_interval always, losing a node,
// the stream leader at that, loses no acknowledged message; the node comes
// back, catches up, and then losing another node loses nothing either.
func testNodeLoss(t *testing.T, c *cluster, op *client) {
	ing := c.connect(t, "ingest")
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	const total = 120
	const subj = "commerce.order.placed.nodeloss"
	acked := map[string]uint64{}
	publish := func(i int) {
		id := fmt.Sprintf("order.placed:nodeloss:%06d", i)
		deadline := time.Now().Add(wait)
		for {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			ack, err := ing.js.Publish(pctx, subj, []byte(fmt.Sprintf(`{"n":%d}`, i)), jetstream.WithMsgID(id))
			pcancel()
			if err == nil {
				acked[id] = ack.Sequence
				return
			}
			// No ack: a client retries with the same id (JetStream dedups),
			// as ingest's caller, Commerce, never would after a 200.
			if time.Now().After(deadline) {
				t.Fatalf("publish %s: no ack in %v: %v", id, wait, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	st, err := op.js.Stream(ctx, event.StreamCommerce)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("COMMERCE has no leader: %v", err)
	}
	leader := c.index(info.Cluster.Leader)
	for i := range total / 2 {
		publish(i)
	}
	c.stop(leader)
	for i := total / 2; i < total; i++ {
		publish(i)
	}
	checkAll(t, ctx, op, subj, acked)

	// Back it comes, catches up from the others; then another node goes.
	c.start(leader)
	waitFor(t, "the restarted node to catch up", func() bool {
		info, err := st.Info(ctx)
		if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline || r.Lag > 0 {
				return false
			}
		}
		return true
	})
	other := (leader + 1) % len(c.nodes)
	c.stop(other)
	checkAll(t, ctx, op, subj, acked)
	c.start(other)
}

// checkAll reads subj back through the operator and requires every
// acknowledged message, once, at the sequence its ack named.
func checkAll(t *testing.T, ctx context.Context, op *client, subj string, acked map[string]uint64) {
	t.Helper()
	var got map[string]uint64
	var lastErr error
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		got, lastErr = readSubject(ctx, op.js, subj, len(acked))
		if lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("read %s back: %v", subj, lastErr)
	}
	for id, seq := range acked {
		if got[id] != seq {
			t.Errorf("acknowledged %s (seq %d) is missing or moved: %d", id, seq, got[id])
		}
	}
	if len(got) != len(acked) {
		t.Errorf("%d messages on %s, %d acknowledged", len(got), subj, len(acked))
	}
}

func readSubject(ctx context.Context, js jetstream.JetStream, subj string, want int) (map[string]uint64, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(rctx, event.StreamCommerce, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return nil, err
	}
	got := map[string]uint64{}
	for len(got) < want {
		batch, err := cons.Fetch(want-len(got), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			id := m.Headers().Get(event.HeaderMsgID)
			if prev, dup := got[id]; dup {
				return nil, fmt.Errorf("%s stored twice (seq %d and %d)", id, prev, md.Sequence.Stream)
			}
			got[id] = md.Sequence.Stream
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			info, err := cons.Info(rctx)
			if err == nil && info.NumPending == 0 {
				return got, nil // everything read: fewer than acknowledged
			}
		}
	}
	return got, nil
}
