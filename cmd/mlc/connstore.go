package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

// lookupTimeout bounds finding the buckets: the NATS client retries a
// failed connect forever, which a CLI must not.
const lookupTimeout = 10 * time.Second

// credStore is the opened credential store and settings bucket.
type credStore struct {
	nc       *nats.Conn
	secrets  *secrets.Store
	creds    jetstream.KeyValue // mlc_credentials, for revisions and raw envelopes
	settings jetstream.KeyValue // mlc_settings, nil unless asked for
}

func (c *credStore) Close() { c.nc.Close() }

// openCredStore connects to NATS (--server / MLC_NATS_URL), opens
// mlc_credentials (and mlc_settings when withSettings) and loads the master
// key from the environment.
func openCredStore(cmd *cobra.Command, withSettings bool) (*credStore, error) {
	keys, err := secrets.LoadKeyring(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("%w (generate one with `mlc credentials genkey`)", err)
	}
	nc, js, err := connectNATS(cmd)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), lookupTimeout)
	defer cancel()
	cs := &credStore{nc: nc}
	if cs.creds, err = openBucket(ctx, js, secrets.Bucket); err != nil {
		nc.Close()
		return nil, err
	}
	if withSettings {
		if cs.settings, err = openBucket(ctx, js, connection.SettingsBucket); err != nil {
			nc.Close()
			return nil, err
		}
	}
	cs.secrets = secrets.NewStore(cs.creds, keys)
	return cs, nil
}

func openBucket(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, fmt.Errorf("KV bucket %s does not exist: run `mlc streams apply` first", name)
	}
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", name, err)
	}
	return kv, nil
}

// isTerminal reports whether r (a reader or a writer) is an interactive terminal.
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
