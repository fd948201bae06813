package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/ml-connector/ml-connector/pkg/freeport"
)

// ClickHouse is a clickhouse-server process the dev stack runs for the
// audit (Debian's package; its data is kept under the stack's directory).
type ClickHouse struct {
	Addr string // host:port of the native protocol: MLC_CLICKHOUSE_DSN

	proc   *os.Process
	exited chan struct{}
}

// FindClickHouse is the clickhouse-server binary on this machine, or "".
func FindClickHouse() string {
	for _, name := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// StartClickHouse runs bin on free loopback ports with its data in dir and
// returns once it answers.
func StartClickHouse(bin, dir string) (*ClickHouse, error) {
	tcp, err := freePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := writeClickHouseConfig(dir, tcp, httpPort); err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	log, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	c := &ClickHouse{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp)), proc: cmd.Process, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	if err := c.waitReady(60 * time.Second); err != nil {
		c.Stop()
		return nil, fmt.Errorf("clickhouse-server (logs in %s): %w", dir, err)
	}
	return c, nil
}

func (c *ClickHouse) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			return errors.New("the server exited")
		default:
		}
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{c.Addr}, DialTimeout: time.Second})
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
	return fmt.Errorf("no answer on %s within %v: %w", c.Addr, within, last)
}

// Stop shuts the server down (SIGTERM, SIGKILL after 10 s).
func (c *ClickHouse) Stop() {
	_ = c.proc.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.proc.Kill()
		<-c.exited
	}
}

func freePort() (int, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(addr)
	return strconv.Atoi(port)
}

// writeClickHouseConfig writes a minimal config (the <yandex> root that
// ClickHouse 18.16 wants and current releases still accept).
func writeClickHouseConfig(dir string, tcp, http int) error {
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
