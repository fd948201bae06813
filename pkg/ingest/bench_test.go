package ingest_test

import (
	"context"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// BenchmarkWebhook is ingest's per-request path without the sockets of
// HTTP: a signed order webhook (2-4 KB, from the Commerce simulator)
// through the fasthttp handler — verify, decode, publish to a real JetStream and
// wait for its ack, answer — one request at a time. Every request is a
// distinct order (a duplicate would be cheaper). MLC_BENCH_CACHE keeps the
// signed webhooks across runs. Run:
//
//	go test -run x -bench Webhook -benchtime 3000x ./ingest/
func BenchmarkWebhook(b *testing.B) {
	for _, mode := range []string{commerce.VerifyRSA, commerce.VerifyHMAC} {
		b.Run(mode, func(b *testing.B) {
			pool, err := bench.OpenRequestPool(context.Background(), mode, os.Getenv("MLC_BENCH_CACHE"))
			if err != nil {
				b.Fatal(err)
			}
			ns := natstest.RunServer(b)
			_, js := natstest.Connect(b, ns)
			if _, err := stream.ApplyDeclared(context.Background(), js, ingest.ServiceSpec().Uses()); err != nil {
				b.Fatal(err)
			}
			stores := ingest.NewStores(nil)
			conn := connection.Commerce{Store: "bench", BaseURL: "http://127.0.0.1:9/rest/bench", Auth: "oauth1", Flavour: "paas",
				OAuth1:  connection.OAuth1{ConsumerKey: "k", ConsumerSecret: "s", AccessToken: "t", AccessTokenSecret: "ts"},
				Webhook: pool.Webhook()}
			if err := stores.Set(conn); err != nil {
				b.Fatal(err)
			}
			m := ingest.NewMetrics(prometheus.NewRegistry())
			handle := ingest.NewWebhooks(stores, stream.NewPublisher(js), m, zerolog.Nop(), 1<<20, 5e9, "bench").Handler(http.NotFoundHandler())
			reqs, err := pool.Take(b.N, nil)
			if err != nil {
				b.Fatal(err)
			}
			var req fasthttp.Request
			var c fasthttp.RequestCtx
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				r := reqs[i]
				req.Reset()
				req.Header.SetMethod(http.MethodPost)
				req.SetRequestURI("/webhooks/commerce/order-placed")
				req.Header.SetContentType("application/json")
				req.Header.Set(ingest.HeaderStore, "bench")
				req.Header.Set(commerce.HeaderWebhookSignature, r.Signature)
				req.Header.Set(ingest.HeaderRequestID, r.RequestID)
				req.SetBody(r.Body)
				c.Init(&req, nil, nil)
				handle(&c)
				if c.Response.StatusCode() != http.StatusOK {
					b.Fatalf("%d: %s", c.Response.StatusCode(), c.Response.Body())
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			st, err := js.Stream(context.Background(), event.StreamCommerce)
			if err != nil {
				b.Fatal(err)
			}
			info, err := st.Info(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if info.State.Msgs != uint64(b.N) {
				b.Fatalf("COMMERCE holds %d messages for %d webhooks", info.State.Msgs, b.N)
			}
		})
	}
}

// cpuTime is the CPU this process has used (handler, NATS client and the
// embedded server): on a shared machine a steadier measure than time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
