package bench

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/catalog"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// natsBinary is the name BuildSystem gives nats-server in its directory.
const natsBinary = "nats-server"

// BuildSystem builds every service of pkg/fleet (services/<name>, the
// binaries operators run) and nats-server (the version this workspace
// requires) into dir, in one go build. It needs the Go toolchain and must run
// inside the ml-connector workspace.
func BuildSystem(ctx context.Context, dir string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, svc := range fleet.All() {
		args = append(args, "github.com/ml-connector/ml-connector/services/"+svc.Spec.Name)
	}
	args = append(args, "github.com/nats-io/nats-server/v2")
	cmd := exec.CommandContext(ctx, "go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s (run inside the ml-connector checkout): %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// SystemOptions configure StartSystem.
type SystemOptions struct {
	Dir    string // JetStream store, logs, simulator keys; required
	BinDir string // BuildSystem's output
	Sync   string // JetStream sync_interval: SyncDefault, SyncAlways or a duration
	// AuditDSN is the ClickHouse the audit-mirror writes to; "" runs the
	// system without it (audit-mirror reports itself unready and is not
	// waited for).
	AuditDSN string
	Commerce commercesim.Config
	NetSuite netsuitesim.Config
	// Writer is netsuite-writer's settings document (nil: the defaults).
	Writer *writer.Settings
	// Env is added to every service's environment.
	Env map[string]string
	// ProfileDir gets a CPU profile of each service (<name>.pprof, written
	// when the system stops; MLC_CPU_PROFILE).
	ProfileDir string
}

// System is the connector as an operator deploys it: nats-server and every
// service its own process, with the two simulators in this process (they
// stand for Commerce and NetSuite, which are not ours to measure).
type System struct {
	Sims  *devstack.Sims
	NC    *nats.Conn
	JS    jetstream.JetStream
	Audit *audit.Store // nil without AuditDSN

	dir     string
	nats    *exec.Cmd
	monitor string // nats-server's monitoring endpoint
	procs   []*sysProc
}

type sysProc struct {
	name, addr, log string
	cmd             *exec.Cmd
	exited          chan struct{}
}

// StartSystem starts nats-server, applies the streams, starts the
// simulators with stored connections to them (as `mlc connect` would) and
// every service, and returns once each service answers /readyz.
func StartSystem(ctx context.Context, o SystemOptions) (_ *System, err error) {
	if o.Dir == "" || o.BinDir == "" {
		return nil, errors.New("bench: SystemOptions needs Dir and BinDir")
	}
	s := &System{dir: o.Dir}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	natsURL, err := s.startNATS(o)
	if err != nil {
		return nil, err
	}
	if s.NC, s.JS, err = stream.Connect(natsURL, "", "mlc-bench", zerolog.Nop()); err != nil {
		return nil, err
	}
	if _, err := stream.ApplyDeclared(ctx, s.JS, nil); err != nil {
		return nil, err
	}
	master, err := secrets.GenerateKey()
	if err != nil {
		return nil, err
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		return nil, err
	}
	ingestAddr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	cc := o.Commerce
	cc.Webhooks.BaseURL = "http://" + ingestAddr + "/webhooks/commerce"
	if cc.Webhooks.Timeout == 0 {
		cc.Webhooks.Timeout = 5 * time.Second
	}
	if s.Sims, err = devstack.StartSims(devstack.SimOptions{Dir: filepath.Join(o.Dir, "sims"), Commerce: cc, NetSuite: o.NetSuite}); err != nil {
		return nil, err
	}
	if err := s.Sims.SaveConnections(ctx, s.JS, keys); err != nil {
		return nil, err
	}
	if o.Writer != nil {
		kv, err := s.JS.KeyValue(ctx, event.BucketSettings)
		if err != nil {
			return nil, err
		}
		if err := settings.New(kv).Save(ctx, writer.SettingsKey, o.Writer); err != nil {
			return nil, err
		}
	}
	if o.AuditDSN != "" {
		if s.Audit, err = audit.Open(ctx, o.AuditDSN); err != nil {
			return nil, err
		}
	}
	env := devstack.SimTimings()
	env["MLC_LOG_LEVEL"] = "warn"
	env["MLC_SHUTDOWN_TIMEOUT"] = "10s"
	for k, v := range o.Env {
		env[k] = v
	}
	env["MLC_NATS_URL"] = natsURL
	env[secrets.EnvMasterKey] = base64.StdEncoding.EncodeToString(master)
	if o.AuditDSN != "" {
		env["MLC_CLICKHOUSE_DSN"] = o.AuditDSN
	}
	for _, svc := range fleet.All() {
		addr := ingestAddr
		if svc.Spec.Name != "ingest" {
			if addr, err = freeport.Addr(); err != nil {
				return nil, err
			}
		}
		senv := env
		if o.ProfileDir != "" {
			senv = maps.Clone(env)
			senv["MLC_CPU_PROFILE"] = filepath.Join(o.ProfileDir, svc.Spec.Name+".pprof")
		}
		if err := s.startService(o.BinDir, svc.Spec.Name, addr, senv); err != nil {
			return nil, err
		}
	}
	for _, p := range s.procs {
		if p.name == "audit-mirror" && o.AuditDSN == "" {
			continue
		}
		if err := p.waitReady(ctx, time.Minute); err != nil {
			return nil, err
		}
	}
	if err := s.waitItemMap(ctx, time.Minute); err != nil {
		return nil, err
	}
	return s, nil
}

// waitItemMap waits for inventory-publisher's first run to map every SKU of
// the simulators' catalogue: an order placed before would wait for its
// mapping (MLC_TRANSFORM_UNMAPPED_RETRY), which a merchant's running system,
// synced long before, never sees.
func (s *System) waitItemMap(ctx context.Context, within time.Duration) error {
	kv, err := s.JS.KeyValue(ctx, event.BucketItemMap)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for {
		entries, _, err := itemmap.All(ctx, kv)
		missing := ""
		for _, p := range catalog.Default() {
			if _, ok := entries[p.SKU]; !ok && len(p.Children) == 0 {
				missing = p.SKU
				break
			}
		}
		if err == nil && missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the item map still lacks %s after %v (inventory-publisher's first run): %v", missing, within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *System) startNATS(o SystemOptions) (string, error) {
	always, interval, err := ParseSync(o.Sync)
	if err != nil {
		return "", err
	}
	monitor, err := freeport.Addr()
	if err != nil {
		return "", err
	}
	s.monitor = "http://" + monitor
	cmd, url, err := startNATSProcess(filepath.Join(o.BinDir, natsBinary), o.Dir, always, interval, monitor)
	s.nats = cmd
	return url, err
}

func (s *System) startService(binDir, name, addr string, env map[string]string) error {
	p := &sysProc{name: name, addr: addr, log: filepath.Join(s.dir, "logs", name+".log"), exited: make(chan struct{})}
	if err := os.MkdirAll(filepath.Dir(p.log), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p.log)
	if err != nil {
		return err
	}
	defer f.Close()
	p.cmd = exec.Command(filepath.Join(binDir, name))
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "MLC_HTTP_ADDR=" + addr, "MLC_INSTANCE=" + name}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	s.procs = append(s.procs, p)
	return nil
}

func (p *sysProc) waitReady(ctx context.Context, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during start:\n%s", p.name, p.logTail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get("http://" + p.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v:\n%s", p.name, within, p.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks for a graceful shutdown (SIGTERM), killing after 15 s.
func (p *sysProc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *sysProc) logTail() string {
	b, _ := os.ReadFile(p.log)
	return tail(b, 3000)
}

// Usage is what one process of the system used.
type Usage struct {
	Name string        `json:"name"`
	CPU  time.Duration `json:"cpu_ns"` // user + system since it started
	// RSS is its resident memory now, PeakRSS the most it ever held
	// (VmHWM), both in bytes.
	RSS     int64 `json:"rss_bytes"`
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// benchProcess names this process in Usage.
const benchProcess = "bench"

// Usage reads every process: nats-server, each service, and "bench" for
// this process (the simulators and the load generator).
func (s *System) Usage() []Usage {
	var out []Usage
	read := func(name string, pid int) {
		u := Usage{Name: name}
		u.CPU, _ = procCPU(pid)
		u.RSS, u.PeakRSS = procMemory(pid)
		out = append(out, u)
	}
	if s.nats != nil && s.nats.Process != nil {
		read("nats-server", s.nats.Process.Pid)
	}
	for _, p := range s.procs {
		read(p.name, p.cmd.Process.Pid)
	}
	read(benchProcess, os.Getpid())
	return out
}

// procMemory is a process's VmRSS and VmHWM from /proc/<pid>/status.
func procMemory(pid int) (rss, peak int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(value) // "1234 kB"
		if len(f) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak
}

// NATSCounters are nats-server's running totals of messages in and out:
// every publish, ack, fetch and KV operation is one.
type NATSCounters struct {
	InMsgs  int64 `json:"in_msgs"`
	OutMsgs int64 `json:"out_msgs"`
}

// NATSCounters reads /varz of nats-server's monitoring endpoint.
func (s *System) NATSCounters(ctx context.Context) (NATSCounters, error) {
	var c NATSCounters
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.monitor+"/varz", nil)
	if err != nil {
		return c, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return c, fmt.Errorf("nats-server /varz: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return c, fmt.Errorf("nats-server /varz: %w", err)
	}
	return c, nil
}

// Exited names the services that are no longer running.
func (s *System) Exited() []string {
	var out []string
	for _, p := range s.procs {
		select {
		case <-p.exited:
			out = append(out, p.name)
		default:
		}
	}
	sort.Strings(out)
	return out
}

// Stop stops every service (SIGTERM, SIGKILL after 15 s), the simulators
// and nats-server.
func (s *System) Stop() {
	if s.NC != nil {
		s.NC.Close()
	}
	done := make(chan struct{})
	for _, p := range s.procs {
		go func() { p.stop(); done <- struct{}{} }()
	}
	for range s.procs {
		<-done
	}
	if s.Sims != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Sims.Stop(ctx)
		cancel()
	}
	if s.Audit != nil {
		s.Audit.Close()
	}
	terminate(s.nats)
}
