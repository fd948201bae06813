package e2e_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/streams"
)

// wait bounds a service's start and stop on a loaded 2-core machine.
const wait = 30 * time.Second

// ackWaits shorten the consumers' ack_wait so that the messages a killed
// process held come back within seconds (the files say 30 s to 150 s). The
// services run with MLC_PROVISION=false, or they would put the files'
// values back; the writer heartbeats at a third of its ack_wait.
func ackWaits() map[string]time.Duration {
	return map[string]time.Duration{
		event.DurableTransform: 5 * time.Second, event.DurableNetSuiteWriter: 5 * time.Second,
		event.DurableCommerceWriter: 10 * time.Second, event.DurableAuditMirror: 10 * time.Second,
	}
}

// serviceEnv compresses every wait of the services to test scale.
func serviceEnv() map[string]string {
	return map[string]string{
		"MLC_LOG_LEVEL": "info", "MLC_SHUTDOWN_TIMEOUT": "5s", "MLC_PROVISION": "false",
		"MLC_POLL_INTERVAL": "1s", "MLC_POLL_SETTLE": "1s", "MLC_POLL_LOOKBACK": "2m",
		"MLC_TRANSFORM_CONFIRM_WINDOW": "30s", "MLC_TRANSFORM_CONFIRM_RETRY": "500ms",
		"MLC_TRANSFORM_UNMAPPED_WAIT": "20s", "MLC_TRANSFORM_UNMAPPED_RETRY": "500ms",
		"MLC_TRANSFORM_RETRY_BASE": "100ms", "MLC_TRANSFORM_RETRY_MAX": "1s", "MLC_TRANSFORM_COMMERCE_TIMEOUT": "3s",
		"MLC_WRITER_RETRY_BASE": "50ms", "MLC_WRITER_RETRY_CAP": "500ms", "MLC_WRITER_RETRY_BUDGET": "3s",
		"MLC_WRITER_REDELIVER_BASE": "200ms", "MLC_WRITER_REDELIVER_CAP": "2s", "MLC_WRITER_REQUEUE_GAP": "500ms",
		"MLC_INVENTORY_SCHEDULE_CHECK": "500ms",
		"MLC_AUDIT_BATCH_WAIT":         "200ms", "MLC_AUDIT_LAG_INTERVAL": "1s",
	}
}

// inventorySchedule is how often inventory-publisher syncs in a scenario.
const inventorySchedule = "@every 2s"

// options shape one scenario's system.
type options struct {
	name     string // names the audit database
	cluster  bool   // a 3-node JetStream cluster, sync_interval always, R3
	commerce commercesim.Config
	netsuite netsuitesim.Config
	env      map[string]string // on top of serviceEnv
}

// system is one scenario's world: JetStream, both simulators in this
// process (over HTTP), and every service as its own process.
type system struct {
	t       *testing.T
	dir     string
	nats    *cluster
	nc      *nats.Conn
	js      jetstream.JetStream
	sims    *devstack.Sims
	ingest  string // ingest's host:port
	audit   *audit.Store
	env     map[string]string
	procs   map[string]*proc
	started time.Time
}

// newSystem starts everything and returns once every service is ready.
func newSystem(t *testing.T, ch string, o options) *system {
	t.Helper()
	ctx := context.Background()
	s := &system{t: t, dir: t.TempDir(), procs: map[string]*proc{}, started: time.Now()}
	n := 1
	if o.cluster {
		n = 3
	}
	s.nats = startCluster(t, filepath.Join(s.dir, "nats"), n)
	var err error
	if s.nc, err = nats.Connect(s.nats.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nc.Close)
	if s.js, err = jetstream.New(s.nc); err != nil {
		t.Fatal(err)
	}
	applyStreams(t, s.js, n)

	master, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		t.Fatal(err)
	}
	if s.ingest, err = freeport.Addr(); err != nil {
		t.Fatal(err)
	}
	cc := o.commerce
	cc.Webhooks.BaseURL = "http://" + s.ingest + "/webhooks/commerce"
	if cc.Webhooks.Timeout == 0 {
		cc.Webhooks.Timeout = 5 * time.Second
	}
	if s.sims, err = devstack.StartSims(devstack.SimOptions{Dir: filepath.Join(s.dir, "sims"), Commerce: cc, NetSuite: o.netsuite}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.sims.Stop(ctx)
	})
	if err := s.sims.SaveConnections(ctx, s.js, keys); err != nil {
		t.Fatal(err)
	}
	kv, err := s.js.KeyValue(ctx, event.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.DefaultSettings()
	inv.Schedule = inventorySchedule
	if err := settings.New(kv).Save(ctx, inventory.SettingsKey, inv); err != nil {
		t.Fatal(err)
	}

	s.env = serviceEnv()
	s.env["MLC_NATS_URL"] = s.nats.urls()
	s.env[secrets.EnvMasterKey] = base64.StdEncoding.EncodeToString(master)
	if ch != "" {
		dsn := "clickhouse://" + ch + "/e2e_" + strings.ReplaceAll(o.name, "-", "_")
		s.env["MLC_CLICKHOUSE_DSN"] = dsn
		if s.audit, err = audit.Open(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.audit.Close() })
	}
	maps.Copy(s.env, o.env)
	for _, svc := range fleet.All() {
		s.start(svc.Spec.Name)
	}
	for _, p := range s.procs {
		p.waitReady(t)
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, p := range s.procs {
			wg.Add(1)
			go func() { defer wg.Done(); p.stop() }()
		}
		wg.Wait()
		if t.Failed() || os.Getenv("MLC_E2E_LOGS") != "" {
			s.dumpLogs()
		}
	})
	return s
}

// proc is one service binary running as its own process.
type proc struct {
	name, addr string
	env        []string
	log        string // file, appended to by every start
	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{}
	starts     int
}

// start runs the service's binary (again, after a kill).
func (s *system) start(name string) *proc {
	s.t.Helper()
	p := s.procs[name]
	if p == nil {
		addr := s.ingest
		if name != "ingest" {
			var err error
			if addr, err = freeport.Addr(); err != nil {
				s.t.Fatal(err)
			}
		}
		env := maps.Clone(s.env)
		env["MLC_HTTP_ADDR"] = addr
		env["MLC_INSTANCE"] = name
		p = &proc{name: name, addr: addr, log: filepath.Join(s.dir, "logs", name+".log")}
		for _, k := range sortedKeys(env) {
			p.env = append(p.env, k+"="+env[k])
		}
		if err := os.MkdirAll(filepath.Dir(p.log), 0o755); err != nil {
			s.t.Fatal(err)
		}
		s.procs[name] = p
	}
	if err := p.run(); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (p *proc) run() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	p.starts++
	fmt.Fprintf(f, "--- start %d at %s\n", p.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(filepath.Join(binDir, p.name))
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr = p.env, f, f, procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	return nil
}

// waitReady waits for /readyz; a process that exits fails the test.
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(wait)
	for {
		select {
		case <-p.exited:
			t.Fatalf("%s exited during start:\n%s", p.name, tail(p.log, 30))
		default:
		}
		if resp, err := client.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v:\n%s", p.name, wait, tail(p.log, 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill SIGKILLs the process, as a crash or the OOM killer would.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// stop asks for a graceful shutdown (SIGTERM), killing after wait.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (s *system) dumpLogs() {
	for _, name := range sortedKeys(s.procs) {
		s.t.Logf("--- %s (last lines):\n%s", name, tail(s.procs[name].log, logLines()))
	}
}

// logLines is how much of each log a failed scenario prints
// (MLC_E2E_LOGS=<n> for more).
func logLines() int {
	if n, err := strconv.Atoi(os.Getenv("MLC_E2E_LOGS")); err == nil && n > 0 {
		return n
	}
	return 25
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, clip(sc.Text(), 600))
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// check is the Verify input of this system.
func (s *system) check(demo *devstack.Demo, allowDLQ bool) devstack.Check {
	c := devstack.Check{Commerce: s.sims.Commerce, NetSuite: s.sims.NetSuite, JS: s.js, Audit: s.audit, AllowDLQ: allowDLQ}
	if demo != nil {
		c.Stock = demo.Stock()
	}
	return c
}

// settle polls Verify until every promise holds or within is over, and
// returns the last report and how long it took.
func (s *system) settle(c devstack.Check, within time.Duration) (devstack.Report, time.Duration) {
	s.t.Helper()
	start, lastLog := time.Now(), time.Now()
	var rep devstack.Report
	var err error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rep, err = devstack.Verify(ctx, c)
		cancel()
		if err == nil && rep.OK() {
			return rep, time.Since(start)
		}
		if time.Since(start) > within {
			if err != nil {
				rep.Problems = append(rep.Problems, "verify: "+err.Error())
			}
			return rep, time.Since(start)
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			s.t.Logf("settling for %v: %d problems, first: %v %v", time.Since(start).Round(time.Second), len(rep.Problems), first(rep.Problems), err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// applyStreams applies streams/ with the test's ack waits (and R3 on a
// cluster), as `mlc streams apply` would.
func applyStreams(t *testing.T, js jetstream.JetStream, replicas int) {
	t.Helper()
	defs, err := stream.Load(streams.FS)
	if err != nil {
		t.Fatal(err)
	}
	waits := ackWaits()
	for i := range defs.Consumers {
		if w, ok := waits[defs.Consumers[i].Config.Durable]; ok {
			defs.Consumers[i].Config.AckWait = w
		}
	}
	var opts []stream.ApplyOption
	if replicas > 1 {
		opts = append(opts, stream.WithReplicas(replicas))
	}
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = stream.Apply(ctx, js, defs, opts...)
		cancel()
		if err == nil {
			return
		}
		// A new cluster takes a moment to elect its meta leader.
		if time.Now().After(deadline) {
			t.Fatalf("apply streams/: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cluster is one JetStream server or a cluster of them, in this process.
type cluster struct {
	t       *testing.T
	opts    []*server.Options
	mu      sync.Mutex
	servers []*server.Server
}

// startCluster runs n JetStream servers; with n > 1 they form a cluster
// with sync_interval always (the production setting of DESIGN §4).
func startCluster(t *testing.T, dir string, n int) *cluster {
	t.Helper()
	c := &cluster{t: t}
	ports, routes := make([]int, n), make([]int, n)
	for i := range n {
		ports[i], routes[i] = port(t), port(t)
	}
	for i := range n {
		o := &server.Options{
			ServerName: "e2e-" + strconv.Itoa(i), Host: "127.0.0.1", Port: ports[i],
			JetStream: true, StoreDir: filepath.Join(dir, strconv.Itoa(i)), NoLog: true, NoSigs: true,
		}
		if n > 1 {
			o.SyncAlways = true
			o.Cluster = server.ClusterOpts{Name: "e2e", Host: "127.0.0.1", Port: routes[i]}
			var rs []string
			for j := range n {
				if j != i {
					rs = append(rs, "nats://127.0.0.1:"+strconv.Itoa(routes[j]))
				}
			}
			o.Routes = server.RoutesFromStr(strings.Join(rs, ","))
		}
		c.opts = append(c.opts, o)
		c.servers = append(c.servers, nil)
	}
	for i := range n {
		c.startNode(i)
	}
	t.Cleanup(func() {
		for i := range n {
			c.stopNode(i)
		}
	})
	return c
}

func port(t *testing.T) int {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// startNode starts node i (again), on its port and store.
func (c *cluster) startNode(i int) {
	c.t.Helper()
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatalf("nats node %d: %v", i, err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		c.t.Fatalf("nats node %d not ready", i)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
}

// stopNode shuts node i down (a lost node; its store stays).
func (c *cluster) stopNode(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

func (c *cluster) urls() string {
	var us []string
	for _, o := range c.opts {
		us = append(us, "nats://127.0.0.1:"+strconv.Itoa(o.Port))
	}
	return strings.Join(us, ",")
}

// leaderOf is the index of the node leading a stream, or -1.
func (c *cluster) leaderOf(js jetstream.JetStream, name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		return -1
	}
	info, err := st.Info(ctx)
	if err != nil || info.Cluster == nil {
		return -1
	}
	for i, o := range c.opts {
		if o.ServerName == info.Cluster.Leader {
			return i
		}
	}
	return -1
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
