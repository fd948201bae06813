// Package retry is exponential backoff with full jitter
// (delay = random(0, min(cap, base·2^attempt))), as NetSuite and AWS advise:
// it spreads retries of many callers so they do not hit a throttled API in
// lock-step. Backoff is a pure function; Do runs a call under a Policy. A
// caller that prefers to hand the delay to JetStream (NakWithDelay) uses
// Policy.Delay and never sleeps in-process.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy says how often and how long to retry. The zero value is usable:
// missing fields take the defaults of DefaultPolicy.
type Policy struct {
	Base        time.Duration // first delay ceiling; default 1 s
	Cap         time.Duration // largest delay ceiling; default 60 s
	MaxAttempts int           // calls in total, including the first; default 5
	// Budget bounds the total time spent waiting between attempts; a delay
	// that would exceed it ends the retries. Zero means no budget.
	Budget time.Duration
	// Retryable says whether an error is worth another attempt. Nil retries
	// every error except context cancellation and Permanent errors.
	Retryable func(error) bool
	// Rand returns a float in [0,1); nil uses math/rand/v2. Tests inject it.
	Rand func() float64
}

// DefaultPolicy is base 1 s, cap 60 s, 5 attempts, no budget.
func DefaultPolicy() Policy {
	return Policy{Base: time.Second, Cap: time.Minute, MaxAttempts: 5}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.Cap <= 0 {
		p.Cap = d.Cap
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Backoff is the full-jitter delay before retry number attempt (0 for the
// first retry): random(0, min(cap, base·2^attempt)). rnd returns [0,1).
func Backoff(attempt int, base, cap time.Duration, rnd func() float64) time.Duration {
	return time.Duration(rnd() * float64(Ceiling(attempt, base, cap)))
}

// Ceiling is min(cap, base·2^attempt) without overflow.
func Ceiling(attempt int, base, cap time.Duration) time.Duration {
	if attempt < 0 {
		attempt = 0
	}
	c := base
	for i := 0; i < attempt && c < cap; i++ {
		c *= 2
	}
	if c > cap || c <= 0 {
		c = cap
	}
	return c
}

// Delay is the policy's delay before retry number attempt (0-based), raised
// to the server's Retry-After when err carries one (see RetryAfter).
func (p Policy) Delay(attempt int, err error) time.Duration {
	p = p.withDefaults()
	d := Backoff(attempt, p.Base, p.Cap, p.Rand)
	if ra, ok := RetryAfter(err); ok && ra > d {
		d = ra
	}
	return d
}

// ShouldRetry reports whether err is worth another attempt under p.
func (p Policy) ShouldRetry(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var perm *permanentError
	if errors.As(err, &perm) {
		return false
	}
	if p.Retryable != nil {
		return p.Retryable(err)
	}
	return true
}

// Do calls fn until it succeeds, returns an error that is not retryable,
// the attempts or the budget run out, or ctx ends. fn receives the attempt
// number, starting at 0. The last error is returned, wrapped with the count.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context, attempt int) error) error {
	p = p.withDefaults()
	var waited time.Duration
	for attempt := 0; ; attempt++ {
		err := fn(ctx, attempt)
		if err == nil {
			return nil
		}
		if !p.ShouldRetry(err) {
			return err
		}
		if attempt+1 >= p.MaxAttempts {
			return fmt.Errorf("retry: gave up after %d attempts: %w", attempt+1, err)
		}
		d := p.Delay(attempt, err)
		if p.Budget > 0 && waited+d > p.Budget {
			return fmt.Errorf("retry: budget %s spent after %d attempts: %w", p.Budget, attempt+1, err)
		}
		waited += d
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("retry: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Permanent marks err as not worth retrying whatever the policy says.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// RetryAfter finds a server-requested minimum delay in err's chain: any
// error with a method RetryAfter() time.Duration returning a positive value.
func RetryAfter(err error) (time.Duration, bool) {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		if d := ra.RetryAfter(); d > 0 {
			return d, true
		}
	}
	return 0, false
}

// ParseRetryAfter reads an HTTP Retry-After value: delta-seconds or an HTTP
// date (RFC 9110 §10.2.3). A date in the past is a zero wait; anything else
// unreadable reports false.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}

// maxRetryAfter bounds a parsed Retry-After so a hostile value cannot
// overflow a Duration; callers apply their own, smaller, limits.
const maxRetryAfter = 24 * time.Hour
