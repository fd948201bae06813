package main

import (
	"strings"
	"testing"
)

// `mlc dev --demo-orders N --exit-when-done` is the front door's proof: it
// places N orders through the whole one-process system and exits 0 only
// once every promise holds.
func TestDevDemoExitsWhenDone(t *testing.T) {
	out, err := mlc(t, "", "dev", "--dir", t.TempDir(), "--nats-port", "-1", "--http-port", "0",
		"--commerce-sim-addr", "127.0.0.1:0", "--netsuite-sim-addr", "127.0.0.1:0", "--no-clickhouse",
		"--demo-orders", "6", "--demo-rate", "10", "--exit-when-done", "--demo-drain", "45s")
	if err != nil {
		t.Fatalf("mlc dev --demo-orders 6 --exit-when-done: %v\n%s", err, out)
	}
	for _, want := range []string{"demo: placed 6 orders", "orders 6 placed", "every order is in NetSuite once with its invoice and customer", "stopped."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDevDemoFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--exit-when-done"},
		{"--demo-orders", "-1"},
		{"--demo", "--demo-rate", "0"},
		{"--demo", "--no-sims"},
	} {
		if _, err := mlc(t, "", append([]string{"dev", "--dir", t.TempDir(), "--nats-port", "-1"}, args...)...); err == nil {
			t.Errorf("mlc dev %v: no error", args)
		}
	}
}
