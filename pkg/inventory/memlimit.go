package inventory

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryLimit is the publisher's soft memory limit (MLC_INVENTORY_MEMORY_LIMIT),
// written as GOMEMLIMIT is: a whole number of bytes with an optional B,
// KiB, MiB, GiB or TiB suffix; "off" (or 0) sets none.
//
// Why: a run holds the snapshot and item map copies (about 100 MB live at
// 100,000 SKUs) and the catalogue it read; without a limit Go's collector
// lets the heap reach twice the live set (about 250 MB), with one it
// collects sooner at the same run time (README, inventory-publisher).
type MemoryLimit int64

// minMemoryLimit catches a limit given in the wrong unit ("150" meant as
// MiB), which would make the collector run all the time.
const minMemoryLimit = 32 << 20

var errMemoryLimit = errors.New("want a size such as 150MiB (units B, KiB, MiB, GiB, TiB, as GOMEMLIMIT), or off")

// UnmarshalText parses the variable's value.
func (m *MemoryLimit) UnmarshalText(b []byte) error {
	v, err := ParseMemoryLimit(string(b))
	if err != nil {
		return fmt.Errorf("MLC_INVENTORY_MEMORY_LIMIT: %w", err)
	}
	*m = v
	return nil
}

// String is the limit as it would be written ("150MiB", "off").
func (m MemoryLimit) String() string {
	if m <= 0 || m == math.MaxInt64 {
		return "off"
	}
	for _, u := range memoryUnits {
		if u.size > 1 && int64(m)%u.size == 0 {
			return strconv.FormatInt(int64(m)/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(m), 10) + "B"
}

// memoryUnits, largest first.
var memoryUnits = []struct {
	name string
	size int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseMemoryLimit parses a MemoryLimit; "off", "0" and "0MiB" are none.
func ParseMemoryLimit(s string) (MemoryLimit, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, "off") {
		return 0, nil
	}
	num, size := t, int64(1)
	for _, u := range memoryUnits {
		if n, ok := strings.CutSuffix(t, u.name); ok {
			num, size = n, u.size
			break
		}
	}
	if num == "" || strings.IndexFunc(num, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("memory limit %q: %w", s, errMemoryLimit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/size {
		return 0, fmt.Errorf("memory limit %q is too large: %w", s, errMemoryLimit)
	}
	if n == 0 {
		return 0, nil
	}
	if n*size < minMemoryLimit {
		return 0, fmt.Errorf("memory limit %q is under %s (a unit missing?): %w", s, MemoryLimit(minMemoryLimit), errMemoryLimit)
	}
	return MemoryLimit(n * size), nil
}

// ApplyMemoryLimit sets limit as the process's soft memory limit unless
// limit is off or the operator chose one already: the process has
// GOMEMLIMIT (read from the process's environment, as the Go runtime does;
// "off" included) or an embedding program set a limit. It returns the
// limit in force and a func that puts the previous one back.
//
// The limit is the whole process's: a process shared with other services
// (`mlc dev`, a test) should set MLC_INVENTORY_MEMORY_LIMIT=off.
func ApplyMemoryLimit(limit MemoryLimit) (inForce int64, restore func()) {
	current := debug.SetMemoryLimit(-1)
	if limit <= 0 || os.Getenv("GOMEMLIMIT") != "" || current != math.MaxInt64 {
		return current, func() {}
	}
	prev := debug.SetMemoryLimit(int64(limit))
	return int64(limit), func() { debug.SetMemoryLimit(prev) }
}
