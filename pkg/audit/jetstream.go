package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Scan is what ScanStream reads of one stream.
type Scan struct {
	// Subject filters the stream (NATS wildcards); "" reads all of it.
	Subject string
	// Since starts at the first message stored at or after it.
	Since time.Time
}

// ScanStream reads a stream directly, from the start (or Scan.Since) to
// its last message at the time of the call, and hands every message to fn
// as the row the mirror would write (FromMessage). It is the audit without
// ClickHouse: `mlc audit trail` and `mlc replay` on a machine without one.
// It returns how many messages it read; fn's error stops it.
func ScanStream(ctx context.Context, js jetstream.JetStream, stream string, sc Scan, fn func(Row) error) (int, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if sc.Subject != "" {
		cfg.FilterSubjects = []string{sc.Subject}
	}
	if !sc.Since.IsZero() {
		since := sc.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := st.OrderedConsumer(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", stream, err)
	}
	// Nothing matches when the consumer starts with nothing pending.
	ci, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", stream, err)
	}
	if ci.NumPending == 0 {
		return 0, nil
	}
	last := info.State.LastSeq
	n, empty := 0, 0
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return n, fmt.Errorf("read %s: %w", stream, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return n, fmt.Errorf("read %s: %w", stream, err)
			}
			n++
			row := FromMessage(Meta{Stream: stream, Seq: md.Sequence.Stream, Published: md.Timestamp}, m.Subject(), m.Headers(), m.Data(), time.Now())
			if err := fn(row); err != nil {
				return n, err
			}
			if md.NumPending == 0 || md.Sequence.Stream >= last {
				return n, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return n, fmt.Errorf("read %s: %w", stream, err)
		}
		if got > 0 {
			empty = 0
			continue
		}
		// Pending messages that never come were deleted meanwhile.
		if empty++; empty >= 2 || ctx.Err() != nil {
			return n, ctx.Err()
		}
	}
}

// KeyMatches reports whether a row belongs to a trail reference: the key
// itself, or, for a bare increment id, any key ending in :<id>.
func KeyMatches(ref, key string) bool {
	if strings.Contains(ref, ":") {
		return key == ref
	}
	return strings.HasSuffix(key, ":"+ref)
}

// TrailFromStreams is Trail read from the streams themselves: every stream
// is read whole, so it suits a dev machine, not a production stream.
func TrailFromStreams(ctx context.Context, js jetstream.JetStream, ref string) (rows []Row, scanned int, err error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, 0, fmt.Errorf("empty key")
	}
	for _, name := range event.Streams() {
		n, err := ScanStream(ctx, js, name, Scan{}, func(r Row) error {
			if KeyMatches(ref, r.Key) {
				rows = append(rows, r)
			}
			return nil
		})
		scanned += n
		if err != nil {
			return rows, scanned, err
		}
	}
	SortRows(rows)
	return rows, scanned, nil
}
