package netsuite

import (
	"context"
	"testing"
	"time"
)

func TestConcurrencyFor(t *testing.T) {
	tests := []struct {
		setting int
		gl      *GovernanceLimits
		want    int
	}{
		{0, nil, 2},
		{4, nil, 4},
		{10, &GovernanceLimits{AccountConcurrencyLimit: 5}, 4},
		{10, &GovernanceLimits{AccountConcurrencyLimit: 15, IntegrationConcurrencyLimit: 3}, 3},
		{2, &GovernanceLimits{AccountConcurrencyLimit: 20, IntegrationConcurrencyLimit: 8}, 2},
		{5, &GovernanceLimits{AccountConcurrencyLimit: 1}, 1},
	}
	for _, tt := range tests {
		if got := ConcurrencyFor(tt.setting, tt.gl); got != tt.want {
			t.Errorf("ConcurrencyFor(%d, %+v) = %d, want %d", tt.setting, tt.gl, got, tt.want)
		}
	}
}

func TestLimiterAIMD(t *testing.T) {
	l := NewLimiter(8)
	l.Throttled()
	l.Throttled()
	if l.Limit() != 2 {
		t.Fatalf("after two 429s limit = %d, want 2", l.Limit())
	}
	l.Throttled()
	l.Throttled()
	if l.Limit() != 1 {
		t.Fatalf("limit must stop at 1, got %d", l.Limit())
	}
	for i := 0; i < 19; i++ {
		l.Succeeded()
	}
	if l.Limit() != 1 {
		t.Fatal("grew too fast")
	}
	l.Succeeded()
	if l.Limit() != 2 {
		t.Fatalf("limit = %d after 20 successes, want 2", l.Limit())
	}
	for i := 0; i < 10000; i++ {
		l.Succeeded()
	}
	if l.Limit() != 8 {
		t.Fatalf("limit = %d, must recover to max 8", l.Limit())
	}
	if !l.throttledWithin(time.Minute) {
		t.Error("recent 429 not remembered")
	}
}

func TestLimiterBlocksAndHandsOver(t *testing.T) {
	l := NewLimiter(1)
	ctx := context.Background()
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.Acquire(short); err == nil {
		t.Fatal("second Acquire on a full limiter must wait until ctx ends")
	}
	// Every wait below has a deadline: a limiter that never queues the
	// waiter or never hands the slot over fails the test instead of hanging it.
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	got := make(chan error, 1)
	go func() { got <- l.Acquire(wctx) }()
	for l.waitersLen() == 0 {
		if wctx.Err() != nil {
			t.Fatal("the second Acquire never queued")
		}
		time.Sleep(time.Millisecond)
	}
	l.Release()
	if err := <-got; err != nil {
		t.Fatalf("the queued Acquire did not get the released slot: %v", err)
	}
	if l.InFlight() != 1 {
		t.Fatalf("in flight = %d", l.InFlight())
	}
	l.Release()
	l.SetMax(3)
	for i := 0; i < 3; i++ {
		if err := l.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if l.InFlight() != 3 {
		t.Fatalf("in flight = %d after SetMax(3)", l.InFlight())
	}
}

func (l *Limiter) waitersLen() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.waiters)
}
