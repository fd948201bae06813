package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDatabase is the audit database when the DSN names none.
const DefaultDatabase = "mlc"

// ErrNoDSN is returned by Open without a DSN (MLC_CLICKHOUSE_DSN unset).
var ErrNoDSN = errors.New("no ClickHouse DSN (set MLC_CLICKHOUSE_DSN)")

// Store is the audit database on one ClickHouse server (or cluster
// address list), spoken to over the native protocol: Debian's 18.16 has
// no usable HTTP interface for clickhouse-go.
type Store struct {
	conn          driver.Conn
	db            string
	dialect       Dialect
	retentionDays int
	insertSQL     string
}

type storeOptions struct {
	retentionDays int
	database      string
}

// Option configures Open.
type Option func(*storeOptions)

// WithRetention keeps rows for days (0: forever). The default is 365.
func WithRetention(days int) Option { return func(o *storeOptions) { o.retentionDays = days } }

// WithDatabase overrides the DSN's database.
func WithDatabase(db string) Option { return func(o *storeOptions) { o.database = db } }

// ParseDSN reads MLC_CLICKHOUSE_DSN: clickhouse://user:password@host:9000/db?dial_timeout=2s
// (clickhouse-go's DSN), or a bare host:port[,host:port] of the native
// protocol. It returns the connection options (which connect to the
// server's default database: the audit database may not exist yet) and the
// audit database (DefaultDatabase when the DSN names none).
func ParseDSN(dsn string) (*clickhouse.Options, string, error) {
	dsn = strings.TrimSpace(dsn)
	if dsn == "" {
		return nil, "", ErrNoDSN
	}
	var opts *clickhouse.Options
	if strings.Contains(dsn, "://") {
		var err error
		if opts, err = clickhouse.ParseDSN(dsn); err != nil {
			return nil, "", fmt.Errorf("MLC_CLICKHOUSE_DSN: %w", err)
		}
		if opts.Protocol != clickhouse.Native {
			return nil, "", fmt.Errorf("MLC_CLICKHOUSE_DSN: use the native protocol (clickhouse://host:9000), not HTTP")
		}
	} else {
		opts = &clickhouse.Options{}
		for _, a := range strings.Split(dsn, ",") {
			if a = strings.TrimSpace(a); a != "" {
				opts.Addr = append(opts.Addr, a)
			}
		}
	}
	if len(opts.Addr) == 0 {
		return nil, "", fmt.Errorf("MLC_CLICKHOUSE_DSN: no host")
	}
	db := opts.Auth.Database
	if db == "" {
		db = DefaultDatabase
	}
	if !identRE.MatchString(db) {
		return nil, "", fmt.Errorf("MLC_CLICKHOUSE_DSN: database %q: use letters, digits and '_'", db)
	}
	opts.Auth.Database = ""
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = 60 * time.Second
	}
	if opts.Compression == nil {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	return opts, db, nil
}

// Open connects, reads the server version (which picks the Dialect) and
// returns the store. It does not create anything: call Migrate.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := storeOptions{retentionDays: 365}
	for _, opt := range opts {
		opt(&o)
	}
	if o.retentionDays < 0 {
		return nil, fmt.Errorf("audit retention %d days: want 0 (forever) or more", o.retentionDays)
	}
	chOpts, db, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if o.database != "" {
		if !identRE.MatchString(o.database) {
			return nil, fmt.Errorf("audit database %q: use letters, digits and '_'", o.database)
		}
		db = o.database
	}
	conn, err := clickhouse.Open(chOpts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", strings.Join(chOpts.Addr, ","), err)
	}
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse %s: %w", strings.Join(chOpts.Addr, ","), err)
	}
	v, err := ParseVersion(version)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &Store{conn: conn, db: db, dialect: Dialect{Version: v}, retentionDays: o.retentionDays}
	s.insertSQL = fmt.Sprintf("INSERT INTO %s.%s (%s)", db, EventsTable, strings.Join(Columns, ", "))
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }

// Database is the audit database's name.
func (s *Store) Database() string { return s.db }

// Dialect is what the server supports.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error { return s.conn.Ping(ctx) }

// Conn is the underlying connection, for ad-hoc queries in tests and tools.
func (s *Store) Conn() driver.Conn { return s.conn }

// Insert writes rows with one INSERT naming every column. It is safe to
// insert a row again (a redelivered message): the sort key ends in stream
// and sequence and every query reads one row per message.
func (s *Store) Insert(ctx context.Context, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	batch, err := s.conn.PrepareBatch(ctx, s.insertSQL)
	if err != nil {
		return fmt.Errorf("prepare insert into %s.%s: %w", s.db, EventsTable, err)
	}
	for i := range rows {
		r := &rows[i]
		var redacted uint8
		if r.Redacted {
			redacted = 1
		}
		if err := batch.Append(r.Stream, r.Seq, r.Subject, r.MsgID, r.EventID, r.EventType, r.Source, r.Key, r.Origin,
			r.Causation, r.Traceparent, millis(r.Received), millis(r.Published), millis(r.Mirrored), r.Status, r.Error,
			r.ErrorCode, r.Attempts, r.DurationMS, r.InternalID, r.OrigStream, r.OrigSeq, r.Consumer,
			r.HeaderNames, r.HeaderValues, r.Data, redacted); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("insert %s/%d: %w", r.Stream, r.Seq, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s.%s: %w", len(rows), s.db, EventsTable, err)
	}
	return nil
}

// millis is t in Unix milliseconds, 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
