package e2e_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// traffic is the scenarios' storefront: orders in both stores, about half
// of them invoiced, some buyers signing up, NetSuite stock and price changes.
// MLC_E2E_SCALE=n (a soak) multiplies the orders and the faults by n.
func traffic(orders int, rate float64) devstack.DemoOptions {
	return devstack.DemoOptions{Orders: orders * scale(), Rate: rate, Seed: 42, ChangeEvery: 4, InvoiceShare: 0.5, BuyerShare: 0.15}
}

// scale is MLC_E2E_SCALE, default 1.
func scale() int {
	if n, err := strconv.Atoi(os.Getenv("MLC_E2E_SCALE")); err == nil && n > 1 {
		return n
	}
	return 1
}

// Every webhook arrives three times (the simulator duplicates each one and
// the test replays every delivery once more, signature and all), and one
// in five is never sent: the backfill poll must find those.
func webhooksScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "webhooks", commerce: commercesim.Config{Seed: 5,
		Webhooks: commercesim.WebhookConfig{DropRate: 0.2, DuplicateRate: 1}}})
	client := &http.Client{Timeout: 5 * time.Second}
	replayed := 0
	res := s.scenario(traffic(40, 10), func(ctx context.Context, placed <-chan struct{}) {
		seen := 0
		for sleep(ctx, 50*time.Millisecond) {
			ds := s.sims.Commerce.Deliveries()
			for _, d := range ds[seen:] {
				if d.Dropped || d.Duplicate || !d.Success {
					continue
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header = d.Header.Clone()
				resp, err := client.Do(req)
				if err != nil {
					t.Errorf("third delivery of %s %s: %v", d.Event, d.Key, err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("third delivery of %s %s: %d", d.Event, d.Key, resp.StatusCode)
				}
				replayed++
			}
			seen = len(ds)
			select {
			case <-placed:
				if seen == len(s.sims.Commerce.Deliveries()) {
					return // every delivery of the traffic was replayed
				}
			default:
			}
		}
	})
	dropped, copies := 0, map[string]int{}
	for _, d := range s.sims.Commerce.Deliveries() {
		if d.Event != "sales_order_place_after" {
			continue
		}
		if d.Dropped {
			dropped++
		} else {
			copies[d.Key]++
		}
	}
	if dropped == 0 || replayed == 0 {
		t.Errorf("%d order webhooks dropped, %d replayed: the scenario proved nothing", dropped, replayed)
	}
	for key, n := range copies {
		if n != 2 {
			t.Errorf("order %s: %d simulator deliveries, want 2 (+1 replayed)", key, n)
		}
	}
	t.Logf("%d order webhooks never sent, %d deliveries replayed a third time", dropped, replayed)
	return res
}

// netsuite-writer and transform are SIGKILLed in turn while orders flow,
// and started again each time.
func crashScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "crashes"})
	kills := 0
	res := s.scenario(traffic(40, 8), func(ctx context.Context, placed <-chan struct{}) {
		for i := 0; i < 6*scale() && sleep(ctx, 700*time.Millisecond); i++ {
			name := "netsuite-writer"
			if i%2 == 1 {
				name = "transform"
			}
			p := s.procs[name]
			p.kill()
			kills++
			if !sleep(ctx, 300*time.Millisecond) {
				return
			}
			if err := p.run(); err != nil {
				t.Error(err)
				return
			}
			p.waitReady(t)
		}
	})
	if w, tr := s.procs["netsuite-writer"].starts, s.procs["transform"].starts; kills < 6*scale() || w != 1+3*scale() || tr != 1+3*scale() {
		t.Errorf("%d kills, netsuite-writer started %d times, transform %d: want %d kills and %d starts each", kills, w, tr, 6*scale(), 1+3*scale())
	}
	return res
}

// NetSuite throttles (429) and fails (500) in bursts, commits writes and
// then fails or drops the connection (the ambiguous outcome), and tokens
// expire every two seconds and are revoked now and then.
func netsuiteScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "netsuite", netsuite: netsuitesim.Config{TokenLifetime: 2 * time.Second}})
	ns := s.sims.NetSuite
	faults := []func(){
		func() { ns.FailNext("record/v1/salesOrder", 4, netsuitesim.FaultConcurrencyLimit) },
		func() { ns.FailNext("record/v1", 3, netsuitesim.Fault500) },
		func() { ns.FailNext("record/v1/salesOrder", 1, netsuitesim.Fault500AfterWrite) },
		func() { ns.FailNext("record/v1/customer", 1, netsuitesim.FaultDropAfterWrite) },
		ns.ExpireTokens,
		func() { ns.FailNext("record/v1/salesOrder", 1, netsuitesim.FaultDropAfterWrite) },
		func() { ns.FailNext("record/v1/customer", 1, netsuitesim.Fault500AfterWrite) },
		func() { ns.FailNext("record/v1", 5, netsuitesim.FaultConcurrencyLimit) },
	}
	res := s.scenario(traffic(40, 8), func(ctx context.Context, placed <-chan struct{}) {
		for i := 0; i < 24*scale() && sleep(ctx, 250*time.Millisecond); i++ {
			faults[i%len(faults)]()
		}
	})
	st := ns.Stats()
	if st.Throttled == 0 || st.ErrorsInjected == 0 && st.TokensIssued < 3 {
		t.Errorf("NetSuite stats %+v: the faults did not happen", st)
	}
	t.Logf("NetSuite: %d requests, %d throttled, %d tokens issued", st.Requests, st.Throttled, st.TokensIssued)
	return res
}

// Commerce's REST API answers 503 for 12 s (a minute, compressed) while
// orders are placed and their webhooks keep arriving: transform cannot
// confirm them, the poll cannot read, inventory cannot write, until it is
// back.
func commerceDownScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "commerce_down"})
	var during int
	res := s.scenario(traffic(40, 4), func(ctx context.Context, placed <-chan struct{}) {
		if !sleep(ctx, 1500*time.Millisecond) {
			return
		}
		s.sims.Commerce.FailNext(1<<30, http.StatusServiceUnavailable)
		before := len(s.sims.Commerce.Deliveries())
		sleep(ctx, 12*time.Second)
		during = len(s.sims.Commerce.Deliveries()) - before
		s.sims.Commerce.FailNext(0, 0)
	})
	if during < 10 {
		t.Errorf("%d webhooks during the outage: the outage missed the traffic", during)
	}
	refused := 0
	for _, r := range s.sims.Commerce.Requests() {
		if r.Status == http.StatusServiceUnavailable {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no REST call was refused: nothing tried Commerce during the outage")
	}
	t.Logf("%d webhooks during the outage, %d REST calls refused", during, refused)
	return res
}

// One node of a 3-node cluster (R3 streams, sync_interval always) is shut
// down while orders flow, the leader of NETSUITE when there is one, and
// brought back 5 s later.
func clusterScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "cluster", cluster: true})
	lost := -1
	res := s.scenario(traffic(30, 6), func(ctx context.Context, placed <-chan struct{}) {
		if !sleep(ctx, 1500*time.Millisecond) {
			return
		}
		lost = s.nats.leaderOf(s.js, event.StreamNetSuite)
		if lost < 0 {
			lost = 1
		}
		s.nats.stopNode(lost)
		sleep(ctx, 5*time.Second)
		s.nats.startNode(lost)
	})
	t.Logf("node %d was lost and came back", lost)
	return res
}

// ClickHouse is killed while orders flow and started again 6 s later: the
// business flow does not wait for it and the audit catches up.
func clickhouseScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "clickhouse"})
	return s.scenario(traffic(30, 6), func(ctx context.Context, placed <-chan struct{}) {
		if !sleep(ctx, 1500*time.Millisecond) {
			return
		}
		ch.Stop(t)
		sleep(ctx, 6*time.Second)
		ch.Restart(t)
	})
}

// The other three services are SIGKILLed in turn too: ingest (the
// webhooks of that moment fail, as Commerce never retries: the poll must
// find those orders), inventory-publisher mid-run and audit-mirror
// mid-batch.
func restKilledScenario(t *testing.T, ch *chtest.Server) result {
	s := newSystem(t, ch.Addr, options{name: "rest_killed"})
	names := []string{"ingest", "inventory-publisher", "audit-mirror"}
	res := s.scenario(traffic(40, 8), func(ctx context.Context, placed <-chan struct{}) {
		for i := 0; i < 6*scale() && sleep(ctx, 600*time.Millisecond); i++ {
			p := s.procs[names[i%len(names)]]
			p.kill()
			if !sleep(ctx, 400*time.Millisecond) {
				return
			}
			if err := p.run(); err != nil {
				t.Error(err)
				return
			}
			p.waitReady(t)
		}
	})
	failed := 0
	for _, d := range s.sims.Commerce.Deliveries() {
		if !d.Dropped && !d.Success {
			failed++
		}
	}
	t.Logf("%d webhooks failed while ingest was down", failed)
	return res
}
