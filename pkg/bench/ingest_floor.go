package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Floor servers: the least a webhook receiver does, run under the same
// load as ingest so that the table shows what ingest itself adds. Each
// reads the body and answers {"op":"success"}; the "+publish" ones first
// publish the body to COMMERCE and wait for JetStream's ack, as ingest does.
const (
	FloorNetHTTP         = "net/http"
	FloorNetHTTPPublish  = "net/http+publish"
	FloorFastHTTP        = "fasthttp"
	FloorFastHTTPPublish = "fasthttp+publish"
)

// Floors are the floor servers, in the order the bench runs them.
func Floors() []string {
	return []string{FloorNetHTTP, FloorNetHTTPPublish, FloorFastHTTP, FloorFastHTTPPublish}
}

// ErrUnknownFloor is RunFloor's answer to a kind not in Floors.
var ErrUnknownFloor = errors.New("bench: unknown floor server")

// RunFloor serves the floor server kind on environ's MLC_HTTP_ADDR until
// ctx is done, publishing (the "+publish" kinds) to MLC_NATS_URL. It is
// what a target with TargetOptions.Floor runs as its own process (`mlc
// bench ingest-floor`); /readyz answers 200 once it serves.
func RunFloor(ctx context.Context, kind string, environ map[string]string) error {
	var publish func(ctx context.Context, body []byte) error
	switch kind {
	case FloorNetHTTP, FloorFastHTTP:
	case FloorNetHTTPPublish, FloorFastHTTPPublish:
		nc, err := nats.Connect(environ["MLC_NATS_URL"], nats.Name("mlc-bench-floor"))
		if err != nil {
			return fmt.Errorf("floor %s: %w", kind, err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		// Distinct message ids, as ingest's (JetStream deduplicates on them).
		prefix, subject := uuid.NewString()+"-", event.CommerceSubject(event.OrderPlaced, benchStore)
		var seq atomic.Int64
		publish = func(ctx context.Context, body []byte) error {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := js.Publish(ctx, subject, body, jetstream.WithMsgID(prefix+strconv.FormatInt(seq.Add(1), 10)))
			return err
		}
	default:
		return fmt.Errorf("%w %q: want one of %v", ErrUnknownFloor, kind, Floors())
	}
	ln, err := net.Listen("tcp", environ["MLC_HTTP_ADDR"])
	if err != nil {
		return err
	}
	if kind == FloorFastHTTP || kind == FloorFastHTTPPublish {
		return serveFloorFast(ctx, ln, publish)
	}
	return serveFloorNetHTTP(ctx, ln, publish)
}

func serveFloorNetHTTP(ctx context.Context, ln net.Listener, publish func(context.Context, []byte) error) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{}`) })
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		var err error
		if r.ContentLength > 0 && r.ContentLength <= 1<<20 {
			body = make([]byte, r.ContentLength)
			_, err = io.ReadFull(r.Body, body)
		} else {
			body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20))
		}
		if err == nil && publish != nil {
			err = publish(r.Context(), body)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"op":"success"}`)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return serveUntil(ctx, func() error { return srv.Serve(ln) }, srv.Shutdown)
}

// serveUntil runs serve until it fails or ctx ends, then shuts down within
// 5 s.
func serveUntil(ctx context.Context, serve func() error, shutdown func(context.Context) error) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return shutdown(sctx)
}

func serveFloorFast(ctx context.Context, ln net.Listener, publish func(context.Context, []byte) error) error {
	srv := &fasthttp.Server{NoDefaultServerHeader: true, ReadTimeout: 30 * time.Second, Handler: func(c *fasthttp.RequestCtx) {
		if string(c.Path()) == "/readyz" {
			c.SetBodyString(`{}`)
			return
		}
		if !c.IsPost() {
			c.SetStatusCode(fasthttp.StatusMethodNotAllowed)
			return
		}
		if publish != nil {
			// The request's body is fasthttp's buffer: publishing copies it
			// into the NATS connection's before Publish returns.
			if err := publish(context.Background(), c.PostBody()); err != nil {
				c.Error(err.Error(), fasthttp.StatusServiceUnavailable)
				return
			}
		}
		c.SetContentType("application/json")
		c.SetBodyString(`{"op":"success"}`)
	}}
	return serveUntil(ctx, func() error { return srv.Serve(ln) }, srv.ShutdownWithContext)
}
