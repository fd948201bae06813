package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// Stats summarise a time window of the audit.
type Stats struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Counts []Count   `json:"counts"`
	ToNS   []Latency `json:"webhook_to_netsuite"`
}

// Count is how many messages of one type had one status.
type Count struct {
	Stream    string `json:"stream"`
	EventType string `json:"event_type"`
	Status    string `json:"status,omitempty"`
	Messages  uint64 `json:"messages"`
}

// Latency is the time from a webhook (its CloudEvents time, set by ingest)
// to the first successful NetSuite write of the same record (the SYNC
// outcome's time), per entity.
type Latency struct {
	Entity  string        `json:"entity"`
	Records uint64        `json:"records"`
	P50     time.Duration `json:"p50"`
	P95     time.Duration `json:"p95"`
}

// Stats counts messages by stream, type and status, and measures webhook to
// NetSuite record times, for messages stored in [since, until).
func (s *Store) Stats(ctx context.Context, since, until time.Time) (Stats, error) {
	st := Stats{Since: since.UTC(), Until: until.UTC()}
	q := fmt.Sprintf(`SELECT stream, event_type, status, uniqExact(seq) AS n FROM %s.%s
WHERE published_ms >= ? AND published_ms < ? GROUP BY stream, event_type, status ORDER BY stream, event_type, status`, s.db, EventsTable)
	rows, err := s.conn.Query(ctx, q, since.UnixMilli(), until.UnixMilli())
	if err != nil {
		return st, fmt.Errorf("stats counts: %w", err)
	}
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Stream, &c.EventType, &c.Status, &c.Messages); err != nil {
			rows.Close()
			return st, err
		}
		st.Counts = append(st.Counts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	// Per key: the first webhook fact and the first successful write. A
	// copy mirrored twice changes neither minimum.
	q = fmt.Sprintf(`SELECT entity, count(), quantiles(0.5, 0.95)(t1 - t0) FROM (
  SELECT arrayElement(splitByChar(':', key), 1) AS entity,
         minIf(received_ms, stream = ? AND origin IN (?, ?)) AS t0,
         minIf(received_ms, stream = ? AND status IN (?, ?)) AS t1
  FROM %s.%s WHERE published_ms >= ? AND published_ms < ? AND key != ''
  GROUP BY key, entity HAVING t0 > 0 AND t1 >= t0
) GROUP BY entity ORDER BY entity`, s.db, EventsTable)
	rows, err = s.conn.Query(ctx, q, event.StreamCommerce, event.OriginWebhook, event.OriginIOEvents,
		event.StreamSync, event.StatusOK, event.StatusVariance, since.UnixMilli(), until.UnixMilli())
	if err != nil {
		return st, fmt.Errorf("stats latency: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l Latency
		var q []float64
		if err := rows.Scan(&l.Entity, &l.Records, &q); err != nil {
			return st, err
		}
		if len(q) == 2 {
			l.P50, l.P95 = time.Duration(q[0]*float64(time.Millisecond)), time.Duration(q[1]*float64(time.Millisecond))
		}
		st.ToNS = append(st.ToNS, l)
	}
	return st, rows.Err()
}
