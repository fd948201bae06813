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
	keys, source, err := loadMasterKey(os.Getenv)
	if err != nil {
		return nil, err
	}
	if !jsonOutput(cmd) {
		fmt.Fprintf(cmd.ErrOrStderr(), "master key %s from %s\n", keys.CurrentID(), source)
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

// devKeyFile is where `mlc dev` keeps the master key it generates when
// neither MLC_MASTER_KEY nor MLC_MASTER_KEY_FILE is set: <--dir>/master.key,
// --dir defaulting to .mlc (pkg/devstack).
const devKeyFile = ".mlc/master.key"

// loadMasterKey reads the keyring as the services do (MLC_MASTER_KEY, then
// MLC_MASTER_KEY_FILE) and, with neither set, from mlc dev's key file in the
// working directory, so that `mlc credentials` and `mlc connect` work right
// after `mlc dev`. source names where the key came from, never its value.
func loadMasterKey(getenv func(string) string) (keys *secrets.Keyring, source string, err error) {
	switch {
	case getenv(secrets.EnvMasterKey) != "":
		source = secrets.EnvMasterKey
	case getenv(secrets.EnvMasterKeyFile) != "":
		source = secrets.EnvMasterKeyFile + "=" + getenv(secrets.EnvMasterKeyFile)
	default:
		if _, statErr := os.Stat(devKeyFile); statErr != nil {
			return nil, "", fmt.Errorf("no master key: set %s or %s (generate one with `mlc credentials genkey`), "+
				"or run where `mlc dev` keeps its key (%s)", secrets.EnvMasterKey, secrets.EnvMasterKeyFile, devKeyFile)
		}
		source = devKeyFile + " (mlc dev's key)"
		env := getenv
		getenv = func(k string) string {
			if k == secrets.EnvMasterKeyFile {
				return devKeyFile
			}
			return env(k)
		}
	}
	keys, err = secrets.LoadKeyring(getenv)
	if err != nil {
		return nil, "", fmt.Errorf("master key from %s: %w", source, err)
	}
	return keys, source, nil
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
