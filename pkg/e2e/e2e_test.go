// Package e2e_test proves the whole flow as a merchant experiences it: the
// service binaries, each its own process, against JetStream (one server,
// or a 3-node cluster with sync_interval always), the Commerce and NetSuite
// simulators over HTTP and a real ClickHouse, through one fault at a time.
// After each scenario every Commerce order is exactly one NetSuite sales
// order (no line doubled) with its customer, every captured invoice one
// NetSuite invoice, no buyer is in NetSuite twice, every stream message is
// in ClickHouse, NetSuite's stock is what the storefront shows, and nothing
// is left unacknowledged (devstack.Verify).
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/chtest"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/fleet"
)

// binDir holds the service binaries TestMain built for this run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mlc-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := build(dir); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		binDir = dir
		return m.Run()
	}()
	os.Exit(code)
}

// build compiles every service of pkg/fleet from services/<name>, the
// binaries operators run, in one go build (the build cache makes a rerun
// a link).
func build(dir string) error {
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if os.Getenv("MLC_E2E_RACE") == "true" {
		args = append(args, "-race")
	}
	for _, svc := range fleet.All() {
		args = append(args, "./services/"+svc.Spec.Name)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// result is one row of the scenario table.
type result struct {
	name  string
	rep   devstack.Report
	drain time.Duration // from the end of traffic and faults to every promise kept
	took  time.Duration
}

// TestEndToEnd runs the scenarios one at a time on one ClickHouse server
// (a database each) and prints the table the README keeps.
func TestEndToEnd(t *testing.T) {
	ch := chtest.Start(t)
	var results []result
	run := func(name string, heavy bool, fn func(t *testing.T, ch *chtest.Server) result) {
		t.Run(name, func(t *testing.T) {
			if heavy && testing.Short() {
				t.Skip("heavier scenario: runs without -short")
			}
			r := fn(t, ch)
			r.name = name
			results = append(results, r)
		})
	}
	run("webhooks-3x-20pct-lost", false, webhooksScenario)
	run("writer-and-transform-killed", false, crashScenario)
	run("netsuite-429-5xx-ambiguous-tokens", false, netsuiteScenario)
	run("commerce-rest-down", false, commerceDownScenario)
	run("ingest-inventory-audit-killed", true, restKilledScenario)
	run("bad-input-sweep", false, badInputScenario)
	run("jetstream-node-lost", true, clusterScenario)
	run("clickhouse-stopped", true, clickhouseScenario)
	table := resultTable(results)
	t.Logf("end-to-end scenarios:\n%s", table)
	if path := os.Getenv("MLC_E2E_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// resultTable is the scenario table in Markdown.
func resultTable(rs []result) string {
	var b strings.Builder
	b.WriteString("| scenario | orders | invoices | NetSuite records | duplicates | lost | DLQ | audited | time to drain | total |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		rep := r.rep
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d/%d | %.1f s | %.0f s |\n", r.name, rep.Orders, rep.Invoices,
			rep.SalesOrders+rep.NSInvoices+rep.Customers, rep.Duplicates, rep.Lost, rep.DLQ, rep.Mirrored, rep.Messages,
			r.drain.Seconds(), r.took.Seconds())
	}
	return b.String()
}

// scenario runs traffic and a fault side by side, waits for both, then
// for the flow to settle, and fails the test with every broken promise.
// The fault runs on the test's goroutine (it may fail the test); placed is
// closed once the traffic has placed its last order.
func (s *system) scenario(traffic devstack.DemoOptions, fault func(ctx context.Context, placed <-chan struct{})) result {
	s.t.Helper()
	demo := devstack.NewDemo(s.sims.Commerce, s.sims.NetSuite, traffic)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	placed := make(chan struct{})
	go func() {
		defer close(placed)
		_ = demo.Run(ctx)
	}()
	if fault != nil {
		fault(ctx, placed)
	}
	<-placed
	for name, p := range s.procs {
		if !p.alive() {
			s.t.Errorf("%s is not running", name)
		}
	}
	rep, drain := s.settle(s.check(demo, false), 2*time.Minute)
	if !rep.OK() {
		n := len(rep.Problems)
		if n > 25 {
			rep.Problems = append(rep.Problems[:25], fmt.Sprintf("... and %d more", n-25))
		}
		s.t.Errorf("promises broken after %v:\n  %s", drain.Round(time.Millisecond), strings.Join(rep.Problems, "\n  "))
	}
	s.logStreams()
	c := demo.Counts()
	if c.Orders != traffic.Orders || rep.Orders < c.Orders {
		s.t.Errorf("Commerce has %d orders, the traffic placed %d of %d", rep.Orders, c.Orders, traffic.Orders)
	}
	return result{rep: rep, drain: drain, took: time.Since(s.started)}
}

// logStreams logs how many messages each stream holds, by subject.
func (s *system) logStreams() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	for _, name := range event.Streams() {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			continue
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "\n  %s %d:", name, info.State.Msgs)
		for _, subj := range sortedKeys(info.State.Subjects) {
			fmt.Fprintf(&b, " %s=%d", subj, info.State.Subjects[subj])
		}
	}
	s.t.Logf("streams:%s", b.String())
}

// sleep waits d or until ctx is done (false then).
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
