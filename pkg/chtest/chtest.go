// Package chtest gives tests a real ClickHouse server: Debian's
// clickhouse-server started on free ports with a throwaway data directory
// and config, stopped when the test ends. When the package is missing it is
// installed with apt-get (as root; scripts/test.sh does the same up front).
//
// Without a server binary the test fails under CI=true and is skipped, with
// the reason, on a developer machine. MLC_CLICKHOUSE_DSN points tests at an
// already running server instead (host:port of the native protocol).
package chtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ml-connector/ml-connector/pkg/freeport"
)

// Server is a running ClickHouse reachable over the native protocol.
type Server struct {
	Addr string // host:port, native protocol

	// Set for a server this package started (Stop and Restart need them).
	bin, dir string
	exited   chan struct{}
	proc     *os.Process
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
	bin := findBinary()
	if bin == "" {
		if err := install(); err != nil {
			unavailable(t, "clickhouse-server is not installed and could not be: "+err.Error())
		}
		if bin = findBinary(); bin == "" {
			unavailable(t, "clickhouse-server is still missing after installing the Debian package")
		}
	}
	dir := t.TempDir()
	tcp, http := freePort(t), freePort(t)
	if err := writeConfig(dir, tcp, http); err != nil {
		t.Fatalf("chtest: config: %v", err)
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp)), bin: bin, dir: dir}
	s.launch(t)
	t.Cleanup(s.stop)
	return s
}

// launch starts the server process on s's config and waits until it answers.
func (s *Server) launch(t testing.TB) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(s.bin, "--config-file="+filepath.Join(s.dir, "config.xml"))
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		unavailable(t, fmt.Sprintf("start %s: %v", s.bin, err))
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.proc, s.exited = cmd.Process, exited
	if err := waitReady(s.Addr, exited, 60*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "server.err.log"))
		s.stop()
		unavailable(t, fmt.Sprintf("clickhouse-server did not become ready: %v\n%s\n%s", err, out.String(), log))
	}
}

// stop shuts the process down (SIGINT, then SIGKILL after 10 s).
func (s *Server) stop() {
	if s.proc == nil {
		return
	}
	_ = s.proc.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.proc.Kill()
		<-s.exited
	}
	s.proc = nil
}

// Stop kills the server (SIGKILL, as a crash would; a graceful stop waits
// for idle client connections), keeping its data, to test what happens
// while ClickHouse is away; Restart brings it back on the same address.
// A server from MLC_CLICKHOUSE_DSN cannot be stopped: the test is skipped.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.bin == "" {
		t.Skip("chtest: cannot stop the server of MLC_CLICKHOUSE_DSN")
	}
	if s.proc != nil {
		_ = s.proc.Kill()
		<-s.exited
		s.proc = nil
	}
}

// Restart starts a stopped server again with the same data and address.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.bin == "" {
		t.Skip("chtest: cannot restart the server of MLC_CLICKHOUSE_DSN")
	}
	if s.proc == nil {
		s.launch(t)
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
	if findBinary() != "" { // another test binary installed it while we waited
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

func findBinary() string {
	for _, name := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return p
}

func waitReady(addr string, exited <-chan struct{}, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("server process exited")
		default:
		}
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: time.Second})
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err = conn.Ping(ctx)
			cancel()
			conn.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer on %s within %v: %w", addr, within, last)
}

// writeConfig writes a minimal server config. ClickHouse 18.16 wants the
// <yandex> root element; current releases still accept it.
func writeConfig(dir string, tcp, http int) error {
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/server.log</log>
        <errorlog>%[1]s/server.err.log</errorlog>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <user_files_path>%[1]s/user_files/</user_files_path>
    <format_schema_path>%[1]s/format_schemas/</format_schema_path>
    <users_config>%[1]s/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
</yandex>
`, dir, tcp, http)
	users := `<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(config), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "users.xml"), []byte(users), 0o644)
}
