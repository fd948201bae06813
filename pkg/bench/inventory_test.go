package bench

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/service"
)

// publisherChild is this test binary as the benchmark's publisher process.
func publisherChild() *exec.Cmd {
	return exec.Command(os.Args[0], "-test.run=^TestPublisherChild$", "-test.count=1")
}

// TestPublisherChild is the publisher process of the tests below (it
// skips in a normal run).
func TestPublisherChild(t *testing.T) {
	if os.Getenv("MLC_BENCH_PUBLISHER_CHILD") != "1" {
		t.Skip("the inventory benchmark's publisher process")
	}
	if err := ServePublisher(context.Background(), os.Stdin, os.Stdout, service.Environ()); err != nil {
		t.Fatal(err)
	}
}

// The rig works end to end on a small catalogue read over many SuiteQL
// pages: the first run publishes every SKU, each round exactly the changed
// tenth, written in batches; the publisher reports its memory.
func TestRunInventory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var said []string
	res, err := RunInventory(ctx, InventoryOptions{Items: 400, Latency: time.Millisecond, Every: 10, Publisher: publisherChild(),
		Env: []string{"MLC_BENCH_PUBLISHER_CHILD=1", "MLC_INVENTORY_PAGE_SIZE=50"}}, 2, func(s string) { said = append(said, s) })
	if err != nil {
		t.Fatal(err)
	}
	if res.First.Changed < 400 || res.First.CommerceRequests < 400/20 || res.First.Pages < 3*400/50 {
		t.Fatalf("first run %+v: every SKU published and written, over many pages", res.First)
	}
	if len(res.Rounds) != 2 {
		t.Fatalf("%d rounds", len(res.Rounds))
	}
	for i, r := range res.Rounds {
		if r.Changed != 40 || r.Pages != res.First.Pages || r.NetSuiteRequests < int(r.Pages) || r.Written < r.Run {
			t.Errorf("round %d %+v: want 40 changed over the same pages", i+1, r)
		}
		// 40 prices in requests of 20 (a batch split in two may need one more).
		if r.CommerceRequests < 2 || r.CommerceRequests > 4 {
			t.Errorf("round %d: %d Commerce requests for 40 prices", i+1, r.CommerceRequests)
		}
	}
	if p := res.Publisher; p.MemoryLimit != "150MiB" || p.RoundsRSS <= 0 || p.RoundsHeap <= 0 || p.FirstRSS <= 0 {
		t.Errorf("publisher stats %+v", p)
	}
	if len(said) != 4 || !strings.Contains(said[0], "400-item") {
		t.Errorf("progress %q", said)
	}
}

// A publisher process that dies is an error, not a hang; the rig needs one.
func TestInventoryPublisherMissing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := StartInventory(ctx, InventoryOptions{Items: 10}); err == nil {
		t.Fatal("no publisher command accepted")
	}
	_, err := RunInventory(ctx, InventoryOptions{Items: 10, Latency: time.Millisecond, Publisher: exec.Command("false")}, 1, nil)
	if err == nil || !strings.Contains(err.Error(), "publisher process") {
		t.Fatalf("a publisher that exits at once: %v", err)
	}
}
