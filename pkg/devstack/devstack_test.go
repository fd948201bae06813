package devstack_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/fleet"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/transform"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestStackComesUpReadyAndStopsCleanly(t *testing.T) {
	var logs syncBuffer
	st, err := devstack.Start(context.Background(), devstack.Options{Dir: t.TempDir(), NATSPort: -1, LogOut: &logs})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Services) != len(fleet.All()) {
		t.Fatalf("%d services running, want %d", len(st.Services), len(fleet.All()))
	}
	for _, r := range st.Services {
		resp, err := http.Get("http://" + r.Addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || r.Status != devstack.StatusReady {
			t.Errorf("%s /readyz = %d, status %q", r.Name, resp.StatusCode, r.Status)
		}
	}
	// The simulators are wired in: an order placed in the Commerce simulator
	// reaches ingest as a signed webhook and is stored on COMMERCE.
	if st.Sims == nil {
		t.Fatal("no simulators running")
	}
	o, err := st.Sims.Commerce.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Delivery == nil || !o.Delivery.Success {
		t.Fatalf("webhook to ingest failed: %+v", o.Delivery)
	}
	_, js := natstest.Connect(t, st.NATS)
	cs, err := js.Stream(context.Background(), "COMMERCE")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.GetLastMsgForSubject(context.Background(), "commerce.order.placed.default"); err != nil {
		t.Fatalf("order not on COMMERCE: %v", err)
	}
	// The stored NetSuite connection works against the NetSuite simulator.
	ns, err := st.Sims.NetSuiteConnection().Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Token(context.Background()); err != nil {
		t.Fatalf("token from the NetSuite simulator: %v", err)
	}
	if err := st.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, r := range st.Services {
		if _, err := http.Get("http://" + r.Addr + "/healthz"); err == nil {
			t.Errorf("%s still serving after Stop", r.Name)
		}
	}
}

// Without simulators and before `mlc connect`, the stack still comes up;
// ingest says why it is not ready instead of failing the whole stack.
func TestStackWithoutConnectionsReportsWhy(t *testing.T) {
	st, err := devstack.Start(context.Background(), devstack.Options{Dir: t.TempDir(), NATSPort: -1, NoSims: true, NoClickHouse: true, LogOut: &syncBuffer{}, ReadyWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop()
	for _, r := range st.Services {
		switch {
		case r.Name == ingest.Name && r.Status != "not ready: commerce: no Commerce store connected (run mlc connect commerce)",
			r.Name == transform.Name && r.Status != devstack.StatusReady,
			!strings.HasPrefix(r.Status, "not ready: ") && r.Status != devstack.StatusReady:
			t.Errorf("%s: status %q", r.Name, r.Status)
		}
	}
}
