package deploycheck

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/ml-connector/ml-connector/deploy/natsauth"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/streams"
)

// TestCluster starts the shipped 3-node cluster (deploy/nats) with the
// shipped accounts and TLS, applies streams/ with three replicas as the
// operator does, and proves what the deployment promises: every service
// user can do its job and nothing more, strangers cannot connect, and
// losing a node loses no acknowledged message.
func TestCluster(t *testing.T) {
	perms := loadPermissions(t)
	c := startCluster(t, perms)
	op := c.connect(t, perms.Operator.Name)
	// Provisioning is the operator's, with the real CLI and its user.
	mlc := buildMLC(t)
	out, err := runMLC(t, mlc, c, "streams", "apply", "--replicas", "3")
	if err != nil {
		t.Fatalf("mlc streams apply --replicas 3: %v\n%s", err, out)
	}
	if out, err := runMLC(t, mlc, c, "--json", "streams", "apply", "--replicas", "3"); err != nil || strings.Contains(out, `"created"`) || strings.Contains(out, `"updated"`) {
		t.Fatalf("a second mlc streams apply changed something: %v\n%s", err, out)
	}

	t.Run("shipped settings", func(t *testing.T) { testShippedSettings(t, c, op) })
	t.Run("strangers cannot connect", func(t *testing.T) { testStrangers(t, c) })
	for _, s := range perms.Services {
		t.Run("job/"+s.Name, func(t *testing.T) { testServiceJob(t, c, op, s) })
	}
	for _, s := range perms.Services {
		t.Run("limits/"+s.Name, func(t *testing.T) { testServiceLimits(t, c, s) })
	}
	t.Run("policy", func(t *testing.T) { testPolicyLive(t, c) })
	t.Run("master key rotation as documented", func(t *testing.T) { testRotation(t, c, op, mlc) })
	t.Run("services start with their users", func(t *testing.T) { testRealServices(t, c, op, perms) })
	t.Run("node loss", func(t *testing.T) { testNodeLoss(t, c, op) })
}

// testShippedSettings checks the settings the other tests cannot observe
// from a client: fsync on every write, monitoring on loopback only, client
// TLS without client certificates, mutual TLS between routes, no default
// user, room for the largest message a stream accepts.
func testShippedSettings(t *testing.T, c *cluster, op *client) {
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	var largest int32
	var reserved int64
	for _, s := range defs.Streams {
		largest = max(largest, s.Config.MaxMsgSize)
		reserved += s.Config.MaxBytes
	}
	for _, n := range c.nodes {
		opts, err := server.ProcessConfigFile(n.conf)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case opts.ServerName != n.name:
			t.Errorf("%s: server_name %q", n.name, opts.ServerName)
		case !opts.JetStream || !opts.SyncAlways:
			t.Errorf("%s: JetStream %v, sync_interval always %v", n.name, opts.JetStream, opts.SyncAlways)
		case opts.HTTPPort != 0 && opts.HTTPHost != "127.0.0.1" || opts.HTTPSPort != 0:
			t.Errorf("%s: monitoring on %s:%d (https %d); want loopback only", n.name, opts.HTTPHost, opts.HTTPPort, opts.HTTPSPort)
		case opts.TLSConfig == nil || opts.TLSVerify || opts.TLSConfig.MinVersion < tls.VersionTLS12:
			t.Errorf("%s: client TLS %v, verify %v", n.name, opts.TLSConfig != nil, opts.TLSVerify)
		case opts.Cluster.TLSConfig == nil || opts.Cluster.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert:
			t.Errorf("%s: routes are not mutual TLS", n.name)
		case opts.NoAuthUser != "":
			t.Errorf("%s: no_auth_user %q lets anyone in", n.name, opts.NoAuthUser)
		case opts.MaxPayload < largest:
			t.Errorf("%s: max_payload %d is below the largest max_msg_size %d of streams/", n.name, opts.MaxPayload, largest)
		case opts.JetStreamMaxStore < reserved:
			t.Errorf("%s: max_file_store %d is below the %d bytes the R3 streams reserve on every node", n.name, opts.JetStreamMaxStore, reserved)
		case opts.Cluster.Name != "mlc" || len(opts.Routes) != 3:
			t.Errorf("%s: cluster %q with %d routes", n.name, opts.Cluster.Name, len(opts.Routes))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, d := range defs.Streams {
		st, err := op.js.Stream(ctx, d.Config.Name)
		if err != nil {
			t.Fatal(err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("stream %s: %d replicas after mlc streams apply --replicas 3", d.Config.Name, r)
		}
	}
	for _, b := range defs.Buckets {
		st, err := op.js.Stream(ctx, "KV_"+b.Config.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("bucket %s: %d replicas after mlc streams apply --replicas 3", b.Config.Bucket, r)
		}
	}
}

// testStrangers: without a known NKey, or without TLS, there is no connection.
func testStrangers(t *testing.T, c *cluster) {
	urls := c.urls()
	if nc, err := nats.Connect(urls, nats.RootCAs(c.tls.CA), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("anonymous: want an authorization error, got %v", err)
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	opt := nats.Nkey(pub, func(nonce []byte) ([]byte, error) {
		k, err := nkeys.FromSeed(seed)
		if err != nil {
			return nil, err
		}
		return k.Sign(nonce)
	})
	if nc, err := nats.Connect(urls, opt, nats.RootCAs(c.tls.CA), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("an unknown NKey connected")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
		t.Fatalf("unknown nkey: want an authorization error, got %v", err)
	}
	// A known user that does not check the server's certificate against
	// our CA gets no further than the handshake.
	known, err := nats.NkeyOptionFromSeed(c.seeds["ingest"])
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(urls, known, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("connected without the cluster's CA")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA: want a certificate error, got %v", err)
	}
	// Plain TCP, no TLS at all: the server says so and goes no further.
	raw, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.nodes[0].clientPort), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(wait))
	r := bufio.NewReader(raw)
	info, err := r.ReadString('\n')
	if err != nil || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO %q, %v: want tls_required", info, err)
	}
	if _, err := raw.Write([]byte("CONNECT {\"verbose\":false}\r\nPUB commerce.order.placed.default 2\r\n{}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	// The server reads our plain text as a failed TLS handshake and hangs
	// up: the connection ends without a PONG (or anything else).
	rest, err := io.ReadAll(r)
	if err != nil || strings.Contains(string(rest), "PONG") || strings.Contains(string(rest), "+OK") {
		t.Fatalf("plain-text client got %q, %v; want the connection closed unanswered", rest, err)
	}
}

// testServiceJob does, as the service's user, everything permissions.json
// says the service does: read its streams, publish its subjects, fetch and
// ack on its durables, read (and where allowed write) its KV keys.
func testServiceJob(t *testing.T, c *cluster, op *client, s natsauth.Service) {
	cl := c.connect(t, s.Name)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, st := range s.Streams {
		if _, err := cl.js.Stream(ctx, st); err != nil {
			t.Errorf("stream %s info: %v", st, err)
		}
	}
	for _, p := range s.Publish {
		subj := concrete(p, "deploycheck")
		if _, err := cl.js.Publish(ctx, subj, []byte(`{"probe":true}`), jetstream.WithMsgID(s.Name+":"+subj)); err != nil {
			t.Errorf("publish %s: %v", subj, err)
		}
	}
	for _, st := range s.DirectGet {
		h, err := cl.js.Stream(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := op.js.Publish(ctx, streamSubjectOf(t, st), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		// Any replica answers a direct get: retried until one has it.
		waitFor(t, fmt.Sprintf("direct get %s #%d", st, ack.Sequence), func() bool {
			m, err := h.GetMsg(ctx, ack.Sequence)
			return err == nil && m.Sequence == ack.Sequence
		})
	}
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range s.Consumers {
		st, durable, _ := strings.Cut(name, "/")
		def, ok := defs.Consumer(st, durable)
		if !ok {
			t.Fatalf("consumer %s is not declared in streams/", name)
		}
		// The operator (or an upstream service) put something there.
		subj := concrete(def.Config.FilterSubject, "deploycheck")
		if _, err := op.js.Publish(ctx, subj, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		cons, err := cl.js.Consumer(ctx, st, durable)
		if err != nil {
			t.Fatalf("consumer %s: %v", name, err)
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(wait))
		if err != nil {
			t.Fatalf("fetch %s: %v", name, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			if err := m.DoubleAck(ctx); err != nil {
				t.Errorf("ack on %s: %v", name, err)
			}
		}
		if err := batch.Error(); err != nil || got != 1 {
			t.Errorf("fetch %s: %d messages, %v", name, got, err)
		}
	}
	for _, name := range s.UpdateConsumers {
		st, durable, _ := strings.Cut(name, "/")
		cons, err := cl.js.Consumer(ctx, st, durable)
		if err != nil {
			t.Fatal(err)
		}
		cfg := cons.CachedInfo().Config
		was := cfg.MaxAckPending
		for _, n := range []int{was + 1, was} {
			cfg.MaxAckPending = n
			if _, err := cl.js.UpdateConsumer(ctx, st, cfg); err != nil {
				t.Errorf("update %s max_ack_pending %d: %v", name, n, err)
			}
		}
	}
	for _, g := range s.KV {
		opKV, err := op.js.KeyValue(ctx, g.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := cl.js.KeyValue(ctx, g.Bucket)
		if err != nil {
			t.Fatalf("bucket %s: %v", g.Bucket, err)
		}
		for _, k := range g.Keys {
			key := concrete(k, "deploycheck")
			val := []byte("set by the operator for " + s.Name)
			if _, err := opKV.Put(ctx, key, val); err != nil {
				t.Fatal(err)
			}
			// KV gets are direct gets, answered by any replica: right after
			// a write, a follower may not have it yet.
			waitFor(t, g.Bucket+" get "+key, func() bool {
				e, err := kv.Get(ctx, key)
				return err == nil && string(e.Value()) == string(val)
			})
			w, err := kv.Watch(ctx, k)
			if err != nil {
				t.Fatalf("%s watch %s: %v", g.Bucket, k, err)
			}
			seen := false
			for e := range w.Updates() {
				if e == nil {
					break
				}
				seen = seen || e.Key() == key
			}
			_ = w.Stop()
			if !seen {
				t.Errorf("%s watch %s did not show %s", g.Bucket, k, key)
			}
			if !g.Write {
				cl.denied(t, "Publish", "$KV."+g.Bucket+"."+key, func(ctx context.Context) error {
					_, err := kv.Put(ctx, key, []byte("forged"))
					return err
				})
				continue
			}
			rev, err := kv.Put(ctx, key, []byte("v2"))
			if err != nil {
				t.Fatalf("%s put %s: %v", g.Bucket, key, err)
			}
			if _, err := kv.Update(ctx, key, []byte("v3"), rev); err != nil {
				t.Errorf("%s update %s: %v", g.Bucket, key, err)
			}
			if err := kv.Delete(ctx, key); err != nil {
				t.Errorf("%s delete %s: %v", g.Bucket, key, err)
			}
			// Create over a deleted key looks the delete up with a direct
			// get too: retried until a replica has it.
			waitFor(t, g.Bucket+" create "+key, func() bool {
				_, err := kv.Create(ctx, key, []byte("v4"))
				return err == nil
			})
		}
	}
	if d := cl.pending(); len(d) > 0 {
		t.Errorf("unexpected permission violations doing the job: %v", d)
	}
}

// credentialKeys are the names pkg/connection stores: the NetSuite
// connection and one per Commerce store (commerce.<encoded store code>).
var credentialKeys = []string{"netsuite", "commerce.default", "commerce.en__us", "commerce.us_2Eeast"}

// streamSubjects are examples of every subject space, to check that a
// service publishes to its own and no other.
var streamSubjects = []string{
	"commerce.order.placed.default", "commerce.invoice.captured.en__us",
	"netsuite.upsert.salesorder", "netsuite.upsert.invoice", "netsuite.upsert.customer",
	"sync.ok.salesorder", "sync.failed.invoice",
	"inventory.item.changed",
	"dlq.commerce.order.placed.default", "dlq.netsuite.upsert.salesorder", "dlq.inventory.item.changed", "dlq.sync.ok.salesorder",
}

// testServiceLimits: what the service must not be able to do.
func testServiceLimits(t *testing.T, c *cluster, s natsauth.Service) {
	cl := c.connect(t, s.Name)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}

	// Stream subjects outside its own: no forged orders, commands or outcomes.
	for _, subj := range streamSubjects {
		if matchesAny(s.Publish, subj) {
			if _, err := cl.js.Publish(ctx, subj, []byte(`{}`)); err != nil {
				t.Errorf("publish %s: %v", subj, err)
			}
			continue
		}
		cl.denied(t, "Publish", subj, func(ctx context.Context) error {
			_, err := cl.js.Publish(ctx, subj, []byte(`{"forged":true}`))
			return err
		})
	}

	// Credentials: only the keys it was given, and never in bulk.
	var credKeys []string
	for _, g := range s.KV {
		if g.Bucket == "mlc_credentials" {
			credKeys = g.Keys
		}
	}
	var creds jetstream.KeyValue
	if len(credKeys) == 0 {
		cl.denied(t, "Publish", "$JS.API.STREAM.INFO.KV_mlc_credentials", func(ctx context.Context) error {
			_, err := cl.js.KeyValue(ctx, "mlc_credentials")
			return err
		})
	} else if creds, err = cl.js.KeyValue(ctx, "mlc_credentials"); err != nil {
		t.Fatal(err)
	}
	const direct = "$JS.API.DIRECT.GET.KV_mlc_credentials.$KV.mlc_credentials."
	for _, key := range credentialKeys {
		if matchesAny(credKeys, key) {
			continue
		}
		cl.denied(t, "Publish", direct+key, cl.request(direct+key, nil))
		if creds != nil {
			cl.denied(t, "Publish", "$JS.API.CONSUMER.CREATE.KV_mlc_credentials.*.$KV.mlc_credentials."+key, func(ctx context.Context) error {
				_, err := creds.Watch(ctx, key)
				return err
			})
		}
	}
	cl.denied(t, "Publish", "$JS.API.CONSUMER.CREATE.KV_mlc_credentials.*.$KV.mlc_credentials.>",
		cl.request("$JS.API.CONSUMER.CREATE.KV_mlc_credentials.steal.$KV.mlc_credentials.>",
			[]byte(`{"stream_name":"KV_mlc_credentials","config":{"name":"steal","filter_subject":"$KV.mlc_credentials.>","deliver_subject":"_INBOX.mlc-`+s.Name+`.steal"}}`)))
	cl.denied(t, "Publish", "$JS.API.DIRECT.GET.KV_mlc_credentials",
		cl.request("$JS.API.DIRECT.GET.KV_mlc_credentials", []byte(`{"last_by_subj":"$KV.mlc_credentials.netsuite"}`)))
	cl.denied(t, "Publish", "$JS.API.STREAM.MSG.GET.KV_mlc_credentials",
		cl.request("$JS.API.STREAM.MSG.GET.KV_mlc_credentials", []byte(`{"last_by_subj":"$KV.mlc_credentials.netsuite"}`)))
	cl.denied(t, "Publish", "$KV.mlc_credentials.netsuite", func(ctx context.Context) error {
		_, err := cl.js.Publish(ctx, "$KV.mlc_credentials.netsuite", []byte("forged"))
		return err
	})

	// Eavesdropping: no core subscriptions on stream or KV subjects, no
	// other service's inboxes.
	for _, subj := range []string{"$KV.mlc_credentials.>", "commerce.>", "_INBOX.>", "_INBOX.mlc-netsuite-writer.>", "_INBOX.mlc-cli.>"} {
		if subj == natsauth.InboxPrefix(s.Name)+".>" {
			continue
		}
		cl.denied(t, "Subscription", subj, func(ctx context.Context) error {
			sub, err := cl.nc.SubscribeSync(subj)
			if err != nil {
				return err
			}
			defer sub.Unsubscribe()
			_, err = sub.NextMsgWithContext(ctx)
			return err
		})
	}

	// Administration is the operator's: no stream or consumer changes, and
	// no work taken from another service's durable.
	for _, subj := range []string{
		"$JS.API.STREAM.CREATE.EVIL", "$JS.API.STREAM.UPDATE.COMMERCE", "$JS.API.STREAM.DELETE.COMMERCE",
		"$JS.API.STREAM.PURGE.COMMERCE", "$JS.API.STREAM.DELETE.KV_mlc_credentials", "$JS.API.STREAM.PURGE.KV_mlc_credentials",
		"$JS.API.CONSUMER.CREATE.COMMERCE.transform", "$JS.API.CONSUMER.DELETE.COMMERCE.transform",
		"$JS.API.CONSUMER.DURABLE.CREATE.COMMERCE.evil", "$JS.API.STREAM.NAMES", "$JS.API.INFO",
	} {
		cl.denied(t, "Publish", subj, cl.request(subj, []byte(`{}`)))
	}
	for _, st := range []string{"COMMERCE", "NETSUITE", "DLQ"} {
		if !contains(s.DirectGet, st) {
			subj := "$JS.API.DIRECT.GET." + st
			cl.denied(t, "Publish", subj, cl.request(subj, []byte(`{"seq":1}`)))
		}
	}
	for _, c := range defs.Consumers {
		name := c.Stream + "/" + c.Config.Durable
		if contains(s.UpdateConsumers, name) {
			continue
		}
		subj := "$JS.API.CONSUMER.CREATE." + c.Stream + "." + c.Config.Durable + "." + c.Config.FilterSubject
		cl.denied(t, "Publish", subj, cl.request(subj, []byte(`{"stream_name":"`+c.Stream+`","action":"update","config":{"durable_name":"`+c.Config.Durable+`","max_ack_pending":100000}}`)))
	}
	for _, other := range []string{"COMMERCE/transform", "NETSUITE/netsuite-writer", "INVENTORY/commerce-writer", "COMMERCE/audit-mirror"} {
		if contains(s.Consumers, other) {
			continue
		}
		st, d, _ := strings.Cut(other, "/")
		subj := "$JS.API.CONSUMER.MSG.NEXT." + st + "." + d
		cl.denied(t, "Publish", subj, cl.request(subj, []byte(`{"batch":1,"no_wait":true}`)))
	}
	if d := cl.pending(); len(d) > 0 {
		t.Errorf("permission violations no check expected: %v", d)
	}
}

// concrete turns a pattern into one subject it matches.
func concrete(pattern, token string) string {
	toks := strings.Split(pattern, ".")
	for i, t := range toks {
		switch t {
		case "*":
			toks[i] = "default"
		case ">":
			toks[i] = token
		}
	}
	return strings.Join(toks, ".")
}

func matchesAny(patterns []string, subject string) bool {
	for _, p := range patterns {
		if subjectMatches(p, subject) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// policy is the decision permissions.json implements, written out here
// on its own so that an edit to the data file that breaks it fails even
// though the data-driven checks would follow the edit.
var policy = struct {
	// writers of each stream's subject space (DESIGN.md §2)
	writers map[string][]string
	// the connections each service may read; nobody but mlc writes them
	credentials map[string]struct{ netsuite, commerce bool }
}{
	writers: map[string][]string{
		"commerce.order.placed.default":     {"ingest"},
		"netsuite.upsert.salesorder":        {"transform"},
		"netsuite.upsert.invoice":           {"transform", "netsuite-writer"}, // the writer requeues an invoice waiting for its order
		"sync.ok.salesorder":                {"transform", "netsuite-writer", "inventory-publisher"},
		"inventory.item.changed":            {"inventory-publisher"},
		"dlq.commerce.order.placed.default": {"transform"},
		"dlq.netsuite.upsert.salesorder":    {"netsuite-writer"},
		"dlq.inventory.item.changed":        {"inventory-publisher"},
	},
	credentials: map[string]struct{ netsuite, commerce bool }{
		"ingest":              {commerce: true},
		"transform":           {commerce: true},
		"netsuite-writer":     {netsuite: true},
		"inventory-publisher": {netsuite: true, commerce: true},
		"audit-mirror":        {},
	},
}

// mayRead says whether the policy lets svc read the credential key.
func mayRead(svc, key string) bool {
	c := policy.credentials[svc]
	if key == "netsuite" {
		return c.netsuite
	}
	return c.commerce && strings.HasPrefix(key, "commerce.")
}

// TestPermissionsPolicy checks permissions.json against the policy.
func TestPermissionsPolicy(t *testing.T) {
	perms := loadPermissions(t)
	for subj, writers := range policy.writers {
		for _, s := range perms.Services {
			if got, want := matchesAny(s.Publish, subj), contains(writers, s.Name); got != want {
				t.Errorf("%s may publish %s: %v, policy says %v", s.Name, subj, got, want)
			}
		}
	}
	for _, s := range perms.Services {
		if _, ok := policy.credentials[s.Name]; !ok {
			t.Errorf("%s: the policy says nothing about its credentials", s.Name)
		}
		var keys []string
		for _, g := range s.KV {
			if g.Bucket == "mlc_credentials" {
				keys = g.Keys
				if g.Write {
					t.Errorf("%s may write credentials; only the operator does", s.Name)
				}
			}
		}
		for _, key := range credentialKeys {
			if got, want := matchesAny(keys, key), mayRead(s.Name, key); got != want {
				t.Errorf("%s may read credential %s: %v, policy says %v", s.Name, key, got, want)
			}
		}
	}
}

// testPolicyLive proves the decisions the issue names on the running
// cluster, independent of permissions.json.
func testPolicyLive(t *testing.T, c *cluster) {
	transform := c.connect(t, "transform")
	transform.denied(t, "Publish", "commerce.order.placed.default", func(ctx context.Context) error {
		_, err := transform.js.Publish(ctx, "commerce.order.placed.default", []byte(`{"forged":true}`))
		return err
	})
	const direct = "$JS.API.DIRECT.GET.KV_mlc_credentials.$KV.mlc_credentials."
	for svc := range policy.credentials {
		cl := c.connect(t, svc)
		for _, key := range credentialKeys {
			if !mayRead(svc, key) {
				cl.denied(t, "Publish", direct+key, cl.request(direct+key, nil))
			}
		}
	}
}

// buildMLC builds the operator CLI once per test run.
func buildMLC(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mlc")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = repo(t, "cmd", "mlc")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build mlc: %v\n%s", err, out)
	}
	return bin
}

// runMLC runs the CLI as the operator would against the cluster: the mlc
// user's NKey and the cluster's CA from the environment.
func runMLC(t *testing.T, bin string, c *cluster, args ...string) (string, error) {
	t.Helper()
	return runMLCEnv(t, bin, c, nil, args...)
}

func runMLCEnv(t *testing.T, bin string, c *cluster, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "MLC_NATS_URL="+c.urls(), "MLC_NATS_NKEY_FILE="+c.seeds["mlc"], "MLC_NATS_TLS_CA="+c.tls.CA), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// streamSubjectOf is a subject the stream st stores (from streams/).
func streamSubjectOf(t *testing.T, st string) string {
	t.Helper()
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs.Streams {
		if d.Config.Name == st {
			return concrete(d.Config.Subjects[0], "deploycheck")
		}
	}
	t.Fatalf("no stream %s in streams/", st)
	return ""
}

// testRotation follows the README's master key rotation with the real CLI:
// services holding the new key as current and the old as previous read
// every secret before and after the rewrap, and afterwards the new key
// alone does, while the old one opens nothing.
func testRotation(t *testing.T, c *cluster, op *client, mlc string) {
	dir := t.TempDir()
	oldKey, newKey := mustKey(t), mustKey(t)
	newFile := filepath.Join(dir, "master.key.new")
	if err := os.WriteFile(newFile, []byte(base64.StdEncoding.EncodeToString(newKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := "MLC_MASTER_KEY=" + base64.StdEncoding.EncodeToString(oldKey)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	kv, err := op.js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	// The job tests left unsealed probe values, which rotate rightly refuses.
	for _, k := range []string{"commerce.default", "netsuite"} {
		if err := kv.Purge(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"rotation.one", "rotation.two"} {
		if out, err := runMLCEnv(t, mlc, c, []string{old}, "credentials", "set", name, "--value", "secret "+name); err != nil {
			t.Fatalf("credentials set: %v\n%s", err, out)
		}
	}
	// opens reads the current values through a watch (served by the
	// stream leader, so never a stale replica's) and opens them.
	opens := func(current []byte, previous ...[]byte) error {
		keys, err := secrets.NewKeyring(current, previous...)
		if err != nil {
			t.Fatal(err)
		}
		w, err := kv.Watch(ctx, "rotation.*")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = w.Stop() }()
		seen := 0
		for e := range w.Updates() {
			if e == nil {
				break
			}
			seen++
			got, err := keys.Open(e.Key(), e.Value())
			if err != nil {
				return fmt.Errorf("%s: %w", e.Key(), err)
			}
			if string(got) != "secret "+e.Key() {
				return fmt.Errorf("%s: %q", e.Key(), got)
			}
		}
		if seen != 2 {
			return fmt.Errorf("%d secrets, want 2", seen)
		}
		return nil
	}
	// Step 1: services restarted with the new key current, the old previous.
	if err := opens(newKey, oldKey); err != nil {
		t.Fatalf("before the rewrap, new+previous: %v", err)
	}
	// Step 2: rewrap, the old key current, the new one the target.
	out, err := runMLCEnv(t, mlc, c, []string{old, "MLC_MASTER_KEY_PREVIOUS=" + base64.StdEncoding.EncodeToString(oldKey)},
		"--json", "credentials", "rotate", "--new-key-file", newFile)
	if err != nil {
		t.Fatalf("credentials rotate: %v\n%s", err, out)
	}
	if err := opens(newKey, oldKey); err != nil {
		t.Fatalf("after the rewrap, new+previous: %v", err)
	}
	// Step 3: the old key goes.
	if err := opens(newKey); err != nil {
		t.Fatalf("after the rewrap, the new key alone: %v", err)
	}
	if err := opens(oldKey); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("after the rewrap the old key still opens a secret: %v", err)
	}
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
