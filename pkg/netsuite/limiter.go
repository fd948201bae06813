package netsuite

import (
	"context"
	"sync"
	"time"
)

// DefaultConcurrency is the in-process limit when nothing better is known:
// a Standard account allows 5 concurrent requests shared with every other
// integration, so we take few.
const DefaultConcurrency = 2

// ConcurrencyFor is the limiter size of ref §11.1: min(setting,
// integrationConcurrencyLimit if known, account limit - 1), at least 1;
// DefaultConcurrency when the setting is 0 and nothing is known.
func ConcurrencyFor(setting int, gl *GovernanceLimits) int {
	n := setting
	if n <= 0 {
		n = DefaultConcurrency
	}
	if gl != nil {
		if gl.IntegrationConcurrencyLimit > 0 && gl.IntegrationConcurrencyLimit < n {
			n = gl.IntegrationConcurrencyLimit
		}
		if gl.AccountConcurrencyLimit > 0 && gl.AccountConcurrencyLimit-1 < n {
			n = gl.AccountConcurrencyLimit - 1
		}
	}
	if n < 1 {
		n = 1
	}
	return n
}

// Limiter is an AIMD semaphore for requests to one NetSuite account: a 429
// halves the limit, sustained success adds one slot back, never above max.
// Share one Limiter between all clients of the same account in a process.
type Limiter struct {
	mu       sync.Mutex
	max      int
	limit    int
	inFlight int
	waiters  []chan struct{}
	// successes since the last change; the limit grows after growAfter·limit.
	successes int
	growAfter int
	now       func() time.Time
	throttled time.Time // last 429 or slow answer, for the 401 quirk
}

// NewLimiter returns a limiter allowing max concurrent requests (at least 1).
func NewLimiter(max int) *Limiter {
	if max < 1 {
		max = 1
	}
	return &Limiter{max: max, limit: max, growAfter: 20, now: time.Now}
}

// Acquire waits for a slot or for ctx to end.
func (l *Limiter) Acquire(ctx context.Context) error {
	l.mu.Lock()
	if l.inFlight < l.limit && len(l.waiters) == 0 {
		l.inFlight++
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		for i, w := range l.waiters {
			if w == ch {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				l.mu.Unlock()
				return ctx.Err()
			}
		}
		l.mu.Unlock()
		// Granted while we gave up: hand the slot on.
		l.Release()
		return ctx.Err()
	}
}

// Release returns a slot.
func (l *Limiter) Release() {
	l.mu.Lock()
	l.inFlight--
	l.wakeLocked()
	l.mu.Unlock()
}

func (l *Limiter) wakeLocked() {
	for l.inFlight < l.limit && len(l.waiters) > 0 {
		ch := l.waiters[0]
		l.waiters = l.waiters[1:]
		l.inFlight++
		close(ch)
	}
}

// Throttled records a 429: multiplicative decrease, never below 1.
func (l *Limiter) Throttled() {
	l.mu.Lock()
	l.limit = max(1, l.limit/2)
	l.successes = 0
	l.throttled = l.now()
	l.mu.Unlock()
}

// Slow records an answer slow enough to suggest the account is saturated
// (it feeds the 401-under-load rule without shrinking the limit).
func (l *Limiter) Slow() {
	l.mu.Lock()
	l.throttled = l.now()
	l.mu.Unlock()
}

// Succeeded records a success: additive increase after a run of them.
func (l *Limiter) Succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit >= l.max {
		return
	}
	l.successes++
	if l.successes >= l.growAfter*l.limit {
		l.limit++
		l.successes = 0
		l.wakeLocked()
	}
}

// SetMax resets the ceiling and the current limit, e.g. after reading
// governanceLimits or a settings change.
func (l *Limiter) SetMax(n int) {
	l.mu.Lock()
	l.max = max(1, n)
	l.limit = l.max
	l.successes = 0
	l.wakeLocked()
	l.mu.Unlock()
}

// Limit is the current number of slots.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// InFlight is the number of slots in use.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// throttledWithin reports a 429 or slow answer in the last d.
func (l *Limiter) throttledWithin(d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.throttled.IsZero() && l.now().Sub(l.throttled) < d
}
