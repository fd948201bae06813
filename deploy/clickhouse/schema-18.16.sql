-- Generated from pkg/audit (Dialect.Schema, database mlc, retention 365 days); the audit-mirror
-- runs the same DDL at start. Regenerate: go test ./pkg/audit/ -run TestSchemaDoc -update-schema

CREATE DATABASE IF NOT EXISTS mlc;

CREATE TABLE IF NOT EXISTS mlc.schema_migrations (version UInt32, name String, applied DateTime) ENGINE = MergeTree() ORDER BY version;

CREATE TABLE IF NOT EXISTS mlc.audit_events (
    stream String,
    seq UInt64,
    subject String,
    msg_id String,
    event_id String,
    event_type String,
    source String,
    key String,
    origin String,
    causation String,
    traceparent String,
    received_ms Int64,
    published_ms Int64,
    mirrored_ms Int64,
    status String,
    error String,
    error_code String,
    attempts UInt32,
    duration_ms Int64,
    internal_id String,
    orig_stream String,
    orig_seq UInt64,
    consumer String,
    header_names Array(String),
    header_values Array(String),
    data String,
    redacted UInt8,
    received DateTime ALIAS toDateTime(intDiv(received_ms, 1000)),
    published DateTime ALIAS toDateTime(intDiv(published_ms, 1000)),
    mirrored DateTime ALIAS toDateTime(intDiv(mirrored_ms, 1000))
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(published_ms, 1000)))
ORDER BY (key, stream, seq);

CREATE MATERIALIZED VIEW IF NOT EXISTS mlc.audit_keys
ENGINE = ReplacingMergeTree()
PARTITION BY tuple()
ORDER BY (ref, key)
AS SELECT arrayElement(splitByChar(':', key), -1) AS ref, key FROM mlc.audit_events WHERE key != '';
