// Package bench measures ml-connector's services as an operator runs them:
// real JetStream, the real service (in this process or as its own binary),
// load over loopback. `mlc bench` and the Go benchmarks use it; nothing here
// asserts a speed.
package bench

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// JetStream sync settings (nats-server's jetstream.sync_interval): the
// server's own default (fsync every two minutes), a fixed interval such as
// "1s", or "always" (fsync before every ack: the production setting,
// DESIGN.md §4).
const (
	SyncDefault = "default"
	SyncAlways  = "always"
)

// ParseSync reads a sync setting: SyncDefault, SyncAlways or a duration.
func ParseSync(s string) (always bool, interval time.Duration, err error) {
	switch s {
	case "", SyncDefault:
		return false, 0, nil
	case SyncAlways:
		return true, 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return false, 0, fmt.Errorf("bench: sync %q: want default, always or a positive duration such as 1s", s)
	}
	return false, d, nil
}

// TargetOptions configure StartIngest.
type TargetOptions struct {
	Mode string // webhook signature: "rsa" (Commerce's own scheme, default) or "hmac"
	Sync string // JetStream sync_interval: SyncDefault, SyncAlways or a duration ("1s")
	Dir  string // JetStream store; default a temporary directory removed by Stop
	// IngestBinary runs this services/ingest binary as its own process
	// instead of ingest.Run in this one.
	IngestBinary string
	// NATSBinary runs this nats-server binary as its own process instead
	// of the server embedded in this one.
	NATSBinary string
	// IngestEnv is added to ingest's environment (GOMAXPROCS, GOGC, ...; a
	// separate process only).
	IngestEnv map[string]string
	// Cache keeps the signing key and signed webhooks in this directory
	// across runs ("" signs afresh): RSA signing costs milliseconds per
	// webhook, far more than ingest spends on one.
	Cache string
	// Floor runs the floor server of this kind (FloorNetHTTP, ...) instead
	// of ingest: IngestBinary with IngestArgs, which must call RunFloor
	// with the kind from $MLC_BENCH_FLOOR (`mlc bench ingest-floor`).
	Floor string
	// IngestArgs are the arguments of IngestBinary.
	IngestArgs []string
}

// EnvFloor tells a floor server process its kind (TargetOptions.Floor).
const EnvFloor = "MLC_BENCH_FLOOR"

// IngestTarget is an ingest service on JetStream with one store ("bench")
// whose webhooks it verifies, and the webhooks to send it.
type IngestTarget struct {
	URL string // base URL of ingest

	opts TargetOptions
	pool *RequestPool
	dir  string

	ns      *server.Server // embedded NATS, or
	natsCmd *exec.Cmd      // nats-server as its own process
	natsURL string

	stop      context.CancelFunc // in-process ingest, or
	done      chan error
	ingestCmd *exec.Cmd // ingest as its own process
	ingestLog *os.File

	client *wireClient
}

// StartIngest brings up JetStream and ingest and prepares realistic webhook
// bodies (orders from the Commerce simulator, PHP-encoded).
func StartIngest(ctx context.Context, o TargetOptions) (*IngestTarget, error) {
	if o.Mode == "" {
		o.Mode = commerce.VerifyRSA
	}
	if o.Sync == "" {
		o.Sync = SyncDefault
	}
	if o.Floor != "" && o.IngestBinary == "" {
		return nil, fmt.Errorf("bench: floor %s: no executable to serve it (TargetOptions.IngestBinary)", o.Floor)
	}
	t := &IngestTarget{opts: o, dir: o.Dir}
	if t.dir == "" {
		d, err := os.MkdirTemp("", "mlc-bench-")
		if err != nil {
			return nil, err
		}
		t.dir = d
	}
	if err := t.start(ctx); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

func (t *IngestTarget) start(ctx context.Context) error {
	pool, err := OpenRequestPool(ctx, t.opts.Mode, t.opts.Cache)
	if err != nil {
		return err
	}
	t.pool = pool
	if err := t.startNATS(); err != nil {
		return err
	}
	nc, js, err := stream.Connect(t.natsURL, "", "mlc-bench", zerolog.Nop())
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := stream.ApplyDeclared(ctx, js, ingest.ServiceSpec().Uses()); err != nil {
		return err
	}
	master, err := secrets.GenerateKey()
	if err != nil {
		return err
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return err
	}
	conn := connection.Commerce{Store: benchStore, BaseURL: "http://127.0.0.1:9/rest/bench", Auth: "oauth1", Flavour: "paas",
		OAuth1:  connection.OAuth1{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "t", AccessTokenSecret: "ts"},
		Webhook: pool.Webhook()}
	if err := connection.SaveCommerce(ctx, secrets.NewStore(kv, keys), conn); err != nil {
		return err
	}
	addr, err := freeport.Addr()
	if err != nil {
		return err
	}
	t.URL = "http://" + addr
	env := map[string]string{
		"MLC_NATS_URL": t.natsURL, "MLC_HTTP_ADDR": addr, "MLC_LOG_LEVEL": "info",
		secrets.EnvMasterKey: base64.StdEncoding.EncodeToString(master), "MLC_POLL_ENABLED": "false",
		"MLC_COMMERCE_STORE": benchStore, "MLC_SHUTDOWN_TIMEOUT": "10s",
	}
	if err := t.startIngest(ctx, env); err != nil {
		return err
	}
	t.client = newWireClient(addr, maxInFlight)
	return t.waitReady(ctx)
}

// benchStore is the one connected store.
const benchStore = "bench"

func (t *IngestTarget) startNATS() error {
	always, interval, err := ParseSync(t.opts.Sync)
	if err != nil {
		return err
	}
	if t.opts.NATSBinary == "" {
		store := filepath.Join(t.dir, "jetstream")
		ns, err := server.NewServer(&server.Options{ServerName: "mlc-bench", Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: store, SyncAlways: always, SyncInterval: interval, NoLog: true, NoSigs: true})
		if err != nil {
			return fmt.Errorf("embedded nats: %w", err)
		}
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			ns.Shutdown()
			return errors.New("embedded nats not ready within 10s")
		}
		t.ns, t.natsURL = ns, ns.ClientURL()
		return nil
	}
	t.natsCmd, t.natsURL, err = startNATSProcess(t.opts.NATSBinary, t.dir, always, interval, "")
	return err
}

// startNATSProcess runs bin as a single JetStream server with its store and
// log in dir and the sync setting, plus a monitoring endpoint on monitor
// when given, and returns once JetStream answers.
func startNATSProcess(bin, dir string, always bool, interval time.Duration, monitor string) (*exec.Cmd, string, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return nil, "", err
	}
	cfg := natsConfig(addr, filepath.Join(dir, "jetstream"), always, interval)
	if monitor != "" {
		cfg += fmt.Sprintf("http: %q\n", monitor)
	}
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return nil, "", err
	}
	logPath := filepath.Join(dir, "nats.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, "", err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", bin, err)
	}
	url := "nats://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err := nats.Connect(url)
		if err == nil {
			js, _ := jetstream.New(nc)
			_, err = js.AccountInfo(context.Background())
			nc.Close()
			if err == nil {
				return cmd, url, nil
			}
		}
		if time.Now().After(deadline) {
			terminate(cmd)
			log, _ := os.ReadFile(logPath)
			return nil, "", fmt.Errorf("nats-server not ready within 15s: %v\n%s", err, tail(log, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// natsConfig is a single nats-server with JetStream in store and the sync
// setting, listening on addr.
func natsConfig(addr, store string, always bool, interval time.Duration) string {
	sync := ""
	switch {
	case always:
		sync = "\n  sync_interval: always"
	case interval > 0:
		sync = "\n  sync_interval: " + interval.String()
	}
	return fmt.Sprintf("server_name: mlc-bench\nlisten: %q\njetstream {\n  store_dir: %q%s\n}\n", addr, store, sync)
}

func (t *IngestTarget) startIngest(ctx context.Context, env map[string]string) error {
	if t.opts.IngestBinary == "" {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		t.stop, t.done = cancel, make(chan error, 1)
		go func() { t.done <- ingest.Run(rctx, env, io.Discard) }()
		return nil
	}
	t.ingestCmd = exec.Command(t.opts.IngestBinary, t.opts.IngestArgs...)
	t.ingestCmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if t.opts.Floor != "" {
		t.ingestCmd.Env = append(t.ingestCmd.Env, EnvFloor+"="+t.opts.Floor)
	}
	for k, v := range env {
		t.ingestCmd.Env = append(t.ingestCmd.Env, k+"="+v)
	}
	for k, v := range t.opts.IngestEnv {
		t.ingestCmd.Env = append(t.ingestCmd.Env, k+"="+v)
	}
	var err error
	if t.ingestLog, err = os.Create(filepath.Join(t.dir, "ingest.log")); err != nil {
		return err
	}
	t.ingestCmd.Stdout, t.ingestCmd.Stderr = t.ingestLog, t.ingestLog
	if err := t.ingestCmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", t.opts.IngestBinary, err)
	}
	return nil
}

func (t *IngestTarget) waitReady(ctx context.Context) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(t.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if t.ingestCmd != nil && t.ingestCmd.ProcessState != nil {
			return fmt.Errorf("bench: ingest exited: %s", t.ingestLogTail())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: ingest not ready within 30s: %s", t.ingestLogTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (t *IngestTarget) ingestLogTail() string {
	if t.ingestLog == nil {
		return ""
	}
	b, _ := os.ReadFile(t.ingestLog.Name())
	return tail(b, 2000)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// Where says how the parts run: "processes" (ingest and nats-server each
// their own), "in-process" (both in the bench's process), or which one is
// separate.
func (t *IngestTarget) Where() string {
	switch {
	case t.ingestCmd != nil && t.natsCmd != nil:
		return "processes"
	case t.ingestCmd != nil:
		return "ingest process, embedded nats"
	case t.natsCmd != nil:
		return "in-process ingest, nats process"
	}
	return "in-process"
}

// Server says what answers the webhooks: "ingest", or "floor " and the
// floor server's kind.
func (t *IngestTarget) Server() string {
	if t.opts.Floor != "" {
		return "floor " + t.opts.Floor
	}
	return "ingest"
}

// Sync is the JetStream sync setting of the target.
func (t *IngestTarget) Sync() string { return t.opts.Sync }

// Requests returns n signed order webhooks none of which this target has
// been sent yet (unique increment ids, so every one is stored and none is a
// duplicate). progress is called per webhook signed.
func (t *IngestTarget) Requests(n int, progress func()) ([]Request, error) {
	return t.pool.Take(n, progress)
}

// Send posts one webhook and reports whether ingest answered exactly 200
// {"op":"success"}, i.e. the order is durably stored.
func (t *IngestTarget) Send(ctx context.Context, r Request) error {
	return t.client.do(ctx, r.wire(t.client.addr))
}

// NATSURL is the JetStream server's client URL.
func (t *IngestTarget) NATSURL() string { return t.natsURL }

// cpu reads the CPU time used so far by each part that runs as its own
// process, and by this process.
func (t *IngestTarget) cpu() (c cpuSample) {
	c.bench, _ = procCPU(os.Getpid())
	if t.ingestCmd != nil {
		c.ingest, _ = procCPU(t.ingestCmd.Process.Pid)
	}
	if t.natsCmd != nil {
		c.nats, _ = procCPU(t.natsCmd.Process.Pid)
	}
	return c
}

// IngestCPU is the CPU the separate ingest (or floor server) process has
// used since it started.
func (t *IngestTarget) IngestCPU() (time.Duration, error) {
	if t.ingestCmd == nil {
		return 0, errors.New("bench: ingest runs in this process")
	}
	return procCPU(t.ingestCmd.Process.Pid)
}

// Stop shuts ingest and JetStream down and removes a temporary store.
func (t *IngestTarget) Stop() {
	if t.client != nil {
		t.client.close()
	}
	if t.stop != nil {
		t.stop()
		<-t.done
	}
	terminate(t.ingestCmd)
	if t.ingestLog != nil {
		t.ingestLog.Close()
	}
	if t.ns != nil {
		t.ns.Shutdown()
		t.ns.WaitForShutdown()
	}
	terminate(t.natsCmd)
	if t.opts.Dir == "" && strings.Contains(t.dir, "mlc-bench-") {
		_ = os.RemoveAll(t.dir)
	}
}

// terminate stops a process started by the bench: SIGTERM, then SIGKILL
// after 15 s.
func terminate(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// BuildBinaries builds services/ingest and nats-server (from the
// nats-server module this workspace requires) into dir, for targets that
// run them as their own processes. It needs the Go toolchain and must run
// inside the ml-connector workspace.
func BuildBinaries(ctx context.Context, dir string) (ingestBin, natsBin string, err error) {
	ingestBin, natsBin = filepath.Join(dir, "ingest"), filepath.Join(dir, "nats-server")
	for _, b := range []struct{ out, pkg string }{
		{ingestBin, "github.com/ml-connector/ml-connector/services/ingest"},
		{natsBin, "github.com/nats-io/nats-server/v2"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.out, b.pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("go build %s (run inside the ml-connector checkout, or pass the binaries): %w\n%s", b.pkg, err, out)
		}
	}
	return ingestBin, natsBin, nil
}
