package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/robfig/cron/v3"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
)

// lastRunKey is the mlc_checkpoints key of a store's last scheduled run.
// The schedule is computed from it, so a restart neither skips a run nor
// repeats one, and every replica agrees on what is due.
func lastRunKey(store string) string { return "inventory.lastrun." + itemmap.Key(store) }

// Scheduler runs each store on its schedule. Every replica runs one; the
// run lease lets one of them run at a time, and the last-run checkpoint,
// read again under the lease, makes a due run happen once.
type Scheduler struct {
	p        *Publisher
	maxSleep time.Duration
	retry    map[string]time.Time // store -> not before, after a failed run
	failures map[string]int
	sched    map[string]cron.Schedule // store -> its schedule when last checked
	// ran is told after every scheduled run (tests wait on it).
	ran func(*Summary, error)
}

// NewScheduler schedules p's runs. maxSleep bounds how long a settings
// change (a new schedule) can go unnoticed.
func NewScheduler(p *Publisher, maxSleep time.Duration) *Scheduler {
	return &Scheduler{p: p, maxSleep: maxSleep, retry: map[string]time.Time{}, failures: map[string]int{}, sched: map[string]cron.Schedule{}}
}

// Run checks the schedules until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		wake, err := s.tick(ctx)
		if err != nil && ctx.Err() == nil {
			s.p.log.Warn().Err(err).Msg("inventory schedule")
		}
		d := time.Until(wake)
		if d > s.maxSleep {
			d = s.maxSleep
		}
		if d < 50*time.Millisecond {
			d = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d):
		}
	}
}

// due lists the stores whose next scheduled time has come, and when the
// next one comes otherwise.
func (s *Scheduler) due(ctx context.Context, now time.Time) ([]string, time.Time, error) {
	cfg, err := s.p.loadSettings(ctx)
	if err != nil {
		return nil, now.Add(s.maxSleep), err
	}
	conns, err := connection.ListCommerce(ctx, s.p.creds)
	if err != nil {
		return nil, now.Add(s.maxSleep), err
	}
	wake := now.Add(s.maxSleep)
	var due []string
	for _, c := range conns {
		sc := cfg.For(c.Store)
		sch, err := ParseSchedule(sc.Schedule)
		if sc.Disabled || sch == nil || err != nil {
			continue
		}
		s.sched[c.Store] = sch
		last, err := s.lastRun(ctx, c.Store)
		if err != nil {
			return nil, wake, err
		}
		next := now // never run: now
		if !last.IsZero() {
			next = sch.Next(last)
		}
		if nb := s.retry[c.Store]; nb.After(next) {
			next = nb
		}
		if !next.After(now) {
			due = append(due, c.Store)
		} else if next.Before(wake) {
			wake = next
		}
	}
	sort.Strings(due)
	return due, wake, nil
}

func (s *Scheduler) tick(ctx context.Context) (time.Time, error) {
	now := s.p.now()
	due, wake, err := s.due(ctx, now)
	if err != nil || len(due) == 0 {
		return wake, err
	}
	held, err := s.p.lease.Acquire(ctx)
	if err != nil {
		return now.Add(time.Second), err
	}
	if !held {
		s.p.m.Runs.WithLabelValues(event.OriginSchedule, "standby").Inc()
		return now.Add(time.Second), nil
	}
	// Under the lease: another replica may have just run them.
	due, _, err = s.due(ctx, s.p.now())
	if err != nil || len(due) == 0 {
		relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = s.p.lease.Release(relCtx)
		cancel()
		return now.Add(100 * time.Millisecond), err
	}
	started := s.p.now()
	sum, err := s.p.runHeld(ctx, RunOptions{Stores: due, Origin: event.OriginSchedule})
	if err == nil {
		for _, store := range due {
			if err := s.setLastRun(ctx, store, started); err != nil {
				s.p.log.Warn().Err(err).Str("store", store).Msg("last run not recorded; the next check runs it again")
			}
			delete(s.retry, store)
			delete(s.failures, store)
		}
		s.p.log.Info().Strs("stores", due).Int("items", sum.Items).Dur("took", sum.Duration).Interface("stores_summary", sum.Stores).Msg("scheduled inventory run")
	} else if ctx.Err() == nil {
		for _, store := range due {
			s.failures[store]++
			backoff := min(time.Duration(1<<min(s.failures[store]-1, 4))*time.Minute, 15*time.Minute)
			retry := s.p.now().Add(backoff)
			// Never later than the schedule's own next run: one failure
			// must not stall a short schedule ("@every 10s") for minutes.
			if sch := s.sched[store]; sch != nil {
				if next := sch.Next(s.p.now()); next.Before(retry) {
					retry = next
				}
			}
			s.retry[store] = retry
		}
		s.p.log.Warn().Err(err).Strs("stores", due).Msg("scheduled inventory run failed; retrying after a back-off")
	}
	if s.ran != nil {
		s.ran(sum, err)
	}
	return s.p.now(), nil
}

func (s *Scheduler) lastRun(ctx context.Context, store string) (time.Time, error) {
	e, err := s.p.checkpoints.Get(ctx, lastRunKey(store))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("last run of %s: %w", store, err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return time.Time{}, nil // unreadable: run now, which rewrites it
	}
	return t, nil
}

func (s *Scheduler) setLastRun(ctx context.Context, store string, t time.Time) error {
	_, err := s.p.checkpoints.Put(ctx, lastRunKey(store), []byte(t.UTC().Format(time.RFC3339Nano)))
	return err
}
