// Package chtest gives tests a real ClickHouse server: Debian's
// clickhouse-server started on free ports with a throwaway data directory
// and config (pkg/chserver), stopped when the test ends. When the package is
// missing it is installed with apt-get (as root; scripts/test.sh does the
// same up front).
//
// Without a server binary the test fails under CI=true and is skipped, with
// the reason, on a developer machine. MLC_CLICKHOUSE_DSN points tests at an
// already running server instead (host:port of the native protocol).
package chtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ml-connector/ml-connector/pkg/chserver"
)

// Server is a running ClickHouse reachable over the native protocol.
type Server struct {
	Addr string // host:port, native protocol

	srv *chserver.Server // nil for MLC_CLICKHOUSE_DSN's server
}

// Open returns a connection to the server's default database, closed when
// the test ends.
func (s *Server) Open(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: []string{s.Addr},
		Auth: clickhouse.Auth{Database: "default", Username: "default"},
	})
	if err != nil {
		t.Fatalf("chtest: open %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Start returns a ClickHouse server for this test.
func Start(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv("MLC_CLICKHOUSE_DSN"); addr != "" {
		return &Server{Addr: addr}
	}
	bin := chserver.Find()
	if bin == "" {
		if err := install(); err != nil {
			unavailable(t, "clickhouse-server is not installed and could not be: "+err.Error())
		}
		if bin = chserver.Find(); bin == "" {
			unavailable(t, "clickhouse-server is still missing after installing the Debian package")
		}
	}
	srv, err := chserver.Start(bin, t.TempDir())
	if err != nil {
		unavailable(t, err.Error())
	}
	t.Cleanup(srv.Stop)
	return &Server{Addr: srv.Addr, srv: srv}
}

// Stop kills the server (SIGKILL, as a crash would), keeping its data, to
// test what happens while ClickHouse is away; Restart brings it back on the
// same address. A server from MLC_CLICKHOUSE_DSN cannot be stopped: the
// test is skipped.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.srv == nil {
		t.Skip("chtest: cannot stop the server of MLC_CLICKHOUSE_DSN")
	}
	s.srv.Kill()
}

// Restart starts a stopped server again with the same data and address.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.srv == nil {
		t.Skip("chtest: cannot restart the server of MLC_CLICKHOUSE_DSN")
	}
	if err := s.srv.Restart(); err != nil {
		unavailable(t, err.Error())
	}
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("chtest: ClickHouse is required in CI: %s", why)
	}
	t.Skipf("chtest: skipping, ClickHouse unavailable: %s", why)
}

// install puts Debian's clickhouse-server on the machine when we are root
// and have apt-get. A lock file keeps test binaries running in parallel
// from racing each other into dpkg.
func install() error {
	if os.Geteuid() != 0 {
		return errors.New("not root, cannot apt-get install clickhouse-server")
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil {
		return errors.New("no apt-get on this machine")
	}
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "mlc-chtest-install.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if chserver.Find() != "" { // another test binary installed it while we waited
		return nil
	}
	run := func(args ...string) error {
		cmd := exec.Command(apt, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), err, lastLines(out, 5))
		}
		return nil
	}
	if err := run("install", "-y", "-qq", "clickhouse-server"); err != nil {
		if uerr := run("update", "-qq"); uerr != nil {
			return uerr
		}
		return run("install", "-y", "-qq", "clickhouse-server")
	}
	return nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
