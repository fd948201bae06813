package devstack_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/fleet"
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
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s /readyz = %d", r.Name, resp.StatusCode)
		}
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
