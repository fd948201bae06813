package inventory_test

import (
	"math"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func TestParseMemoryLimit(t *testing.T) {
	for in, want := range map[string]inventory.MemoryLimit{
		"150MiB": 150 << 20, " 150MiB ": 150 << 20, "1GiB": 1 << 30, "2TiB": 2 << 40, "65536KiB": 64 << 20,
		"33554432": 32 << 20, "33554432B": 32 << 20, "off": 0, "OFF": 0, "0": 0, "0MiB": 0,
	} {
		got, err := inventory.ParseMemoryLimit(in)
		if err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "150", "150MB", "150mib", "1.5GiB", "-150MiB", "+150MiB", "MiB", "150 MiB", "1KiB",
		"9999999999999TiB", "99999999999999999999", "150MiBMiB", "١٥٠MiB"} {
		if got, err := inventory.ParseMemoryLimit(in); err == nil {
			t.Errorf("%q: accepted as %d", in, got)
		} else if !strings.Contains(err.Error(), "150MiB") {
			t.Errorf("%q: error %q does not show the expected form", in, err)
		}
	}
}

func FuzzParseMemoryLimit(f *testing.F) {
	for _, s := range []string{"150MiB", "off", "0", "150", "1.5GiB", "9999999999999TiB", "33554432B", " 2GiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := inventory.ParseMemoryLimit(s)
		if err != nil {
			return
		}
		if m < 0 || m > 0 && m < 32<<20 {
			t.Fatalf("%q: %d accepted", s, m)
		}
		// What String writes parses back to the same limit.
		if back, err := inventory.ParseMemoryLimit(m.String()); err != nil || back != m {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, m, m.String(), back, err)
		}
	})
}

func TestMemoryLimitConfig(t *testing.T) {
	cfg, err := service.LoadConfig[inventory.Config](map[string]string{"MLC_NATS_URL": "nats://127.0.0.1:4222"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MemoryLimit != 150<<20 || service.Describe(cfg)["MLC_INVENTORY_MEMORY_LIMIT"] != "150MiB" {
		t.Errorf("default %v (described %q), want 150MiB", cfg.MemoryLimit, service.Describe(cfg)["MLC_INVENTORY_MEMORY_LIMIT"])
	}
	// Set but empty is the default too (as for every variable of the env library).
	if cfg, err := service.LoadConfig[inventory.Config](map[string]string{"MLC_NATS_URL": "nats://127.0.0.1:4222",
		"MLC_INVENTORY_MEMORY_LIMIT": ""}); err != nil || cfg.MemoryLimit != 150<<20 {
		t.Errorf("empty: %v, %v", cfg.MemoryLimit, err)
	}
	if _, err := service.LoadConfig[inventory.Config](map[string]string{"MLC_NATS_URL": "nats://127.0.0.1:4222",
		"MLC_INVENTORY_MEMORY_LIMIT": "150"}); err == nil || !strings.Contains(err.Error(), "MLC_INVENTORY_MEMORY_LIMIT") {
		t.Errorf("150 (no unit): %v, want an error naming the variable", err)
	}
}

// The limit is process-wide: these tests change it and put it back.
func TestApplyMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	if before != math.MaxInt64 {
		t.Skipf("this test process already has a memory limit (%d)", before)
	}
	got, restore := inventory.ApplyMemoryLimit(150 << 20)
	if got != 150<<20 || debug.SetMemoryLimit(-1) != 150<<20 {
		t.Fatalf("in force %d, runtime %d; want 150MiB", got, debug.SetMemoryLimit(-1))
	}
	// Another limit in force (an embedding program's) is kept.
	if again, restore2 := inventory.ApplyMemoryLimit(64 << 20); again != 150<<20 || debug.SetMemoryLimit(-1) != 150<<20 {
		t.Fatalf("a second apply changed the limit: %d", again)
	} else {
		restore2()
	}
	restore()
	if now := debug.SetMemoryLimit(-1); now != before {
		t.Fatalf("restore left %d", now)
	}
	if got, restore := inventory.ApplyMemoryLimit(0); got != math.MaxInt64 || debug.SetMemoryLimit(-1) != before {
		t.Fatalf("off set a limit: %d", got)
	} else {
		restore()
	}
	// GOMEMLIMIT, even "off", is the operator's choice.
	t.Setenv("GOMEMLIMIT", "off")
	if got, restore := inventory.ApplyMemoryLimit(150 << 20); got != math.MaxInt64 || debug.SetMemoryLimit(-1) != before {
		t.Fatalf("with GOMEMLIMIT=off the service set %d", got)
	} else {
		restore()
	}
}
