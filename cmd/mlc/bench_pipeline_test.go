package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/bench"
)

// A short report run builds the system, writes every order and leaves the
// Markdown and JSON report where --report says.
func TestBenchPipeline(t *testing.T) {
	dir := t.TempDir()
	// Built here, outside the command's one-minute test deadline: a cold
	// build of six binaries on a busy machine takes longer (the command's
	// own build is the same call).
	bin := filepath.Join(dir, "bin")
	if err := bench.BuildSystem(t.Context(), bin); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.md")
	out, err := mlc(t, "", "bench", "pipeline", "--rate", "20", "--min-orders", "10", "--step", "500ms", "--netsuite-latency", "0",
		"--ingest=false", "--clickhouse", "off", "--bin", bin, "--report", report)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	md, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "### Targets") || !strings.Contains(out, "report: "+report) {
		t.Errorf("report:\n%s\noutput:\n%s", md, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Throughput) != 1 || rep.Throughput[0].Orders != 10 || rep.Throughput[0].Written != 10 || rep.Throughput[0].Duplicates != 0 {
		t.Fatalf("throughput %+v", rep.Throughput)
	}
	for _, bad := range [][]string{{"--rate", "0"}, {"--rate", "50,20"}, {"--report", filepath.Join(dir, "r.txt")}, {"--sync", "sometimes"}, {"--report", filepath.Join(dir, "no-such-dir", "r.md")}} {
		if _, err := mlc(t, "", append([]string{"bench", "pipeline", "--ingest=false", "--clickhouse", "off"}, bad...)...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
