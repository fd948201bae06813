package inventory_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// env is one test's system: JetStream, both simulators (Commerce with its
// input limits on), stored connections, the service's writer running, and
// a Publisher as `mlc sync inventory` builds it.
type env struct {
	*servicetest.Env
	svc *servicetest.Service
	pub *inventory.Publisher
}

type envOptions struct {
	stores   []commercesim.Store
	codes    []string
	settings *inventory.Settings
	pageSize int
	environ  map[string]string
	noWriter bool
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	cc := commercesim.Config{Seed: 1, InputLimits: true, Stores: o.stores}
	codes := o.codes
	if codes == nil {
		codes = []string{"default"}
	}
	e := servicetest.New(t, servicetest.WithCommerce(cc), servicetest.WithStores(codes...), servicetest.WithNetSuite(netsuitesim.Config{}))
	if o.settings != nil {
		saveSettings(t, e, o.settings)
	}
	pageSize := o.pageSize
	if pageSize == 0 {
		pageSize = 1000
	}
	environ := map[string]string{"MLC_INVENTORY_SCHEDULE": "false", "MLC_INVENTORY_WRITE_WAIT": "50ms", "MLC_INVENTORY_BULK_POLL": "20ms",
		"MLC_INVENTORY_PAGE_SIZE": strconv.Itoa(pageSize)}
	for k, v := range o.environ {
		environ[k] = v
	}
	out := &env{Env: e}
	if !o.noWriter {
		out.svc = e.Run(inventory.Run, servicetest.Setenv(environ))
	}
	out.pub = newPublisher(t, e, pageSize)
	return out
}

func newPublisher(t *testing.T, e *servicetest.Env, pageSize int) *inventory.Publisher {
	t.Helper()
	p, err := inventory.NewPublisher(context.Background(), e.JS, e.Secrets, inventory.WithPageSize(pageSize), inventory.WithWorkers(8))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func saveSettings(t *testing.T, e *servicetest.Env, s *inventory.Settings) {
	t.Helper()
	kv, err := e.JS.KeyValue(context.Background(), event.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.New(kv).Save(context.Background(), inventory.SettingsKey, s); err != nil {
		t.Fatal(err)
	}
}

func (e *env) run(t *testing.T, opts inventory.RunOptions) *inventory.Summary {
	t.Helper()
	if opts.Origin == "" {
		opts.Origin = event.OriginManual
	}
	sum, err := e.pub.Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return sum
}

// store returns the summary of one store.
func store(t *testing.T, sum *inventory.Summary, code string) inventory.StoreSummary {
	t.Helper()
	for _, s := range sum.Stores {
		if s.Store == code {
			return s
		}
	}
	t.Fatalf("no store %s in %+v", code, sum.Stores)
	return inventory.StoreSummary{}
}

// waitOutcomes waits until SYNC holds n inventory outcomes in all.
func (e *env) waitOutcomes(t *testing.T, n uint64) {
	t.Helper()
	servicetest.WaitFor(t, strconv.FormatUint(n, 10)+" inventory outcomes", func() bool {
		return e.Count(t, event.StreamSync, "sync.*."+event.KindInventory) >= n
	})
	if got := e.Count(t, event.StreamSync, "sync.*."+event.KindInventory); got != n {
		t.Fatalf("%d inventory outcomes, want %d", got, n)
	}
}

// outcomes reads every inventory outcome on SYNC, by SKU.
func (e *env) outcomes(t *testing.T) map[string][]event.SyncOutcome {
	t.Helper()
	ctx := context.Background()
	c, err := e.JS.OrderedConsumer(ctx, event.StreamSync, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"sync.*." + event.KindInventory}})
	if err != nil {
		t.Fatal(err)
	}
	n := e.Count(t, event.StreamSync, "sync.*."+event.KindInventory)
	out := map[string][]event.SyncOutcome{}
	for i := uint64(0); i < n; i++ {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		o, _, err := event.DecodeSyncOutcome(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		out[o.ExternalID] = append(out[o.ExternalID], o)
	}
	return out
}

// changes reads every INVENTORY message.
func (e *env) changes(t *testing.T) []event.InventoryChange {
	t.Helper()
	ctx := context.Background()
	c, err := e.JS.OrderedConsumer(ctx, event.StreamInventory, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	n := e.Total(t, event.StreamInventory)
	var out []event.InventoryChange
	for i := uint64(0); i < n; i++ {
		m, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		ch, _, err := event.DecodeInventoryChange(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ch)
	}
	return out
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// writeRequests counts the Commerce simulator's answered requests to an
// endpoint by status.
func writeRequests(s *commercesim.Server, suffix string) map[int]int {
	out := map[int]int{}
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, suffix) && r.Method == "POST" {
			out[r.Status]++
		}
	}
	return out
}
