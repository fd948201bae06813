// Package streams embeds the JetStream streams, consumers and KV buckets of
// ml-connector. The JSON files are the format `nats stream add --config` and
// `nats consumer add --config` accept, so operators can apply them with the
// nats CLI too; pkg/stream applies them from this embedded copy.
//
// Layout: <STREAM>.json is a stream; <STREAM>/<durable>.json a durable
// consumer on it; kv/<bucket>.json a KV bucket.
package streams

import "embed"

// FS holds every definition file.
//
//go:embed *.json */*.json
var FS embed.FS
