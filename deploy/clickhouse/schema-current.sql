-- Generated from pkg/audit (Dialect.Schema, database mlc, retention 365 days); the audit-mirror
-- runs the same DDL at start. Regenerate: go test ./pkg/audit/ -run TestSchemaDoc -update-schema

CREATE DATABASE IF NOT EXISTS mlc;

CREATE TABLE IF NOT EXISTS mlc.schema_migrations (version UInt32, name String, applied DateTime) ENGINE = MergeTree() ORDER BY version;

CREATE TABLE IF NOT EXISTS mlc.audit_events (
    stream LowCardinality(String),
    seq UInt64,
    subject String,
    msg_id String,
    event_id String,
    event_type LowCardinality(String),
    source LowCardinality(String),
    key String,
    origin LowCardinality(String),
    causation String,
    traceparent String,
    received_ms Int64,
    published_ms Int64,
    mirrored_ms Int64,
    status LowCardinality(String),
    error String,
    error_code LowCardinality(String),
    attempts UInt32,
    duration_ms Int64,
    internal_id String,
    orig_stream LowCardinality(String),
    orig_seq UInt64,
    consumer LowCardinality(String),
    header_names Array(String) CODEC(ZSTD(3)),
    header_values Array(String) CODEC(ZSTD(3)),
    data String CODEC(ZSTD(3)),
    redacted UInt8,
    received DateTime64(3, 'UTC') ALIAS toDateTime64(received_ms / 1000, 3, 'UTC'),
    published DateTime64(3, 'UTC') ALIAS toDateTime64(published_ms / 1000, 3, 'UTC'),
    mirrored DateTime64(3, 'UTC') ALIAS toDateTime64(mirrored_ms / 1000, 3, 'UTC')
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(published_ms, 1000)))
ORDER BY (key, stream, seq)
TTL toDateTime(intDiv(published_ms, 1000)) + INTERVAL 365 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS mlc.audit_keys
ENGINE = ReplacingMergeTree()
PARTITION BY tuple()
ORDER BY (ref, key)
AS SELECT arrayElement(splitByChar(':', key), -1) AS ref, key FROM mlc.audit_events WHERE key != '';
