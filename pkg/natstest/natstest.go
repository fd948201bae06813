// Package natstest starts real, in-process JetStream servers for tests:
// one per test, on a random port, with storage in t.TempDir().
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RunServer starts a JetStream-enabled nats-server on a random loopback port
// and shuts it down when the test ends.
func RunServer(t testing.TB) *server.Server {
	t.Helper()
	return RunServerWithDir(t, t.TempDir())
}

// RunServerWithDir is RunServer with an explicit store directory.
func RunServerWithDir(t testing.TB, dir string) *server.Server {
	t.Helper()
	return RunServerOn(t, dir, -1)
}

// RunServerOn starts a server on a given port and store directory, so a
// test can stop a server and start it again where clients reconnect to it.
func RunServerOn(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("natstest: server not ready in 10s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect returns a connection and a JetStream handle to s, closed at test end.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}
