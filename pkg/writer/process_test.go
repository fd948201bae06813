package writer_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// buildWriter builds services/netsuite-writer, the binary operators run.
func buildWriter(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "netsuite-writer")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "./services/netsuite-writer")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is the writer running as its own process.
type process struct {
	cmd  *exec.Cmd
	logs *servicetest.Logs
}

func (e *env) startProcess(bin string) *process {
	e.t.Helper()
	environ := e.Environ()
	for k, v := range testEnviron {
		environ[k] = v
	}
	environ["MLC_HTTP_ADDR"] = servicetest.FreeAddr(e.t)
	// The test shortened ack_wait so a dead writer's messages come back
	// within the test; provisioning would put the file's 150 s back.
	environ["MLC_PROVISION"] = "false"
	p := &process{cmd: exec.Command(bin), logs: &servicetest.Logs{}}
	for k, v := range environ {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			_ = p.cmd.Wait()
		}
		if e.t.Failed() {
			e.t.Logf("writer process log:\n%s", p.logs.String())
		}
	})
	return p
}

func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// A writer process killed in the middle of a run (SIGKILL: no drain, no
// acks, writes NetSuite accepted but never acknowledged) and started again
// leaves exactly one record per command and no line twice.
func TestKilledWriterProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the writer binary")
	}
	bin := buildWriter(t)
	const n = 120
	e := newEnv(t, netsuitesim.Config{ConcurrencyLimit: 5, Latency: 15 * time.Millisecond}, settingsFor(5))
	setAckWait(t, e, 2*time.Second)
	var cmds []event.NetSuiteCommand
	for i := 0; i < n; i++ {
		b := buyer{id: int64(100 + i%25), first: "Jo", last: "Kay", email: fmt.Sprintf("jo%d@example.com", i%25)}
		cmds = append(cmds, orderCommand("default", increment(i), b, linesFor(i)),
			invoiceCommand("default", increment(i), b, event.InvoiceFromOrder, nil))
	}
	e.publish(cmds...)
	p := e.startProcess(bin)
	servicetest.WaitFor(t, "a third of the orders in NetSuite", func() bool {
		return len(e.NetSuite.Records(netsuite.TypeSalesOrder)) >= n/3
	})
	p.kill(t)
	killedAt := len(e.NetSuite.Records(netsuite.TypeSalesOrder))
	if killedAt == n {
		t.Fatal("every order was written before the kill: the test did not interrupt a run")
	}
	e.startProcess(bin)

	// Every command settles; those the dead writer held come back once
	// ack_wait has passed.
	settled := map[string]event.SyncOutcome{}
	redelivered := 0
	for len(settled) < len(cmds) {
		m := e.Next(t, event.StreamSync, "sync.>")
		o, _, err := event.DecodeSyncOutcome(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		if !o.OK() {
			t.Fatalf("%s: %+v", o.ExternalID, o)
		}
		if o.Attempts > 1 {
			redelivered++
		}
		settled[o.ExternalID] = o
	}
	if redelivered == 0 {
		t.Error("no command was redelivered after the kill: the crash window was not exercised")
	}
	sos, invs := records(e.NetSuite, netsuite.TypeSalesOrder), records(e.NetSuite, netsuite.TypeInvoice)
	if len(sos) != n || len(invs) != n || len(e.NetSuite.Records(netsuite.TypeCustomer)) != 25 {
		t.Fatalf("%d orders, %d invoices, %d customers; want %d, %d, 25", len(sos), len(invs), len(e.NetSuite.Records(netsuite.TypeCustomer)), n, n)
	}
	for i := 0; i < n; i++ {
		so, inv := sos[cmds[2*i].ExternalID], invs[cmds[2*i+1].ExternalID]
		if lineCount(so) != len(linesFor(i)) || lineCount(inv) != len(linesFor(i)) || refID(inv.Fields["createdFrom"]) != so.ID {
			t.Errorf("order %d: %d lines, invoice %d lines from %v; want %d", i, lineCount(so), lineCount(inv), inv.Fields["createdFrom"], len(linesFor(i)))
		}
		if settled[cmds[2*i].ExternalID].InternalID != so.ID {
			t.Errorf("order %d: outcome id %s, record %s", i, settled[cmds[2*i].ExternalID].InternalID, so.ID)
		}
	}
	if st := e.NetSuite.Stats(); len(st.DuplicateExternalIDs) != 0 || st.PeakOffered > 5 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("killed with %d of %d orders written; %d outcomes after a redelivery", killedAt, n, redelivered)
}

func setAckWait(t *testing.T, e *env, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.JS.Consumer(ctx, event.StreamNetSuite, event.DurableNetSuiteWriter)
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.CachedInfo().Config
	cfg.AckWait = d
	if _, err := e.JS.UpdateConsumer(ctx, event.StreamNetSuite, cfg); err != nil {
		t.Fatal(err)
	}
}
