package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A short pipeline run writes every order and reports latencies in order.
func TestBenchPipeline(t *testing.T) {
	out, err := mlc(t, "", "bench", "pipeline", "--rate", "40", "--orders", "8", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var res []pipelineResult
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	r := res[0]
	if r.Orders != 8 || r.Written != 8 || r.Failed != 0 || r.Achieved <= 0 || r.P50MS <= 0 || r.P50MS > r.P99MS || r.P99MS > r.MaxMS {
		t.Fatalf("result %+v", r)
	}
	if _, err := mlc(t, "", "bench", "pipeline", "--rate", "0"); err == nil {
		t.Error("--rate 0 accepted")
	}
}
