package netsuitesim

import (
	"net/http"
	"sync"
	"time"
)

// governor counts in-flight API calls against the account's concurrency limit.
type governor struct {
	mu       sync.Mutex
	inFlight int
	peak     int
	// offered counts every authenticated call from arrival to answer,
	// refused ones included: what the clients tried to run at once.
	offered     int
	peakOffered int
}

func (g *governor) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.peak = g.inFlight
	g.peakOffered = g.offered
}

// arrive counts a call until the returned func is called, whether or not
// the limit admits it.
func (g *governor) arrive() func() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.offered++
	g.peakOffered = max(g.peakOffered, g.offered)
	return func() {
		g.mu.Lock()
		g.offered--
		g.mu.Unlock()
	}
}

// acquire admits a call unless limit > 0 and limit calls are already in
// flight. The returned func releases the slot.
func (g *governor) acquire(limit int) (func(), bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if limit > 0 && g.inFlight >= limit {
		return nil, false
	}
	g.inFlight++
	if g.inFlight > g.peak {
		g.peak = g.inFlight
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.inFlight--
			g.mu.Unlock()
		})
	}, true
}

func (g *governor) peaks() (admitted, offered int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak, g.peakOffered
}

// throttled answers a call over the concurrency limit: the exact 429 body of
// ref §10 without Retry-After, or (Quirk401) 401 INVALID_LOGIN after a delay.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.Throttled++
	s.mu.Unlock()
	if s.cfg.Quirk401 {
		if s.cfg.Quirk401Delay > 0 {
			t := time.NewTimer(s.cfg.Quirk401Delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
		writeAPIError(w, errInvalidLogin())
		return
	}
	w.Header().Set("Content-Type", mediaError)
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(concurrencyBodyExact))
}

// sleepLatency waits Latency plus jitter; false when the client went away.
func (s *Server) sleepLatency(r *http.Request) bool {
	d := s.cfg.Latency
	if s.cfg.LatencyJitter > 0 {
		s.mu.Lock()
		d += time.Duration(s.rng.Int63n(int64(s.cfg.LatencyJitter) + 1))
		s.mu.Unlock()
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
