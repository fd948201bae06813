package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/freeport"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
	"github.com/ml-connector/ml-connector/pkg/stream"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// WriterOptions configure one writer run against the NetSuite simulator.
type WriterOptions struct {
	// Concurrency is the account's limit C (the simulator answers 429 past
	// it); the writer's budget is set to all of it (no headroom).
	Concurrency int
	// Latency is the simulator's answer time L for every API call.
	Latency time.Duration
	// Orders to write; 0 sizes the run to about Duration at full speed.
	Orders   int
	Duration time.Duration
	// Buyers share the orders (the first order of each creates its
	// customer); 0 means Orders/3.
	Buyers int
	// Invoices adds a transform invoice per order.
	Invoices bool
	// Location makes the simulator send Location on PUT upserts, which
	// saves the read-back (NetSuite does not promise it).
	Location bool
	// TokenLifetime of the simulator's access tokens (default 1 h).
	TokenLifetime time.Duration
	// Binary runs this netsuite-writer binary as a separate process
	// instead of the writer in this process.
	Binary string
	// Progress is called with the number of settled commands.
	Progress func(settled int)
}

// WriterResult is one run. Ideal is C/L, the most calls per second the
// account allows; Efficiency is how much of it the writer used.
type WriterResult struct {
	Name          string        `json:"name"`
	Concurrency   int           `json:"concurrency"`
	Latency       time.Duration `json:"latency_ns"`
	Mode          string        `json:"mode"` // in-process or process
	Orders        int           `json:"orders"`
	Commands      int           `json:"commands"`
	Failed        int           `json:"failed"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	RecordsPerSec float64       `json:"records_per_sec"` // sales orders per second
	Ideal         float64       `json:"ideal_calls_per_sec"`
	// RecordsRatio is RecordsPerSec ÷ (C/L): 1 would need one NetSuite call
	// per order.
	RecordsRatio float64 `json:"records_ratio"`
	// Efficiency is NetSuite calls per second ÷ (C/L): how full the
	// writer kept the account's concurrency.
	Efficiency    float64 `json:"efficiency"`
	CallsPerOrder float64 `json:"calls_per_order"`
	Share429      float64 `json:"share_429"`
	TokenRequests int     `json:"token_requests"`
	TokensPerHour float64 `json:"tokens_per_hour"`
	// TokensExpected is one exchange per renewal (the client renews a
	// minute before expiry, at half-life for short tokens).
	TokensExpected float64 `json:"tokens_per_hour_expected"`
	PeakOffered    int     `json:"peak_offered"`
	// AvgInFlight is the writer's NetSuite requests in flight, sampled
	// from its /metrics every 100 ms during the run.
	AvgInFlight float64 `json:"avg_in_flight"`
}

// RunWriter starts JetStream, the NetSuite simulator and the writer,
// publishes the whole backlog of commands, and measures from the first
// settled command to the last.
func RunWriter(ctx context.Context, o WriterOptions) (WriterResult, error) {
	if o.Concurrency < 1 || o.Latency <= 0 {
		return WriterResult{}, errors.New("bench writer: concurrency and latency must be positive")
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = time.Hour
	}
	perOrder := 3.5 // calls per order in steady state, to size the run
	if o.Invoices {
		perOrder += 3
	}
	if o.Orders <= 0 {
		d := o.Duration
		if d <= 0 {
			d = 30 * time.Second
		}
		o.Orders = max(20, int(float64(o.Concurrency)/o.Latency.Seconds()*d.Seconds()/perOrder))
	}
	if o.Buyers <= 0 {
		o.Buyers = max(1, o.Orders/3)
	}
	res := WriterResult{Concurrency: o.Concurrency, Latency: o.Latency, Orders: o.Orders, Mode: "in-process",
		Name: fmt.Sprintf("C=%d L=%v", o.Concurrency, o.Latency)}
	if o.Binary != "" {
		res.Mode = "process"
	}
	r, err := startWriterRig(ctx, o)
	if err != nil {
		return res, err
	}
	defer r.stop()

	cmds := writerCommands(o.Orders, o.Buyers, o.Invoices)
	res.Commands = len(cmds)
	pub := stream.NewPublisher(r.js)
	for _, c := range cmds {
		if _, err := pub.Publish(ctx, c); err != nil {
			return res, err
		}
	}
	outcomes, err := r.js.OrderedConsumer(ctx, event.StreamSync, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"sync.>"}})
	if err != nil {
		return res, err
	}
	if err := r.startWriter(ctx); err != nil {
		return res, err
	}
	var first, last time.Time
	var at0 netsuitesim.Stats
	sampler := r.sampleInFlight()
	for settled := 0; settled < len(cmds); {
		m, err := outcomes.Next(jetstream.FetchMaxWait(time.Minute))
		if err != nil {
			return res, fmt.Errorf("waiting for outcomes (%d of %d settled): %w", settled, len(cmds), err)
		}
		out, _, err := event.DecodeSyncOutcome(m.Data())
		if err != nil {
			return res, err
		}
		if !out.OK() {
			res.Failed++
		}
		settled++
		if settled == 1 {
			first, at0 = time.Now(), r.sim.Stats()
		}
		last = time.Now()
		if o.Progress != nil {
			o.Progress(settled)
		}
	}
	st := r.sim.Stats()
	res.AvgInFlight = sampler()
	res.Elapsed = last.Sub(first)
	secs := res.Elapsed.Seconds()
	calls := st.Requests - at0.Requests
	res.Ideal = float64(o.Concurrency) / o.Latency.Seconds()
	if secs > 0 {
		res.RecordsPerSec = float64(o.Orders-1) / secs
		res.RecordsRatio = res.RecordsPerSec / res.Ideal
		res.Efficiency = float64(calls) / secs / res.Ideal
		res.TokensPerHour = float64(st.TokenRequests-at0.TokenRequests) / secs * 3600
	}
	res.CallsPerOrder = float64(st.Requests) / float64(o.Orders)
	if st.Requests > 0 {
		res.Share429 = float64(st.Throttled) / float64(st.Requests)
	}
	res.TokenRequests = st.TokenRequests
	renew := o.TokenLifetime - min(time.Minute, o.TokenLifetime/2)
	res.TokensExpected = float64(time.Hour) / float64(renew)
	res.PeakOffered = st.PeakOffered
	return res, nil
}

// writerRig is JetStream, the simulator with a stored connection, and the
// environment the writer runs with.
type writerRig struct {
	dir     string
	ns      *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	sim     *netsuitesim.Server
	simSrv  *http.Server
	environ map[string]string
	binary  string
	cancel  context.CancelFunc
	done    chan error
	proc    *exec.Cmd
}

func startWriterRig(ctx context.Context, o WriterOptions) (*writerRig, error) {
	r := &writerRig{binary: o.Binary}
	var err error
	if r.dir, err = os.MkdirTemp("", "mlc-bench-writer-"); err != nil {
		return nil, err
	}
	if r.ns, err = devstack.StartNATS(r.dir, -1, false); err != nil {
		r.stop()
		return nil, err
	}
	if r.nc, r.js, err = stream.Connect(r.ns.ClientURL(), "", "mlc-bench", zerolog.Nop()); err != nil {
		r.stop()
		return nil, err
	}
	if _, err := stream.ApplyDeclared(ctx, r.js, writer.ServiceSpec().Uses()); err != nil {
		r.stop()
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		r.stop()
		return nil, err
	}
	r.sim = netsuitesim.New(netsuitesim.Config{AccountID: devstack.SimAccountID, ClientID: devstack.SimClientID,
		ConcurrencyLimit: o.Concurrency, Latency: o.Latency, UpsertSetsLocation: o.Location, TokenLifetime: o.TokenLifetime,
		MaxRequestLog: 1000})
	r.sim.RegisterCertificate(devstack.SimCertificateID, &key.PublicKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.stop()
		return nil, err
	}
	r.simSrv = &http.Server{Handler: r.sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.simSrv.Serve(ln) }()
	simURL := "http://" + ln.Addr().String()
	r.sim.SetBaseURL(simURL)

	master, err := secrets.GenerateKey()
	if err != nil {
		r.stop()
		return nil, err
	}
	keys, err := secrets.NewKeyring(master)
	if err != nil {
		r.stop()
		return nil, err
	}
	credKV, err := r.js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		r.stop()
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		r.stop()
		return nil, err
	}
	conn := connection.NetSuite{AccountID: devstack.SimAccountID, ClientID: devstack.SimClientID, CertificateID: devstack.SimCertificateID,
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), BaseURL: simURL}
	if err := connection.SaveNetSuite(ctx, secrets.NewStore(credKV, keys), conn); err != nil {
		r.stop()
		return nil, err
	}
	setKV, err := r.js.KeyValue(ctx, event.BucketSettings)
	if err != nil {
		r.stop()
		return nil, err
	}
	set := writer.NewSettings()
	set.Concurrency = o.Concurrency
	if err := settings.New(setKV).Save(ctx, writer.SettingsKey, set); err != nil {
		r.stop()
		return nil, err
	}
	addr, err := freeport.Addr()
	if err != nil {
		r.stop()
		return nil, err
	}
	r.environ = map[string]string{
		"MLC_NATS_URL": r.ns.ClientURL(), secrets.EnvMasterKey: base64.StdEncoding.EncodeToString(master),
		"MLC_HTTP_ADDR": addr, "MLC_LOG_LEVEL": "error", "MLC_SHUTDOWN_TIMEOUT": "10s",
	}
	return r, nil
}

// sampleInFlight polls the writer's limiter gauge until the returned func
// is called, which gives the average.
func (r *writerRig) sampleInFlight() func() float64 {
	stop := make(chan struct{})
	avg := make(chan float64, 1)
	go func() {
		var sum float64
		var n int
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		client := &http.Client{Timeout: time.Second}
		for {
			select {
			case <-stop:
				if n == 0 {
					avg <- 0
				} else {
					avg <- sum / float64(n)
				}
				return
			case <-t.C:
				if v, ok := gauge(client, "http://"+r.environ["MLC_HTTP_ADDR"]+"/metrics", "mlc_writer_limiter_in_flight"); ok {
					sum += v
					n++
				}
			}
		}
	}()
	return func() float64 { close(stop); return <-avg }
}

// gauge reads one unlabelled series from a Prometheus text page.
func gauge(client *http.Client, url, name string) (float64, bool) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// startWriter runs the writer in this process or as its own process.
func (r *writerRig) startWriter(ctx context.Context) error {
	if r.binary != "" {
		r.proc = exec.Command(r.binary)
		for k, v := range r.environ {
			r.proc.Env = append(r.proc.Env, k+"="+v)
		}
		r.proc.Stdout, r.proc.Stderr = io.Discard, os.Stderr
		return r.proc.Start()
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- writer.Run(wctx, r.environ, os.Stderr) }()
	return nil
}

func (r *writerRig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	if r.proc != nil && r.proc.Process != nil {
		_ = r.proc.Process.Signal(syscall.SIGTERM)
		_ = r.proc.Wait()
	}
	if r.simSrv != nil {
		_ = r.simSrv.Close()
	}
	if r.nc != nil {
		r.nc.Close()
	}
	if r.ns != nil {
		r.ns.Shutdown()
		r.ns.WaitForShutdown()
	}
	if r.dir != "" {
		_ = os.RemoveAll(r.dir)
	}
}

// writerCommands are sales orders (and invoices) as transform publishes
// them, from buyers who order several times.
func writerCommands(orders, buyers int, invoices bool) []event.NetSuiteCommand {
	items := []struct{ id, rate, name string }{
		{"101", "32.00", "Helios Tee M Red"}, {"102", "32.00", "Helios Tee L Red"}, {"104", "45.00", "Overnight Duffle"},
		{"105", "34.00", "Joust Duffle Bag"}, {"106", "14.00", "Sprite Yoga Strap 6 foot"}, {"108", "7.00", "Affirm Water Bottle"},
	}
	var out []event.NetSuiteCommand
	for n := 0; n < orders; n++ {
		inc := fmt.Sprintf("%09d", 200000000+n)
		b := n % buyers
		email := fmt.Sprintf("bench-buyer-%d@example.com", b)
		key := event.BuyerKey(int64(b+1), email)
		custExt, _ := event.CustomerExternalID("bench", key)
		custRec, _ := json.Marshal(map[string]any{"isPerson": true, "firstName": "Bench", "lastName": fmt.Sprint(b),
			"email": email, "subsidiary": map[string]string{"id": "1"}})
		ref := &event.CustomerRef{BuyerKey: key, ExternalID: custExt, Email: email, Record: custRec}
		var lines []map[string]any
		for i := 0; i <= n%3; i++ {
			it := items[(n+i)%len(items)]
			lines = append(lines, map[string]any{"item": map[string]string{"id": it.id}, "quantity": 1 + i, "rate": json.Number(it.rate), "description": it.name})
		}
		soRec, _ := json.Marshal(map[string]any{
			"subsidiary": map[string]string{"id": "1"}, "currency": map[string]string{"id": "1"}, "tranDate": "2024-05-01",
			"otherRefNum": inc, "memo": "Commerce order " + inc, "orderStatus": "B", "location": map[string]string{"id": "1"},
			"shippingCost": json.Number("5.00"), "item": map[string]any{"items": lines},
			"shippingAddress": map[string]any{"addressee": "Bench Buyer", "addr1": "1 Main St", "city": "Austin", "state": "TX",
				"zip": "78701", "country": map[string]string{"id": "US"}},
		})
		so, _ := event.SalesOrderExternalID("bench", inc)
		out = append(out, event.NetSuiteCommand{Kind: event.KindSalesOrder, Store: "bench", SourceID: inc, ExternalID: so,
			Record: soRec, Customer: ref})
		if invoices {
			inv, _ := event.InvoiceExternalID("bench", inc)
			invRec, _ := json.Marshal(map[string]any{"tranDate": "2024-05-02", "memo": "Commerce invoice " + inc})
			out = append(out, event.NetSuiteCommand{Kind: event.KindInvoice, Store: "bench", SourceID: inc, ExternalID: inv,
				Record: invRec, Customer: ref, Invoice: &event.InvoiceRef{Mode: event.InvoiceFromOrder, SalesOrderExternalID: so, OrderIncrementID: inc}})
		}
	}
	return out
}
