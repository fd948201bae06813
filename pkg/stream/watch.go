package stream

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// WatchKV calls fn with the current value of every key matching pattern
// and then with every change, until ctx ends; it returns nil then, and an
// error when the watch cannot start or the server closes it. A deleted or
// purged key is reported with deleted=true. Every KV watch loop of the
// services (credentials, settings, mappings) is this one, so they all stop
// the same way: at once, without waiting on NATS.
func WatchKV(ctx context.Context, kv jetstream.KeyValue, pattern string, fn func(e jetstream.KeyValueEntry, deleted bool)) error {
	w, err := kv.Watch(ctx, pattern)
	if err != nil {
		return fmt.Errorf("watch %s %q: %w", kv.Bucket(), pattern, err)
	}
	// Stop deletes the watcher's ephemeral consumer with a JetStream request,
	// which blocks for its full timeout while NATS is unreachable; do it in
	// the background so a shutdown never waits on it (the server removes an
	// orphaned ephemeral consumer by itself).
	defer func() { go func() { _ = w.Stop() }() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch %s %q: closed by the server", kv.Bucket(), pattern)
			}
			if e == nil { // end of the initial values
				continue
			}
			op := e.Operation()
			fn(e, op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge)
		}
	}
}
