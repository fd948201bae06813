package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (ingest) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123 456 789\n"
	d, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if d != 3250*time.Millisecond {
		t.Fatalf("utime 250 + stime 75 ticks = %v, want 3.25s", d)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 u s 0"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// This process has used some CPU by now.
	if d, err := procCPU(os.Getpid()); err != nil || d <= 0 {
		t.Fatalf("own CPU %v, %v", d, err)
	}
}

func TestSearchMax(t *testing.T) {
	for _, c := range []struct {
		name              string
		start, limit, cut float64
		want              func(got float64) bool
	}{
		{"bisects to the cut", 500, 20000, 3100, func(g float64) bool { return g <= 3100 && g >= 3100/1.05 }},
		{"start fails", 500, 20000, 400, func(g float64) bool { return g == 0 }},
		{"limit holds", 500, 3000, 1e9, func(g float64) bool { return g == 3000 }},
		{"cut between start and first double", 500, 20000, 700, func(g float64) bool { return g <= 700 && g >= 700/1.05 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var tried []float64
			got := searchMax(c.start, c.limit, 0.05, func(r float64) bool { tried = append(tried, r); return r <= c.cut })
			if !c.want(got) {
				t.Fatalf("got %v after %v", got, tried)
			}
			if len(tried) > 20 {
				t.Fatalf("%d steps: %v", len(tried), tried)
			}
		})
	}
}

// An answer other than 200 {"op":"success"} is an error, not a latency:
// a 503, a 200 with another body, a connection that closes.
func TestWireClientCountsOnlySuccess(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch n.Add(1) {
		case 1:
			_, _ = io.WriteString(w, `{"op":"success"}`)
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"event store unavailable"}`)
		case 3:
			_, _ = io.WriteString(w, `{"op":"exception"}`)
		default:
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := newWireClient(addr, 4)
	defer c.close()
	wire := Request{Body: []byte(`{}`), Signature: "x", RequestID: "r"}.wire(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.do(ctx, wire); err != nil {
		t.Fatalf("success: %v", err)
	}
	for i, want := range []string{"status 503", "status 200", ""} {
		err := c.do(ctx, wire)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("answer %d: %v, want an error with %q", i+2, err, want)
		}
	}
}
