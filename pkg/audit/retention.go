package audit

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// DropExpired enforces the retention on servers without TTL (18.16): it
// drops every monthly partition whose last day is older than the
// retention, so rows live at least that long and at most a month more. It
// returns the partitions dropped; on servers with TTL, and with retention
// 0, it does nothing.
func (s *Store) DropExpired(ctx context.Context, now time.Time) ([]string, error) {
	if s.dialect.TTL() || s.retentionDays == 0 {
		return nil, nil
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active", s.db, EventsTable)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s.%s: %w", s.db, EventsTable, err)
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return nil, err
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	cutoff := now.AddDate(0, 0, -s.retentionDays)
	var dropped []string
	for _, p := range parts {
		if !monthExpired(p, cutoff) {
			continue
		}
		if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %s", s.db, EventsTable, p)); err != nil {
			return dropped, fmt.Errorf("drop partition %s of %s.%s: %w", p, s.db, EventsTable, err)
		}
		dropped = append(dropped, p)
	}
	return dropped, nil
}

// monthExpired reports whether partition YYYYMM ended before cutoff.
func monthExpired(partition string, cutoff time.Time) bool {
	n, err := strconv.Atoi(partition)
	if err != nil || len(partition) != 6 {
		return false
	}
	firstOfNext := time.Date(n/100, time.Month(n%100)+1, 1, 0, 0, 0, 0, time.Local)
	return !firstOfNext.After(cutoff)
}
