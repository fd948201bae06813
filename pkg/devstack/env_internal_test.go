package devstack

import "testing"

// The services share the stack's process, so inventory-publisher must not
// set its soft memory limit for all of them, unless the caller asks.
func TestBaseEnvLeavesMemoryLimitOff(t *testing.T) {
	env, err := baseEnv(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if env["MLC_INVENTORY_MEMORY_LIMIT"] != "off" {
		t.Errorf("MLC_INVENTORY_MEMORY_LIMIT %q, want off", env["MLC_INVENTORY_MEMORY_LIMIT"])
	}
	env, err = baseEnv(Options{Dir: t.TempDir(), Env: map[string]string{"MLC_INVENTORY_MEMORY_LIMIT": "64MiB"}})
	if err != nil {
		t.Fatal(err)
	}
	if env["MLC_INVENTORY_MEMORY_LIMIT"] != "64MiB" {
		t.Errorf("the caller's MLC_INVENTORY_MEMORY_LIMIT lost: %q", env["MLC_INVENTORY_MEMORY_LIMIT"])
	}
}
