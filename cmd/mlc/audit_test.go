package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
	"github.com/ml-connector/ml-connector/pkg/auditmirror"
	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// auditEnv is a CLI environment with a flow published, and (withCH) a
// ClickHouse server that the real audit-mirror fills.
type auditEnv struct {
	*cliEnv
	js    jetstream.JetStream
	flow  audittest.Result
	dsn   string
	store *audit.Store
}

func newAuditEnv(t *testing.T, withCH bool) *auditEnv {
	t.Helper()
	e := &auditEnv{cliEnv: newCLIEnv(t)}
	t.Setenv("MLC_CLICKHOUSE_DSN", "")
	_, e.js = natstest.Connect(t, e.srv)
	var err error
	if e.flow, err = (audittest.Flow{Orders: 10, FailEvery: 5}).Publish(context.Background(), e.js); err != nil {
		t.Fatal(err)
	}
	if !withCH {
		return e
	}
	ch := chtest.Start(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	db := "cli_test_" + hex.EncodeToString(b)
	e.dsn = "clickhouse://" + ch.Addr + "/" + db
	e.runMirror(t)
	if e.store, err = audit.Open(context.Background(), e.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.store.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		e.store.Close()
	})
	t.Setenv("MLC_CLICKHOUSE_DSN", e.dsn)
	e.waitMirrored(t)
	return e
}

// runMirror runs the audit-mirror service until the test ends.
func (e *auditEnv) runMirror(t *testing.T) {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- auditmirror.Run(ctx, map[string]string{"MLC_NATS_URL": e.srv.ClientURL(), "MLC_HTTP_ADDR": addr,
			"MLC_CLICKHOUSE_DSN": e.dsn, "MLC_AUDIT_BATCH_WAIT": "100ms", "MLC_SHUTDOWN_TIMEOUT": "5s"}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("audit-mirror: %v", err)
		}
	})
}

// waitMirrored waits until ClickHouse holds every stream message.
func (e *auditEnv) waitMirrored(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var total uint64
		for _, name := range event.Streams() {
			st, err := e.js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			total += info.State.Msgs
		}
		got, _, err := e.store.Count(ctx)
		if err == nil && got == total {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse has %d of %d messages (%v)", got, total, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// commerceMessages is how many messages COMMERCE holds and the last one.
func (e *auditEnv) commerceLast(t *testing.T) (uint64, *jetstream.RawStreamMsg) {
	t.Helper()
	ctx := context.Background()
	st, err := e.js.Stream(ctx, event.StreamCommerce)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs, m
}

func TestAuditTrailAndStats(t *testing.T) {
	e := newAuditEnv(t, true)
	ok, failed := e.flow.Keys[0], e.flow.Failed[0]

	out, err := mlc(t, "", "audit", "trail", ok)
	if err != nil {
		t.Fatalf("trail: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "TIME (UTC)") {
		t.Fatalf("trail of %s:\n%s", ok, out)
	}
	for i, want := range []string{"received (webhook)", "transformed", "netsuite failed", "netsuite ok"} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("line %d lacks %q:\n%s", i+1, want, out)
		}
	}
	if !strings.Contains(lines[3], "CONCURRENCY_LIMIT_EXCEEDED") || !strings.Contains(lines[4], "internal id 9001") {
		t.Errorf("outcome details missing:\n%s", out)
	}
	// Columns are aligned: STEP starts at the same offset on every line.
	col := strings.Index(lines[0], "STEP")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("misaligned line %q (STEP at %d)", l, col)
		}
	}

	out, err = mlc(t, "", "--json", "audit", "trail", strings.TrimPrefix(failed, "order:default:"))
	if err != nil {
		t.Fatalf("trail --json: %v\n%s", err, out)
	}
	var tr trailResult
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if tr.Source != "clickhouse" || len(tr.Events) != 2 || tr.Events[1].Step != "dead-lettered" || !strings.Contains(tr.Events[1].Detail, "TEE-M-RED") ||
		tr.Events[1].Key != failed {
		t.Fatalf("failed order's trail: %+v", tr)
	}

	for _, odd := range []string{"order:default:999999999", "order:x' OR 1=1 --", `000000001' OR '1'='1`, "us.east:1", "注文:1"} {
		if _, err := mlc(t, "", "audit", "trail", odd); err == nil || !strings.Contains(err.Error(), "no events") {
			t.Fatalf("trail %q: %v", odd, err)
		}
	}
	if _, err := mlc(t, "", "audit", "trail", "  "); err == nil {
		t.Fatal("a blank key was accepted")
	}

	out, err = mlc(t, "", "audit", "stats", "--since", "1h")
	if err != nil {
		t.Fatalf("stats: %v\n%s", err, out)
	}
	for _, want := range []string{"commerce.order.placed", "sync.ok.salesorder", "WEBHOOK -> NETSUITE", "order "} {
		if !strings.Contains(out, want) {
			t.Errorf("stats lack %q:\n%s", want, out)
		}
	}
	out, err = mlc(t, "", "--json", "audit", "stats", "--since", "1h")
	if err != nil {
		t.Fatal(err)
	}
	var st audit.Stats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, c := range st.Counts {
		counts[c.EventType+"/"+c.Status] += c.Messages
	}
	if counts["commerce.order.placed/"] != 10 || counts["sync.ok.salesorder/ok"] != 8 || counts["commerce.order.placed/dead"] != 2 ||
		len(st.ToNS) != 1 || st.ToNS[0].Records != 8 || st.ToNS[0].P95 <= 0 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := mlc(t, "", "audit", "stats", "--since", "yesterday"); err == nil {
		t.Fatal("a bad --since was accepted")
	}

	// Without ClickHouse the trail reads the streams and says so.
	t.Setenv("MLC_CLICKHOUSE_DSN", "")
	out, err = mlc(t, "", "audit", "trail", ok)
	if err != nil || !strings.Contains(out, "read the JetStream streams directly") || strings.Count(out, "\n") != 6 {
		t.Fatalf("trail without ClickHouse: %v\n%s", err, out)
	}
	if _, err := mlc(t, "", "audit", "stats"); err == nil || !strings.Contains(err.Error(), "needs ClickHouse") {
		t.Fatalf("stats without ClickHouse: %v", err)
	}
}

func TestReplay(t *testing.T) {
	for _, withCH := range []bool{true, false} {
		t.Run(fmt.Sprintf("clickhouse=%v", withCH), func(t *testing.T) {
			e := newAuditEnv(t, withCH)
			failed := e.flow.Failed[0]
			before, _ := e.commerceLast(t)
			out, err := mlc(t, "", "--json", "replay", failed)
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, out)
			}
			var res replayResult
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			after, m := e.commerceLast(t)
			if after != before+1 || len(res.Messages) != 1 || res.Messages[0].NewSeq != m.Sequence || res.Messages[0].FromSeq == 0 {
				t.Fatalf("replay result %+v; COMMERCE %d -> %d", res, before, after)
			}
			wantSource := map[bool]string{true: "clickhouse", false: "jetstream"}[withCH]
			if res.Source != wantSource {
				t.Fatalf("source %q", res.Source)
			}
			// The replay is the original fact again: same data and key,
			// origin replay, a fresh id, caused by the original event.
			orig := e.commerceMsg(t, res.Messages[0].FromSeq)
			oenv, _ := event.Decode(orig.Data)
			renv, err := event.Decode(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if string(renv.Data) != string(oenv.Data) || renv.ID == oenv.ID || renv.Type != oenv.Type || renv.DataSchema != oenv.DataSchema ||
				m.Header.Get(event.HeaderOrigin) != event.OriginReplay || m.Header.Get(event.HeaderKey) != failed ||
				m.Header.Get(event.HeaderCausation) != oenv.ID || m.Header.Get(event.HeaderMsgID) == orig.Header.Get(event.HeaderMsgID) ||
				m.Header.Get(event.HeaderReplayOf) != fmt.Sprintf("COMMERCE:%d", orig.Sequence) {
				t.Fatalf("replayed message %v %s\noriginal %v %s", m.Header, m.Data, orig.Header, orig.Data)
			}

			// A range: dry run counts, the run publishes, replays are not
			// replayed again.
			out, err = mlc(t, "", "replay", "--subject", "commerce.order.placed.*", "--since", "1h", "--dry-run")
			if err != nil || !strings.Contains(out, "would replay 10 messages") {
				t.Fatalf("dry run: %v\n%s", err, out)
			}
			if n, _ := e.commerceLast(t); n != after {
				t.Fatal("a dry run published")
			}
			if withCH {
				e.waitMirrored(t)
			}
			out, err = mlc(t, "", "replay", "--subject", "commerce.order.placed.*", "--since", "1h")
			if err != nil || !strings.Contains(out, "replayed 10 of 10 messages") {
				t.Fatalf("range: %v\n%s", err, out)
			}
			if n, _ := e.commerceLast(t); n != after+10 {
				t.Fatalf("COMMERCE has %d messages, want %d", n, after+10)
			}
			if _, err := mlc(t, "", "replay", "--subject", "sync.>"); err == nil {
				t.Fatal("SYNC replay accepted")
			}
			if _, err := mlc(t, "", "replay", "000000001", "--subject", "x"); err == nil {
				t.Fatal("key and subject accepted together")
			}

			// --force re-sends the last NetSuite command with Replay set.
			out, err = mlc(t, "", "--json", "replay", "--force", e.flow.Keys[0])
			if err != nil {
				t.Fatalf("force: %v\n%s", err, out)
			}
			res = replayResult{}
			_ = json.Unmarshal([]byte(out), &res)
			if len(res.Messages) != 1 || res.Messages[0].Stream != event.StreamNetSuite {
				t.Fatalf("force result %s", out)
			}
			st, _ := e.js.Stream(context.Background(), event.StreamNetSuite)
			cm, err := st.GetMsg(context.Background(), res.Messages[0].NewSeq)
			if err != nil {
				t.Fatal(err)
			}
			cmd, _, err := event.DecodeNetSuiteCommand(cm.Data)
			if err != nil || cmd.Replay != res.ReplayID || !strings.Contains(cm.Header.Get(event.HeaderMsgID), ":replay:") {
				t.Fatalf("forced command %+v %v %v", cmd, cm.Header, err)
			}
			if _, err := mlc(t, "", "replay", "--force", failed); err == nil || !strings.Contains(err.Error(), "without --force") {
				t.Fatalf("force of an order with no command: %v", err)
			}
		})
	}
}

func (e *auditEnv) commerceMsg(t *testing.T, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	st, err := e.js.Stream(context.Background(), event.StreamCommerce)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDLQ(t *testing.T) {
	e := newAuditEnv(t, true)
	first, second := e.flow.Failed[0], e.flow.Failed[1]

	out, err := mlc(t, "", "dlq", "list")
	if err != nil || strings.Count(out, "TEE-M-RED") != 2 || !strings.Contains(out, first) || !strings.Contains(out, "transform") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	var letters []letter
	out, err = mlc(t, "", "--json", "dlq", "list")
	if err != nil || json.Unmarshal([]byte(out), &letters) != nil || len(letters) != 2 || letters[0].State != letterOpen ||
		letters[0].Key != first || letters[0].Stream != event.StreamCommerce || letters[0].Subject != "commerce.order.placed.default" {
		t.Fatalf("list --json: %v %+v\n%s", err, letters, out)
	}
	a, b := fmt.Sprint(letters[0].Seq), fmt.Sprint(letters[1].Seq)

	out, err = mlc(t, "", "dlq", "show", a)
	if err != nil || !strings.Contains(out, "TEE-M-RED") || !strings.Contains(out, "sales_order_place_after") || !strings.Contains(out, "Mlc-Dlq-Reason") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	if _, err := mlc(t, "", "dlq", "show", "999"); err == nil {
		t.Fatal("show of a missing letter")
	}

	// Retry one: the fact goes back on COMMERCE once.
	before, _ := e.commerceLast(t)
	out, err = mlc(t, "", "dlq", "retry", a, "--note", "SKU mapped", "--as", "ops")
	if err != nil || !strings.Contains(out, "retried") {
		t.Fatalf("retry: %v\n%s", err, out)
	}
	after, m := e.commerceLast(t)
	if after != before+1 || m.Header.Get(event.HeaderKey) != first || m.Header.Get(event.HeaderOrigin) != event.OriginReplay {
		t.Fatalf("retried message %v (COMMERCE %d -> %d)", m.Header, before, after)
	}
	out, err = mlc(t, "", "dlq", "retry", a)
	if err != nil || !strings.Contains(out, "already retried by ops") {
		t.Fatalf("second retry: %v\n%s", err, out)
	}
	if n, _ := e.commerceLast(t); n != after {
		t.Fatal("a second retry published again")
	}

	// Resolve the other; list shows no open letter, --all both.
	if out, err := mlc(t, "", "dlq", "resolve", b, "--note", "order cancelled in Commerce"); err != nil || !strings.Contains(out, "resolved") {
		t.Fatalf("resolve: %v\n%s", err, out)
	}
	if out, err := mlc(t, "", "dlq", "list"); err != nil || !strings.Contains(out, "no dead letters match") {
		t.Fatalf("list after: %v\n%s", err, out)
	}
	out, err = mlc(t, "", "--json", "dlq", "list", "--all")
	letters = nil
	if err != nil || json.Unmarshal([]byte(out), &letters) != nil || len(letters) != 2 || letters[0].State != letterRetried ||
		letters[1].State != letterResolved || letters[1].Note != "order cancelled in Commerce" || letters[0].ActionBy != "ops" {
		t.Fatalf("list --all: %v %+v", err, letters)
	}
	if _, err := mlc(t, "", "dlq", "resolve", "--all-matching"); err == nil {
		t.Fatal("resolve of everything without a filter accepted")
	}
	if _, err := mlc(t, "", "dlq", "retry", "x"); err == nil {
		t.Fatal("bad sequence accepted")
	}

	// Every action is in the audit trail of its record.
	e.waitMirrored(t)
	out, err = mlc(t, "", "audit", "trail", first)
	if err != nil || !strings.Contains(out, "dead-lettered") || !strings.Contains(out, "dlq retry") || !strings.Contains(out, "replayed") {
		t.Fatalf("trail after retry: %v\n%s", err, out)
	}
	out, err = mlc(t, "", "audit", "trail", second)
	if err != nil || !strings.Contains(out, "dlq resolved") || !strings.Contains(out, "order cancelled in Commerce") {
		t.Fatalf("trail after resolve: %v\n%s", err, out)
	}
	var js struct{ Events []trailEvent }
	out, _ = mlc(t, "", "--json", "audit", "trail", first)
	_ = json.Unmarshal([]byte(out), &js)
	if len(js.Events) == 0 {
		t.Fatal(errors.New("no events"))
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, c := range []struct {
		f, s string
		want bool
	}{
		{"commerce.order.placed.*", "commerce.order.placed.default", true},
		{"commerce.order.placed.*", "commerce.order.placed", false},
		{"commerce.>", "commerce.order.placed.default", true},
		{"commerce.>", "commerce", false},
		{"netsuite.upsert.salesorder", "netsuite.upsert.salesorder", true},
		{"netsuite.upsert.salesorder", "netsuite.upsert.invoice", false},
	} {
		if got := subjectMatches(c.f, c.s); got != c.want {
			t.Errorf("subjectMatches(%q, %q) = %v", c.f, c.s, got)
		}
	}
	now := time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{"24h": now.Add(-24 * time.Hour), "7d": now.AddDate(0, 0, -7), "2024-05-01T00:00:00Z": time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)} {
		if got, err := parseTimeFlag(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1h", "xd", "yesterday"} {
		if _, err := parseTimeFlag(bad, now); err == nil {
			t.Errorf("parseTimeFlag(%q) accepted", bad)
		}
	}
}

// ClickHouse's copy of a body with a secret-looking member is redacted, so
// a replay reads that message from its stream: the replay carries the
// stored bytes, not "[redacted]".
func TestReplayOfRedactedBodyReadsTheStream(t *testing.T) {
	e := newAuditEnv(t, true)
	raw := []byte(`{"eventName":"customer_save_after","data":{"customer":{"id":7,"email":"ann@example.com","rp_token":"rp-123"}}}`)
	fact := event.CommerceFact{Kind: event.CustomerCreated, Store: "default", ID: "7", DataSchema: event.SchemaWebhook, Raw: raw}
	if _, err := stream.NewPublisher(e.js).Publish(context.Background(), fact, stream.WithOrigin(event.OriginWebhook)); err != nil {
		t.Fatal(err)
	}
	e.waitMirrored(t)
	rows, err := e.store.Rows(context.Background(), audit.Filter{Keys: []string{fact.Key()}, WithData: true})
	if err != nil || len(rows) != 1 || !rows[0].Redacted {
		t.Fatalf("audit copy %+v %v", rows, err)
	}
	out, err := mlc(t, "", "--json", "replay", fact.Key())
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	_, m := e.commerceLast(t)
	env, err := event.Decode(m.Data)
	if err != nil || string(env.Data) != string(raw) || m.Header.Get(event.HeaderOrigin) != event.OriginReplay {
		t.Fatalf("replayed %s (%v)", m.Data, err)
	}
}
