package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Runtime is what a running service has: logger, NATS, metrics and the
// HTTP server. Build it with Start, run workers with Serve.
type Runtime struct {
	Name string
	Base Base
	Log  zerolog.Logger
	NC   *nats.Conn
	JS   jetstream.JetStream
	HTTP *HTTPServer
}

// Spec says what a service needs from JetStream: the streams (with their
// consumers) and KV buckets it creates-or-updates at start and whose
// presence makes it ready.
type Spec struct {
	Name    string
	Streams []string
	Buckets []string
}

// Uses is the part of streams/ the service applies at start.
func (s Spec) Uses() *stream.Selection {
	return &stream.Selection{Streams: s.Streams, Buckets: s.Buckets}
}

// Start connects to NATS, applies the service's part of streams/ (unless
// base.Provision is off: then the "streams" readiness check waits for
// `mlc streams apply`), opens the HTTP server and registers readiness
// checks. logOut is where JSON logs go (os.Stdout in production).
func Start(ctx context.Context, spec Spec, base Base, logOut io.Writer) (*Runtime, error) {
	if err := base.Validate(); err != nil {
		return nil, err
	}
	log := NewLogger(logOut, spec.Name, base.LogLevel)
	sec, err := stream.Security{NKeyFile: base.NATSNKeyFile, CAFile: base.NATSTLSCA, CertFile: base.NATSTLSCert, KeyFile: base.NATSTLSKey}.Options()
	if err != nil {
		return nil, err
	}
	nc, js, err := stream.Connect(base.NATSURL, base.NATSCreds, "mlc-"+spec.Name, log, sec...)
	if err != nil {
		return nil, err
	}
	if base.Provision {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := stream.ApplyDeclared(actx, js, spec.Uses())
		if err != nil {
			nc.Close()
			return nil, err
		}
		for _, r := range res {
			if r.Action != stream.Unchanged {
				log.Info().Str("kind", r.Kind).Str("name", r.Name).Str("action", string(r.Action)).Msg("jetstream provisioned")
			}
		}
	}
	h, err := NewHTTPServer(base.HTTPAddr, WithMaxHeaderBytes(base.HTTPMaxHeaderBytes), WithMaxConns(base.HTTPMaxConns))
	if err != nil {
		nc.Close()
		return nil, err
	}
	rt := &Runtime{Name: spec.Name, Base: base, Log: log, NC: nc, JS: js, HTTP: h}
	h.AddCheck("nats", func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("nats %s", nc.Status())
		}
		return nil
	})
	h.AddCheck("streams", func(ctx context.Context) error {
		for _, s := range spec.Streams {
			if _, err := js.Stream(ctx, s); err != nil {
				return fmt.Errorf("stream %s: %w", s, err)
			}
		}
		for _, b := range spec.Buckets {
			if _, err := js.KeyValue(ctx, b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		return nil
	})
	return rt, nil
}

// Worker is a long-running part of a service (a consume loop, a poller). It
// must return soon after ctx is done, having finished in-flight work.
type Worker func(ctx context.Context) error

// Serve runs the HTTP server and the workers until ctx is done or one of
// them fails, then shuts down: the HTTP server stops taking requests,
// workers drain, the NATS connection drains; all within ShutdownTimeout.
func (rt *Runtime) Serve(ctx context.Context, workers ...Worker) error {
	rt.Log.Info().Str("http", rt.HTTP.Addr()).Msg("started")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return rt.HTTP.Serve(gctx, rt.Base.ShutdownTimeout) })
	for _, w := range workers {
		g.Go(func() error { return w(gctx) })
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		rt.Log.Info().Dur("grace", rt.Base.ShutdownTimeout).Msg("shutting down")
		select {
		case err = <-done:
		case <-time.After(rt.Base.ShutdownTimeout):
			err = fmt.Errorf("%s: shutdown did not finish within %v", rt.Name, rt.Base.ShutdownTimeout)
		}
	}
	rt.close()
	if err != nil && !errors.Is(err, context.Canceled) {
		rt.Log.Error().Err(err).Msg("stopped with error")
		return err
	}
	rt.Log.Info().Msg("stopped")
	return nil
}

func (rt *Runtime) close() {
	closed := make(chan struct{})
	rt.NC.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := rt.NC.Drain(); err != nil {
		rt.NC.Close()
		return
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		rt.NC.Close()
	}
}

// Main is what a service binary's main calls: it runs run with a context
// cancelled by SIGINT or SIGTERM and exits non-zero when run fails.
//
// MLC_CPU_PROFILE names a file for a CPU profile of the whole run, written
// at shutdown (`mlc bench pipeline --profile` uses it to show where each
// service spends its time under load).
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile, err := startCPUProfile(os.Getenv("MLC_CPU_PROFILE"))
	if err == nil {
		err = run(ctx)
		stopProfile()
	}
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// startCPUProfile profiles the process into path until the returned stop is
// called; "" profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("MLC_CPU_PROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("MLC_CPU_PROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
