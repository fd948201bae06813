package audit

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Filter selects rows. Zero fields do not filter.
type Filter struct {
	// Keys are business keys (Mlc-Key), e.g. order:default:000000042.
	Keys []string
	// Stream is a stream name, e.g. COMMERCE.
	Stream string
	// Seqs are stream sequences (of Stream).
	Seqs []uint64
	// Subject is a NATS subject filter ('*' one token, '>' the rest).
	Subject string
	// Since and Until bound the JetStream timestamp: [Since, Until).
	Since, Until time.Time
	// SkipOrigins leaves out rows with these origins (replays, say).
	SkipOrigins []string
	// WithData reads the body too (replay needs it; a trail does not).
	WithData bool
}

// Rows returns one row per stream message matching f, in JetStream
// timestamp order (stream and sequence break ties). A message mirrored
// twice is read once whether or not ClickHouse has merged its copies yet.
func (s *Store) Rows(ctx context.Context, f Filter) ([]Row, error) {
	cols := strings.Join(Columns, ", ")
	if !f.WithData {
		cols = strings.Replace(cols, ", data,", ", '' AS data,", 1)
	}
	var where []string
	var args []any
	if len(f.Keys) > 0 {
		where = append(where, "key IN "+placeholders(len(f.Keys)))
		args = appendStrings(args, f.Keys)
	}
	if f.Stream != "" {
		where = append(where, "stream = ?")
		args = append(args, f.Stream)
	}
	if len(f.Seqs) > 0 {
		where = append(where, "seq IN "+placeholders(len(f.Seqs)))
		for _, n := range f.Seqs {
			args = append(args, n)
		}
	}
	if f.Subject != "" {
		// The NATS match is a regular expression (re2) on the server.
		where = append(where, "match(subject, ?)")
		args = append(args, subjectRegexp(f.Subject))
	}
	if !f.Since.IsZero() {
		where = append(where, "published_ms >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where = append(where, "published_ms < ?")
		args = append(args, f.Until.UnixMilli())
	}
	if len(f.SkipOrigins) > 0 {
		where = append(where, "origin NOT IN "+placeholders(len(f.SkipOrigins)))
		args = appendStrings(args, f.SkipOrigins)
	}
	q := fmt.Sprintf("SELECT %s FROM %s.%s", cols, s.db, EventsTable)
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY published_ms, stream, seq LIMIT 1 BY stream, seq"
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s.%s: %w", s.db, EventsTable, err)
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		var received, published, mirrored int64
		var redacted uint8
		var data string
		if err := rows.Scan(&r.Stream, &r.Seq, &r.Subject, &r.MsgID, &r.EventID, &r.EventType, &r.Source, &r.Key, &r.Origin,
			&r.Causation, &r.Traceparent, &received, &published, &mirrored, &r.Status, &r.Error,
			&r.ErrorCode, &r.Attempts, &r.DurationMS, &r.InternalID, &r.OrigStream, &r.OrigSeq, &r.Consumer,
			&r.HeaderNames, &r.HeaderValues, &data, &redacted); err != nil {
			return nil, fmt.Errorf("read %s.%s: %w", s.db, EventsTable, err)
		}
		r.Received, r.Published, r.Mirrored = fromMillis(received), fromMillis(published), fromMillis(mirrored)
		r.Redacted = redacted != 0
		if f.WithData {
			r.Data = []byte(data)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MaxTrailKeys bounds how many business keys one increment id may name.
const MaxTrailKeys = 100

// Keys resolves a trail reference: a business key (it contains ':') is
// itself; a bare increment id or buyer key gives every key that ends in
// it (order:default:000000042, invoice:uk:000000042, ...).
func (s *Store) Keys(ctx context.Context, ref string) ([]string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("empty key")
	}
	if strings.Contains(ref, ":") {
		return []string{ref}, nil
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT key FROM %s.%s WHERE ref = ? ORDER BY key LIMIT %d", s.db, KeysTable, MaxTrailKeys), ref)
	if err != nil {
		return nil, fmt.Errorf("look up %q in %s.%s: %w", ref, s.db, KeysTable, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// Trail is the story of a record: every message of every stream whose
// business key ref names (see Keys), oldest first.
func (s *Store) Trail(ctx context.Context, ref string) ([]Row, error) {
	keys, err := s.Keys(ctx, ref)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return s.Rows(ctx, Filter{Keys: keys})
}

// Count is how many distinct messages (stream, sequence) and how many rows
// the audit holds; rows exceed messages while re-mirrored copies wait for a
// merge.
func (s *Store) Count(ctx context.Context) (messages, rows uint64, err error) {
	q := fmt.Sprintf("SELECT uniqExact(stream, seq), count() FROM %s.%s", s.db, EventsTable)
	if err := s.conn.QueryRow(ctx, q).Scan(&messages, &rows); err != nil {
		return 0, 0, fmt.Errorf("count %s.%s: %w", s.db, EventsTable, err)
	}
	return messages, rows, nil
}

// StreamCount is how many distinct messages of one stream the audit holds
// and the highest sequence among them.
func (s *Store) StreamCount(ctx context.Context, stream string) (messages, maxSeq uint64, err error) {
	q := fmt.Sprintf("SELECT uniqExact(seq), max(seq) FROM %s.%s WHERE stream = ?", s.db, EventsTable)
	if err := s.conn.QueryRow(ctx, q, stream).Scan(&messages, &maxSeq); err != nil {
		return 0, 0, fmt.Errorf("count %s in %s.%s: %w", stream, s.db, EventsTable, err)
	}
	return messages, maxSeq, nil
}

// subjectRegexp turns a NATS subject filter into an anchored re2 pattern.
func subjectRegexp(filter string) string {
	var b strings.Builder
	b.WriteString("^")
	tokens := strings.Split(filter, ".")
	for i, t := range tokens {
		if i > 0 {
			b.WriteString(`\.`)
		}
		switch {
		case t == "*":
			b.WriteString(`[^.]+`)
		case t == ">" && i == len(tokens)-1:
			b.WriteString(`.+`)
		default:
			b.WriteString(regexp.QuoteMeta(t))
		}
	}
	b.WriteString("$")
	return b.String()
}

// placeholders is "(?, ?, ...)" for n values: bound as one slice, a list
// becomes an array literal, which 18.16 does not take after IN.
func placeholders(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func appendStrings(args []any, vs []string) []any {
	for _, v := range vs {
		args = append(args, v)
	}
	return args
}
