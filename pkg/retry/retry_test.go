package retry

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	top := func() float64 { return 0.999999 }
	zero := func() float64 { return 0 }
	half := func() float64 { return 0.5 }
	tests := []struct {
		attempt int
		rnd     func() float64
		min     time.Duration
		max     time.Duration
	}{
		{0, top, 999 * time.Millisecond, time.Second},
		{1, top, 1999 * time.Millisecond, 2 * time.Second},
		{3, half, 4 * time.Second, 4 * time.Second},
		{5, top, 31 * time.Second, 32 * time.Second},
		{6, top, 59 * time.Second, 60 * time.Second}, // capped
		{500, top, 59 * time.Second, 60 * time.Second},
		{-3, top, 999 * time.Millisecond, time.Second},
		{4, zero, 0, 0},
	}
	for _, tt := range tests {
		got := Backoff(tt.attempt, time.Second, time.Minute, tt.rnd)
		if got < tt.min || got > tt.max {
			t.Errorf("Backoff(%d) = %v, want [%v, %v]", tt.attempt, got, tt.min, tt.max)
		}
	}
}

type waitErr struct{ d time.Duration }

func (e waitErr) Error() string             { return "wait" }
func (e waitErr) RetryAfter() time.Duration { return e.d }

func TestDelayHonoursRetryAfter(t *testing.T) {
	p := Policy{Rand: func() float64 { return 0 }}
	if d := p.Delay(0, waitErr{5 * time.Second}); d != 5*time.Second {
		t.Errorf("Delay = %v, want the Retry-After 5s", d)
	}
	p.Rand = func() float64 { return 0.999 }
	if d := p.Delay(8, waitErr{time.Second}); d < 59*time.Second {
		t.Errorf("Retry-After is a minimum, not a maximum: %v", d)
	}
}

var errTransient = errors.New("transient")

func TestDo(t *testing.T) {
	fast := Policy{Base: time.Microsecond, Cap: time.Millisecond, MaxAttempts: 4}
	ctx := context.Background()

	calls := 0
	err := Do(ctx, fast, func(context.Context, int) error {
		calls++
		if calls < 3 {
			return errTransient
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("succeeds on third: err %v calls %d", err, calls)
	}

	calls = 0
	err = Do(ctx, fast, func(context.Context, int) error { calls++; return errTransient })
	if !errors.Is(err, errTransient) || calls != 4 {
		t.Fatalf("max attempts: err %v calls %d", err, calls)
	}

	calls = 0
	err = Do(ctx, fast, func(context.Context, int) error { calls++; return Permanent(errTransient) })
	if !errors.Is(err, errTransient) || calls != 1 {
		t.Fatalf("permanent: err %v calls %d", err, calls)
	}

	calls = 0
	classified := fast
	classified.Retryable = func(err error) bool { return !errors.Is(err, errTransient) }
	_ = Do(ctx, classified, func(context.Context, int) error { calls++; return errTransient })
	if calls != 1 {
		t.Fatalf("Retryable=false must stop: calls %d", calls)
	}

	calls = 0
	budget := Policy{Base: time.Hour, Cap: time.Hour, MaxAttempts: 10, Budget: time.Millisecond, Rand: func() float64 { return 0.5 }}
	err = Do(ctx, budget, func(context.Context, int) error { calls++; return errTransient })
	if calls != 1 || !errors.Is(err, errTransient) {
		t.Fatalf("budget: err %v calls %d", err, calls)
	}

	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	slow := Policy{Base: time.Hour, Cap: time.Hour, MaxAttempts: 10, Rand: func() float64 { return 0.5 }}
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	err = Do(cctx, slow, func(context.Context, int) error { calls++; return errTransient })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errTransient) || calls != 1 {
		t.Fatalf("cancel: err %v calls %d", err, calls)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"3": 3 * time.Second, "0": 0, " 12 ": 12 * time.Second,
		now.Add(7 * time.Second).Format(http.TimeFormat): 7 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):      0,
		"99999999999999999999":                           0, // overflows int64: unreadable
		"9999999999":                                     24 * time.Hour,
	} {
		got, ok := ParseRetryAfter(in, now)
		if in == "99999999999999999999" {
			if ok {
				t.Errorf("%q accepted as %v", in, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "soon", "-1", "1.5"} {
		if _, ok := ParseRetryAfter(in, now); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := ParseRetryAfter(s, time.Unix(0, 0)); ok && (d < 0 || d > 24*time.Hour) {
			t.Fatalf("%q -> %v", s, d)
		}
	})
}
