package audit

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Tables of the audit database.
const (
	EventsTable     = "audit_events"      // one row per stream message
	KeysTable       = "audit_keys"        // materialized view: last key part -> key (increment id look-up)
	MigrationsTable = "schema_migrations" // applied migrations
)

// Version is a ClickHouse server version.
type Version struct{ Major, Minor int }

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// AtLeast reports whether v >= major.minor.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// ParseVersion reads SELECT version() ("18.16.1", "24.8.4.13").
func ParseVersion(s string) (Version, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("clickhouse version %q: want major.minor", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return Version{}, fmt.Errorf("clickhouse version %q: want major.minor", s)
	}
	return Version{major, minor}, nil
}

// Dialect is what the server supports. Everything up to 20.3 gets the
// 18.16 schema (Debian's package): String columns, no codecs, no TTL
// (retention drops whole months, see Retention), DateTime aliases. From
// 20.3 on: LowCardinality, ZSTD for bodies and headers, a TTL, and
// DateTime64 aliases. Inserts and queries are the same on both: times are
// Int64 milliseconds, the better types only ever appear as aliases.
type Dialect struct {
	Version Version
}

// Modern reports whether the server takes the current-release schema.
func (d Dialect) Modern() bool { return d.Version.AtLeast(20, 3) }

// TTL reports whether retention is a table TTL (else the mirror drops
// expired partitions).
func (d Dialect) TTL() bool { return d.Modern() }

func (d Dialect) lowCard() string {
	if d.Modern() {
		return "LowCardinality(String)"
	}
	return "String"
}

func (d Dialect) codec() string {
	if d.Modern() {
		return " CODEC(ZSTD(3))"
	}
	return ""
}

// timeAlias is a readable DateTime column over an Int64 milliseconds column.
func (d Dialect) timeAlias(name, msCol string) string {
	if d.Modern() {
		return fmt.Sprintf("%s DateTime64(3, 'UTC') ALIAS toDateTime64(%s / 1000, 3, 'UTC')", name, msCol)
	}
	return fmt.Sprintf("%s DateTime ALIAS toDateTime(intDiv(%s, 1000))", name, msCol)
}

// partitionExpr is the month of the JetStream timestamp: retention drops
// whole months on servers without TTL, and a message mirrored twice lands
// in the same partition (where ReplacingMergeTree can merge it away).
const partitionExpr = "toYYYYMM(toDateTime(intDiv(published_ms, 1000)))"

// ttlExpr is the expiry of a row for a retention of days.
func ttlExpr(days int) string {
	return fmt.Sprintf("toDateTime(intDiv(published_ms, 1000)) + INTERVAL %d DAY", days)
}

// Columns are the audit_events columns every INSERT names, in order.
var Columns = []string{
	"stream", "seq", "subject", "msg_id", "event_id", "event_type", "source", "key", "origin", "causation",
	"traceparent", "received_ms", "published_ms", "mirrored_ms", "status", "error", "error_code", "attempts",
	"duration_ms", "internal_id", "orig_stream", "orig_seq", "consumer", "header_names", "header_values", "data", "redacted",
}

// eventsDDL creates audit_events. The sort key starts with the business
// key: `mlc audit trail` reads one key's granules out of any number of
// rows. stream and seq finish it, so a message mirrored twice has the same
// sort key and ReplacingMergeTree keeps one; queries do not wait for that
// merge (they read LIMIT 1 BY stream, seq).
func (d Dialect) eventsDDL(db string, retentionDays int) string {
	lc, codec := d.lowCard(), d.codec()
	cols := []string{
		"stream " + lc,
		"seq UInt64",
		"subject String",
		"msg_id String",
		"event_id String",
		"event_type " + lc,
		"source " + lc,
		"key String",
		"origin " + lc,
		"causation String",
		"traceparent String",
		"received_ms Int64",
		"published_ms Int64",
		"mirrored_ms Int64",
		"status " + lc,
		"error String",
		"error_code " + lc,
		"attempts UInt32",
		"duration_ms Int64",
		"internal_id String",
		"orig_stream " + lc,
		"orig_seq UInt64",
		"consumer " + lc,
		"header_names Array(String)" + codec,
		"header_values Array(String)" + codec,
		"data String" + codec,
		"redacted UInt8",
		d.timeAlias("received", "received_ms"),
		d.timeAlias("published", "published_ms"),
		d.timeAlias("mirrored", "mirrored_ms"),
	}
	q := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (\n    %s\n) ENGINE = ReplacingMergeTree()\nPARTITION BY %s\nORDER BY (key, stream, seq)",
		db, EventsTable, strings.Join(cols, ",\n    "), partitionExpr)
	if d.TTL() && retentionDays > 0 {
		q += "\nTTL " + ttlExpr(retentionDays)
	}
	return q
}

// keysDDL is the increment-id index: `mlc audit trail 000000042` looks the
// id up here to find order:<store>:000000042, invoice:<store>:000000042...
// without reading every key of audit_events.
func (d Dialect) keysDDL(db string) string {
	return fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %[1]s.%[2]s\nENGINE = ReplacingMergeTree()\nPARTITION BY tuple()\nORDER BY (ref, key)\n"+
		"AS SELECT arrayElement(splitByChar(':', key), -1) AS ref, key FROM %[1]s.%[3]s WHERE key != ''", db, KeysTable, EventsTable)
}

func migrationsDDL(db string) string {
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s (version UInt32, name String, applied DateTime) ENGINE = MergeTree() ORDER BY version", db, MigrationsTable)
}

// migration is one schema step. Every step is idempotent by itself (IF NOT
// EXISTS, or a look at system.columns first: 18.16 has no ADD COLUMN IF NOT
// EXISTS), so two mirrors starting together, or a crash between a step and
// its record, are harmless.
type migration struct {
	version int
	name    string
	apply   func(ctx context.Context, s *Store) error
}

// migrations are applied in order; append, never edit a released one.
func migrations() []migration {
	return []migration{
		{1, "audit_events and the increment-id index", func(ctx context.Context, s *Store) error {
			if err := s.conn.Exec(ctx, s.dialect.eventsDDL(s.db, s.retentionDays)); err != nil {
				return err
			}
			return s.conn.Exec(ctx, s.dialect.keysDDL(s.db))
		}},
	}
}

// Schema is the DDL a fresh database gets on a server of this dialect (for
// deploy/clickhouse and reviews); Migrate is what runs it.
func (d Dialect) Schema(db string, retentionDays int) string {
	return strings.Join([]string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		migrationsDDL(db),
		d.eventsDDL(db, retentionDays),
		d.keysDDL(db),
	}, ";\n\n") + ";\n"
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Migrate creates the database and applies the migrations it lacks, then
// brings the TTL in line with the retention setting (servers with TTL).
// It is safe to run at every start and from several mirrors at once.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.db); err != nil {
		return fmt.Errorf("create database %s: %w", s.db, err)
	}
	if err := s.conn.Exec(ctx, migrationsDDL(s.db)); err != nil {
		return fmt.Errorf("create %s.%s: %w", s.db, MigrationsTable, err)
	}
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return err
	}
	for _, m := range migrations() {
		if applied[m.version] {
			continue
		}
		if err := m.apply(ctx, s); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}
	if s.dialect.TTL() {
		return s.alignTTL(ctx)
	}
	return nil
}

// recordMigration inserts through a batch: an INSERT ... VALUES over Exec
// hangs on 18.16's native protocol, which waits for a data block.
func (s *Store) recordMigration(ctx context.Context, m migration) error {
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (version, name, applied)", s.db, MigrationsTable))
	if err != nil {
		return err
	}
	if err := b.Append(uint32(m.version), m.name, time.Now()); err != nil {
		_ = b.Abort()
		return err
	}
	return b.Send()
}

// Migrations lists the applied migration versions, in order.
func (s *Store) Migrations(ctx context.Context) ([]int, error) {
	applied, err := s.appliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, m := range migrations() {
		if applied[m.version] {
			out = append(out, m.version)
		}
	}
	return out, nil
}

func (s *Store) appliedMigrations(ctx context.Context) (map[int]bool, error) {
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT DISTINCT version FROM %s.%s", s.db, MigrationsTable))
	if err != nil {
		return nil, fmt.Errorf("read %s.%s: %w", s.db, MigrationsTable, err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[int(v)] = true
	}
	return out, rows.Err()
}

// keepForever is the TTL of a table whose retention was switched off.
const keepForever = 100 * 366

// alignTTL sets the table TTL to the retention setting when it differs (a
// changed MLC_AUDIT_RETENTION_DAYS takes effect at the next start).
func (s *Store) alignTTL(ctx context.Context) error {
	var engine string
	if err := s.conn.QueryRow(ctx, "SELECT engine_full FROM system.tables WHERE database = ? AND name = ?", s.db, EventsTable).Scan(&engine); err != nil {
		return fmt.Errorf("read the TTL of %s.%s: %w", s.db, EventsTable, err)
	}
	days := s.retentionDays
	if days == 0 {
		if !strings.Contains(engine, " TTL ") {
			return nil
		}
		days = keepForever // REMOVE TTL is too recent to rely on
	}
	// The server may print the interval either way.
	if strings.Contains(engine, fmt.Sprintf("INTERVAL %d DAY", days)) || strings.Contains(engine, fmt.Sprintf("toIntervalDay(%d)", days)) {
		return nil
	}
	return s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s MODIFY TTL %s", s.db, EventsTable, ttlExpr(days)))
}
