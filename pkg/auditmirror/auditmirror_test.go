package auditmirror_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
	"github.com/ml-connector/ml-connector/pkg/auditmirror"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

type harness struct {
	*servicetest.Env
	ch   *chtest.Server
	dsn  string
	wait time.Duration // waitMirrored's bound
}

// newHarness is JetStream with streams/ applied and a ClickHouse server
// with a database of the test's own (dropped at the end).
func newHarness(t *testing.T, opts ...servicetest.Option) *harness { return newHarnessB(t, opts...) }

func newHarnessB(t testing.TB, opts ...servicetest.Option) *harness {
	t.Helper()
	ch := chtest.Start(t)
	e := servicetest.New(t, opts...)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := "mirror_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		if c, err := audit.Open(context.Background(), ch.Addr); err == nil {
			_ = c.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			c.Close()
		}
	})
	return &harness{Env: e, ch: ch, dsn: "clickhouse://" + ch.Addr + "/" + db, wait: servicetest.Wait}
}

func (h *harness) run(t testing.TB, opts ...servicetest.RunOption) *servicetest.Service {
	t.Helper()
	env := map[string]string{"MLC_CLICKHOUSE_DSN": h.dsn, "MLC_AUDIT_BATCH_WAIT": "100ms", "MLC_AUDIT_LAG_INTERVAL": "100ms"}
	return h.Run(auditmirror.Run, append([]servicetest.RunOption{servicetest.Setenv(env)}, opts...)...)
}

// store opens the audit database the mirror writes.
func (h *harness) store(t testing.TB) *audit.Store {
	t.Helper()
	s, err := audit.Open(context.Background(), h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitMirrored waits until every message of every stream is in ClickHouse
// once: as many distinct sequences as the stream holds, up to its last.
func (h *harness) waitMirrored(t testing.TB, s *audit.Store) {
	t.Helper()
	deadline := time.Now().Add(h.wait)
	for {
		behind := ""
		for _, name := range event.Streams() {
			info := h.streamInfo(t, name)
			n, maxSeq, err := s.StreamCount(context.Background(), name)
			if err != nil {
				behind = err.Error()
				break
			}
			if n != info.msgs || maxSeq != info.last {
				behind = fmt.Sprintf("%s: %d of %d messages, max seq %d of %d", name, n, info.msgs, maxSeq, info.last)
				break
			}
		}
		if behind == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every stream message reached ClickHouse within %v: %s", h.wait, behind)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type streamState struct{ msgs, last uint64 }

func (h *harness) streamInfo(t testing.TB, name string) streamState {
	t.Helper()
	st, err := h.JS.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return streamState{info.State.Msgs, info.State.LastSeq}
}

func (h *harness) total(t testing.TB) uint64 {
	var n uint64
	for _, name := range event.Streams() {
		n += h.streamInfo(t, name).msgs
	}
	return n
}

func publish(t *testing.T, h *harness, f audittest.Flow) audittest.Result {
	t.Helper()
	res, err := f.Publish(context.Background(), h.JS)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func assertOnce(t *testing.T, h *harness, s *audit.Store) {
	t.Helper()
	total := h.total(t)
	msgs, _, err := s.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Rows(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if msgs != total || uint64(len(rows)) != total {
		t.Fatalf("ClickHouse has %d distinct messages and reads %d rows; the streams hold %d", msgs, len(rows), total)
	}
}

func TestEveryMessageOnceAcrossRestartsAndRemirroring(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	first := publish(t, h, audittest.Flow{Orders: 30, FailEvery: 5})
	// Bodies the mirror cannot read are mirrored all the same.
	h.Publish(t, "inventory.item.changed", nats.Header{event.HeaderKey: {"item:default:X"}}, []byte("not an event \x00\xff"))

	svc := h.run(t)
	s := h.store(t)
	h.waitMirrored(t, s)
	assertOnce(t, h, s)
	if want := first.Messages[event.StreamSync]; svc.Metric(t, `mlc_audit_rows_total{stream="SYNC"}`) != strconv.Itoa(want) {
		t.Errorf("rows_total SYNC = %s, want %d", svc.Metric(t, `mlc_audit_rows_total{stream="SYNC"}`), want)
	}

	// The rows are the messages: body byte-for-byte, headers, JetStream
	// time, causation linking the command to its fact.
	trail, err := s.Trail(ctx, first.Keys[0])
	if err != nil || len(trail) != 4 {
		t.Fatalf("trail of %s: %d rows, %v", first.Keys[0], len(trail), err)
	}
	fact, cmd := trail[0], trail[1]
	if fact.Stream != event.StreamCommerce || cmd.Stream != event.StreamNetSuite || cmd.Causation != fact.EventID || cmd.Origin != event.OriginWebhook {
		t.Fatalf("fact %+v command %+v", fact, cmd)
	}
	full, err := s.Rows(ctx, audit.Filter{Keys: []string{first.Keys[0]}, Stream: event.StreamNetSuite, WithData: true})
	if err != nil || len(full) != 1 {
		t.Fatal(full, err)
	}
	st, _ := h.JS.Stream(ctx, event.StreamNetSuite)
	raw, err := st.GetMsg(ctx, full[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw.Data, full[0].Data) || full[0].Header(event.HeaderMsgID) != raw.Header.Get(event.HeaderMsgID) ||
		full[0].Published.UnixMilli() != raw.Time.UnixMilli() || full[0].Traceparent != raw.Header.Get(event.HeaderTraceparent) {
		t.Fatalf("row differs from the stream message:\nrow %+v\nmsg %+v", full[0], raw)
	}
	letters, err := s.Rows(ctx, audit.Filter{Stream: event.StreamDLQ})
	if err != nil || len(letters) != len(first.Failed) || letters[0].Status != audit.StatusDead || letters[0].Consumer != event.DurableTransform ||
		!strings.Contains(letters[0].Error, "TEE-M-RED") || letters[0].Key != first.Failed[0] {
		t.Fatalf("letters %+v, %v", letters, err)
	}
	invalid, err := s.Rows(ctx, audit.Filter{Stream: event.StreamInventory, WithData: true})
	if err != nil || len(invalid) != 1 || invalid[0].Status != audit.StatusInvalid || string(invalid[0].Data) != "not an event \x00\xff" {
		t.Fatalf("invalid body row %+v, %v", invalid, err)
	}

	// Stopped while messages keep coming, started again: no gap.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := (audittest.Flow{First: 1001, Orders: 150, FailEvery: 7}).Publish(ctx, h.JS); err != nil {
			t.Error(err)
		}
	}()
	servicetest.WaitFor(t, "the mirror inserting part of the second flow", func() bool {
		n, _, _ := s.StreamCount(ctx, event.StreamCommerce)
		return n > 40
	})
	svc.Stop()
	wg.Wait()
	svc = h.run(t)
	h.waitMirrored(t, s)
	assertOnce(t, h, s)

	// Everything mirrored a second time (new consumers start from the
	// beginning, as after a crash between insert and ack): still once.
	svc.Stop()
	for _, name := range event.Streams() {
		st, err := h.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteConsumer(ctx, event.DurableAuditMirror); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stream.ApplyDeclared(ctx, h.JS, nil); err != nil {
		t.Fatal(err)
	}
	svc = h.run(t)
	want := strconv.FormatUint(h.streamInfo(t, event.StreamCommerce).msgs, 10)
	servicetest.WaitFor(t, "COMMERCE mirrored again", func() bool {
		return svc.Metric(t, `mlc_audit_rows_total{stream="COMMERCE"}`) == want
	})
	h.waitMirrored(t, s)
	assertOnce(t, h, s)
	// The lag is measured and back to zero.
	servicetest.WaitFor(t, "lag 0 on every stream", func() bool {
		for _, name := range event.Streams() {
			if svc.Metric(t, `mlc_audit_lag_messages{stream="`+name+`"}`) != "0" {
				return false
			}
		}
		return true
	})
}

func TestClickHouseAwayLosesNothing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// ClickHouse down from the start: the mirror runs, unready, and waits.
	h.ch.Stop(t)
	svc := h.run(t, servicetest.Healthy())
	publish(t, h, audittest.Flow{Orders: 20, FailEvery: 4})
	if status, body := svc.Get(t, "/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "clickhouse") {
		t.Fatalf("readyz with ClickHouse down: %d %s", status, body)
	}
	h.ch.Restart(t)
	s := h.store(t)
	h.waitMirrored(t, s)

	// Down in the middle of the flow: publishing is unaffected, the
	// mirror holds its batch and retries.
	h.ch.Stop(t)
	publish(t, h, audittest.Flow{First: 21, Orders: 40, FailEvery: 4})
	servicetest.WaitFor(t, "a failed insert", func() bool {
		v := svc.Metric(t, "mlc_audit_insert_failures_total")
		return v != "" && v != "0"
	})
	if status, _ := svc.Get(t, "/readyz"); status != http.StatusServiceUnavailable {
		t.Fatalf("readyz while inserts fail: %d", status)
	}
	h.ch.Restart(t)
	h.waitMirrored(t, s)
	assertOnce(t, h, s)
	servicetest.WaitFor(t, "ready again", func() bool {
		status, _ := svc.Get(t, "/readyz")
		return status == http.StatusOK
	})
	if got, err := s.Trail(ctx, "000000030"); err != nil || len(got) != 4 {
		t.Fatalf("trail of an order published while ClickHouse was down: %d rows, %v", len(got), err)
	}
}

// Credentials live only in mlc_credentials (encrypted), which no stream
// captures; a secret a producer put in a header or a payload by mistake is
// redacted before ClickHouse.
func TestNoSecretReachesClickHouse(t *testing.T) {
	h := newHarness(t, servicetest.WithNetSuite(netsuitesim.Config{}))
	ctx := context.Background()
	c := connection.Commerce{Store: "default", BaseURL: "https://shop.example.com/rest/default", Flavour: "paas", Auth: "oauth1",
		OAuth1: connection.OAuth1{ConsumerKey: "ck-7h2k9", ConsumerSecret: "cs-SECRET-4f8a1c9e2b7d", AccessToken: "at-SECRET-9c2e7f1a4b8d",
			AccessTokenSecret: "ats-SECRET-1e9b4c7a2f8d"}, Webhook: connection.Webhook{Mode: "hmac", Secrets: []string{"wh-SECRET-8d2f7a1c4e9b"}}}
	if err := connection.SaveCommerce(ctx, h.Secrets, c); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(h.NetSuiteKey)
	if err != nil {
		t.Fatal(err)
	}
	keyB64 := base64.StdEncoding.EncodeToString(der)
	secretsList := []string{c.OAuth1.ConsumerSecret, c.OAuth1.AccessToken, c.OAuth1.AccessTokenSecret, c.Webhook.Secrets[0],
		keyB64[10:50], "$2y$10$SECRETHASHabcdefghij", "rp-SECRET-token-6b1e", "Bearer at-SECRET-9c2e7f1a4b8d"}

	res := publish(t, h, audittest.Flow{Orders: 5, FailEvery: 2})
	// A producer's mistakes: a customer payload with its password hash
	// and reset token, and a request's Authorization header copied along.
	customer := event.CommerceFact{Kind: event.CustomerCreated, Store: "default", ID: "7", DataSchema: event.SchemaWebhook,
		Raw: []byte(`{"eventName":"customer_save_after","data":{"customer":{"id":7,"email":"ann@example.com","password_hash":"$2y$10$SECRETHASHabcdefghij","rp_token":"rp-SECRET-token-6b1e"}}}`)}
	if _, err := stream.NewPublisher(h.JS).Publish(ctx, customer, stream.WithOrigin(event.OriginWebhook),
		stream.WithHeader("Authorization", "Bearer at-SECRET-9c2e7f1a4b8d")); err != nil {
		t.Fatal(err)
	}

	// No stream takes KV subjects, copies a bucket, or holds a credential.
	scanned := 0
	for _, name := range event.Streams() {
		st, err := h.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.CachedInfo().Config
		for _, subj := range cfg.Subjects {
			if strings.HasPrefix(subj, "$KV") || subj == ">" {
				t.Errorf("stream %s captures %q", name, subj)
			}
		}
		if cfg.Mirror != nil || len(cfg.Sources) > 0 {
			t.Errorf("stream %s mirrors or sources another stream", name)
		}
		n, err := audit.ScanStream(ctx, h.JS, name, audit.Scan{}, func(r audit.Row) error {
			for _, sec := range secretsList[:5] {
				if bytes.Contains(r.Data, []byte(sec)) || strings.Contains(strings.Join(r.HeaderValues, "\n"), sec) {
					t.Errorf("stream %s message %d carries a credential", name, r.Seq)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		scanned += n
	}
	if scanned != int(h.total(t)) {
		t.Fatalf("scanned %d of %d stream messages for credentials", scanned, h.total(t))
	}

	h.run(t)
	s := h.store(t)
	h.waitMirrored(t, s)
	assertOnce(t, h, s)
	q := fmt.Sprintf("SELECT count() FROM %s.%s WHERE position(data, ?) > 0 OR arrayExists(x -> position(x, ?) > 0, header_values) OR position(error, ?) > 0",
		s.Database(), audit.EventsTable)
	for _, sec := range secretsList {
		var n uint64
		if err := s.Conn().QueryRow(ctx, q, sec, sec, sec).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d rows in ClickHouse contain %q", n, sec)
		}
	}
	// The message itself is there, with what was removed marked.
	rows, err := s.Rows(ctx, audit.Filter{Keys: []string{customer.Key()}, WithData: true})
	if err != nil || len(rows) != 1 {
		t.Fatalf("customer rows %v, %v", rows, err)
	}
	r := rows[0]
	if !r.Redacted || r.Header("Authorization") != audit.Redacted || !bytes.Contains(r.Data, []byte(`"password_hash":"[redacted]"`)) ||
		!bytes.Contains(r.Data, []byte(`"email":"ann@example.com"`)) {
		t.Fatalf("customer row %+v %s", r, r.Data)
	}
	if got := len(res.Keys); got != 5 {
		t.Fatal(got)
	}
}

func TestUnconfiguredStaysUnready(t *testing.T) {
	e := servicetest.New(t)
	svc := e.Run(auditmirror.Run, servicetest.Healthy())
	status, body := svc.Get(t, "/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "MLC_CLICKHOUSE_DSN is not set") {
		t.Fatalf("readyz %d %s", status, body)
	}
}

func TestConfigRejects(t *testing.T) {
	base := map[string]string{"MLC_NATS_URL": "nats://127.0.0.1:1"}
	for k, v := range map[string]string{"MLC_AUDIT_RETENTION_DAYS": "-1", "MLC_AUDIT_BATCH_SIZE": "0", "MLC_AUDIT_BATCH_WAIT": "0s", "MLC_AUDIT_WORKERS": "5"} {
		env := map[string]string{k: v}
		for bk, bv := range base {
			env[bk] = bv
		}
		if err := auditmirror.Run(context.Background(), env, io.Discard); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
}
