// Package devstack runs the whole system in one process: an embedded
// JetStream server, the streams of streams/, every service of pkg/fleet and,
// unless real connections are configured, both simulators. `mlc dev` is a
// thin command around it and end-to-end tests use it the same way.
package devstack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/chserver"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Options configure a dev stack. Zero ports pick free ones.
type Options struct {
	Dir        string    // data directory (JetStream store, logs); required
	NATSPort   int       // client port of the embedded server; -1 = random
	HTTPPort   int       // first service port, the next services take the following ports; 0 = random
	SyncAlways bool      // JetStream fsync on every write (production setting)
	LogOut     io.Writer // service logs; nil = Dir/logs/<service>.log
	// Env is passed to every service on top of what the stack sets
	// (MLC_NATS_URL, MLC_HTTP_ADDR): real connections, log level, keys.
	// Without MLC_MASTER_KEY / MLC_MASTER_KEY_FILE the stack keeps a dev
	// master key in Dir/master.key.
	Env map[string]string
	// NoSims skips the simulators: connections come from `mlc connect`.
	NoSims bool
	// Sims configures the simulators (addresses, knobs). Webhooks go to
	// the stack's ingest unless Sims.Commerce.Webhooks.BaseURL is set.
	Sims SimOptions
	// OrdersPerSecond > 0 runs the Commerce simulator's order generator.
	OrdersPerSecond float64
	// ReadyWait bounds the wait for every service's /readyz (default 10s);
	// after it Start returns with the reasons in Running.Status.
	ReadyWait time.Duration
	// NoClickHouse leaves the audit off even when a clickhouse-server
	// binary is on the machine (Env's MLC_CLICKHOUSE_DSN is used anyway).
	NoClickHouse bool
	// DemoSettings sets inventory-publisher's schedule for the demo
	// (SaveDemoSettings) before the services start.
	DemoSettings bool
}

// Running describes one started service.
type Running struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`   // host:port of /healthz /readyz /metrics (and ingest's webhooks)
	Status string `json:"status"` // StatusReady, or why not
}

// Stack is a running dev system.
type Stack struct {
	NATS     *server.Server
	Services []Running
	Sims     *Sims // nil with NoSims
	// AuditDSN is the ClickHouse the audit-mirror writes to ("" = none);
	// ClickHouse is set when the stack started that server itself.
	AuditDSN   string
	ClickHouse *chserver.Server

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
	files  []*os.File
}

// Start brings the stack up and returns once every service is serving and
// ready (or, after a short wait, reports why it is not), or with an error.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Dir == "" {
		return nil, errors.New("devstack: Dir is required")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	env, err := baseEnv(o)
	if err != nil {
		return nil, err
	}
	ns, err := StartNATS(o.Dir, o.NATSPort, o.SyncAlways)
	if err != nil {
		return nil, err
	}
	st := &Stack{NATS: ns}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st.cancel = cancel
	if err := st.applyStreams(ctx, !o.NoSims, o.DemoSettings); err != nil {
		st.Stop()
		return nil, err
	}
	if err := st.startClickHouse(o, env); err != nil {
		st.Stop()
		return nil, err
	}
	services := fleet.All()
	port := o.HTTPPort
	for _, svc := range services {
		addr, err := pickAddr(port)
		if err != nil {
			st.Stop()
			return nil, err
		}
		if port != 0 {
			port++
		}
		st.Services = append(st.Services, Running{Name: svc.Spec.Name, Addr: addr})
	}
	if !o.NoSims {
		if err := st.startSims(ctx, o, env); err != nil {
			st.Stop()
			return nil, err
		}
	}
	for i, svc := range services {
		senv := maps.Clone(env)
		senv["MLC_NATS_URL"] = ns.ClientURL()
		senv["MLC_HTTP_ADDR"] = st.Services[i].Addr
		out, err := st.logWriter(o, svc.Spec.Name)
		if err != nil {
			st.Stop()
			return nil, err
		}
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			if err := svc.Run(sctx, senv, out); err != nil {
				st.mu.Lock()
				st.errs = append(st.errs, fmt.Errorf("%s: %w", svc.Spec.Name, err))
				st.mu.Unlock()
			}
		}()
	}
	readyWait := o.ReadyWait
	if readyWait == 0 {
		readyWait = 10 * time.Second
	}
	if err := st.waitReady(ctx, 60*time.Second, readyWait); err != nil {
		st.Stop()
		return nil, err
	}
	if st.Sims != nil && o.OrdersPerSecond > 0 {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			_ = st.Sims.Commerce.RunGenerator(sctx, o.OrdersPerSecond, "default")
		}()
	}
	return st, nil
}

// baseEnv is the environment every service gets: the caller's, a shutdown
// grace that suits a terminal, and a master key.
func baseEnv(o Options) (map[string]string, error) {
	env := maps.Clone(o.Env)
	if env == nil {
		env = map[string]string{}
	}
	// Every service shares this process: inventory-publisher's soft memory
	// limit would hold the whole stack to the publisher's budget.
	defaults := map[string]string{"MLC_SHUTDOWN_TIMEOUT": "10s", "MLC_INVENTORY_MEMORY_LIMIT": "off"}
	if !o.NoSims {
		maps.Copy(defaults, SimTimings())
	}
	for k, v := range defaults {
		if _, ok := env[k]; !ok {
			env[k] = v
		}
	}
	if env[secrets.EnvMasterKey] == "" && env[secrets.EnvMasterKeyFile] == "" {
		path := filepath.Join(o.Dir, "master.key")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			key, err := secrets.GenerateKey()
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
				return nil, err
			}
		}
		env[secrets.EnvMasterKeyFile] = path
	}
	return env, nil
}

// startSims runs both simulators, points Commerce's webhooks at ingest and
// stores working connections to them, as `mlc connect` would.
func (st *Stack) startSims(ctx context.Context, o Options, env map[string]string) error {
	so := o.Sims
	if so.Dir == "" {
		so.Dir = filepath.Join(o.Dir, "sim")
	}
	if so.Commerce.Webhooks.BaseURL == "" {
		for _, r := range st.Services {
			if r.Name == ingest.Name {
				so.Commerce.Webhooks.BaseURL = "http://" + r.Addr + "/webhooks/commerce"
			}
		}
		if so.Commerce.Webhooks.Timeout == 0 {
			so.Commerce.Webhooks.Timeout = 2 * time.Second
			so.Commerce.Webhooks.SoftTimeout = 500 * time.Millisecond
		}
	}
	sims, err := StartSims(so)
	if err != nil {
		return err
	}
	st.Sims = sims
	keys, err := secrets.LoadKeyring(func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	nc, js, err := stream.Connect(st.NATS.ClientURL(), "", "mlc-dev", zerolog.Nop())
	if err != nil {
		return err
	}
	defer nc.Close()
	return sims.SaveConnections(ctx, js, keys)
}

// SimTimings are the waits that suit simulators, which commit an order the
// moment its webhook returns and sync in milliseconds: a webhook order is
// looked up again after 2 s instead of 30 s (a record not readable yet,
// such as a customer just signed up, after 5 s instead of a minute), the
// backfill poll runs every 10 s, inventory schedules are checked every 5 s.
// A variable set in Options.Env wins.
func SimTimings() map[string]string {
	return map[string]string{
		"MLC_TRANSFORM_CONFIRM_WINDOW": "2m", "MLC_TRANSFORM_CONFIRM_RETRY": "2s",
		"MLC_TRANSFORM_UNMAPPED_WAIT": "5m", "MLC_TRANSFORM_UNMAPPED_RETRY": "5s",
		"MLC_POLL_INTERVAL": "10s", "MLC_POLL_SETTLE": "2s",
		"MLC_INVENTORY_SCHEDULE_CHECK": "5s",
	}
}

// startClickHouse gives the audit-mirror a ClickHouse: Env's
// MLC_CLICKHOUSE_DSN, else a clickhouse-server of this machine run with its
// data under Dir/clickhouse, else none (the mirror reports itself unready).
func (st *Stack) startClickHouse(o Options, env map[string]string) error {
	if dsn := env["MLC_CLICKHOUSE_DSN"]; dsn != "" {
		st.AuditDSN = dsn
		return nil
	}
	bin := chserver.Find()
	if o.NoClickHouse || bin == "" {
		return nil
	}
	dir := filepath.Join(o.Dir, "clickhouse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ch, err := chserver.Start(bin, dir)
	if err != nil {
		return err
	}
	st.ClickHouse, st.AuditDSN = ch, ch.Addr
	env["MLC_CLICKHOUSE_DSN"] = ch.Addr
	return nil
}

// StartNATS starts an embedded JetStream server on loopback with its store
// under dir/jetstream; port 0 or -1 picks a free port.
func StartNATS(dir string, port int, syncAlways bool) (*server.Server, error) {
	if port == 0 {
		port = -1
	}
	opts := &server.Options{
		ServerName: "mlc-dev",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(dir, "jetstream"),
		SyncAlways: syncAlways,
		NoLog:      true,
		NoSigs:     true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded nats not ready on port %d (in use?)", port)
	}
	return ns, nil
}

// simState are the buckets that remember what the simulators hold. The
// simulators start empty while Dir keeps JetStream across restarts, so with
// simulators they start empty too: a customer id or a stock snapshot from
// the last run would name records the new simulators never had.
func simState() []string {
	return []string{event.BucketSynced, event.BucketCustomerMap, event.BucketInventory}
}

func (st *Stack) applyStreams(ctx context.Context, sims, demo bool) error {
	nc, js, err := stream.Connect(st.NATS.ClientURL(), "", "mlc-dev", zerolog.Nop())
	if err != nil {
		return err
	}
	defer nc.Close()
	if sims {
		for _, b := range simState() {
			if err := js.DeleteKeyValue(ctx, b); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
				return fmt.Errorf("reset %s: %w", b, err)
			}
		}
	}
	if _, err = stream.ApplyDeclared(ctx, js, nil); err != nil || !demo {
		return err
	}
	return SaveDemoSettings(ctx, js)
}

func pickAddr(port int) (string, error) {
	if port == 0 {
		return freeport.Addr()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", fmt.Errorf("port %d: %w", port, err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func (st *Stack) logWriter(o Options, name string) (io.Writer, error) {
	if o.LogOut != nil {
		return o.LogOut, nil
	}
	dir := filepath.Join(o.Dir, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	st.files = append(st.files, f)
	return f, nil
}

// waitReady waits until every service serves /healthz (a service that
// cannot start fails the stack) and then, for at most readyWithin, for
// /readyz. A service that stays unready (ingest with no store connected,
// before `mlc connect commerce`) keeps running; its Status says why.
func (st *Stack) waitReady(ctx context.Context, within, readyWithin time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for _, r := range st.Services {
		for {
			if err := st.firstError(); err != nil {
				return err
			}
			if resp, err := client.Get("http://" + r.Addr + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not serving on %s within %v", r.Name, r.Addr, within)
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	deadline = time.Now().Add(readyWithin)
	for i := range st.Services {
		r := &st.Services[i]
		for {
			r.Status = readiness(client, r.Addr)
			if r.Status == StatusReady || time.Now().After(deadline) {
				break
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return st.firstError()
}

// StatusReady is Running.Status of a service whose /readyz answers 200.
const StatusReady = "ready"

// readiness is "ready" or the failing checks /readyz reports.
func readiness(client *http.Client, addr string) string {
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		return "not ready: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return StatusReady
	}
	var checks map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&checks)
	var failing []string
	for name, v := range checks {
		if v != "ok" {
			failing = append(failing, name+": "+v)
		}
	}
	sort.Strings(failing)
	return "not ready: " + strings.Join(failing, "; ")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (st *Stack) firstError() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.errs) > 0 {
		return st.errs[0]
	}
	return nil
}

// Stop shuts every service down (each drains within its grace period), then
// the embedded server, and returns the services' errors.
func (st *Stack) Stop() error {
	if st.cancel != nil {
		st.cancel()
	}
	st.wg.Wait()
	if st.Sims != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = st.Sims.Stop(ctx)
		cancel()
	}
	st.shutdownNATS()
	if st.ClickHouse != nil {
		st.ClickHouse.Stop()
	}
	for _, f := range st.files {
		f.Close()
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return errors.Join(st.errs...)
}

func (st *Stack) shutdownNATS() {
	st.NATS.Shutdown()
	st.NATS.WaitForShutdown()
}
