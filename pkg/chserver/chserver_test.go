package chserver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/chserver"
	"github.com/ml-connector/ml-connector/pkg/chtest"
)

// A binary that is not a ClickHouse server is refused with the reason, and
// its directory keeps the log.
func TestStartRefusesWhatIsNotAServer(t *testing.T) {
	dir := t.TempDir()
	_, err := chserver.Start("/bin/false", dir)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("err %v, want the server process exited", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.xml")); err != nil {
		t.Errorf("config not kept for the operator: %v", err)
	}
	if _, err := chserver.Start(filepath.Join(dir, "no-such-binary"), t.TempDir()); err == nil {
		t.Error("a missing binary started")
	}
}

// Kill keeps the data and Restart brings the server back on its address
// (pkg/chtest's Stop and Restart are these).
func TestKillAndRestartKeepAddressAndData(t *testing.T) {
	ch := chtest.Start(t)
	conn := ch.Open(t)
	ctx := t.Context()
	if err := conn.Exec(ctx, "CREATE TABLE default.kept (n UInt8) ENGINE = TinyLog"); err != nil {
		t.Fatal(err)
	}
	ch.Stop(t)
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("a killed server answered")
	}
	ch.Restart(t)
	var n uint64
	if err := ch.Open(t).QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'default' AND name = 'kept'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after restart: %v, %d tables", err, n)
	}
}
