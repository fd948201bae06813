package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

func newCredentialsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "Manage the encrypted credentials in mlc_credentials (master key from MLC_MASTER_KEY / MLC_MASTER_KEY_FILE)",
	}
	cmd.AddCommand(newCredSetCmd(), newCredShowCmd(), newCredListCmd(), newCredRotateCmd(), newCredDeleteCmd(), newCredGenkeyCmd())
	return cmd
}

func newCredSetCmd() *cobra.Command {
	var fromFile, value string
	cmd := &cobra.Command{
		Use:   "set <name>",
		Short: "Store a secret encrypted (value from --from-file, --value or stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := cmd.InOrStdin()
			if !cmd.Flags().Changed("from-file") && !cmd.Flags().Changed("value") && isTerminal(in) {
				fmt.Fprintln(cmd.ErrOrStderr(), "Enter the value, then Ctrl-D:")
			}
			v, err := readSecretValue(fromFile, cmd.Flags().Changed("from-file"), value, cmd.Flags().Changed("value"), in)
			if err != nil {
				return err
			}
			cs, err := openCredStore(cmd, false)
			if err != nil {
				return err
			}
			defer cs.Close()
			if err := cs.secrets.Put(cmd.Context(), args[0], v); err != nil {
				return err
			}
			res := map[string]any{"name": args[0], "bytes": len(v), "key_id": cs.secrets.Keyring().CurrentID()}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored %s (%d bytes) sealed under master key %s\n", args[0], len(v), res["key_id"])
			return nil
		},
	}
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read the value from this file (kept byte for byte)")
	cmd.Flags().StringVar(&value, "value", "", "the value itself (lands in shell history: prefer --from-file or stdin)")
	return cmd
}

// readSecretValue takes the value from exactly one source: a file, the flag,
// or stdin (a single trailing newline dropped, as typed or echoed).
func readSecretValue(file string, fileSet bool, value string, valueSet bool, stdin io.Reader) ([]byte, error) {
	var v []byte
	switch {
	case fileSet && valueSet:
		return nil, errors.New("give either --from-file or --value, not both")
	case fileSet:
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		v = b
	case valueSet:
		v = []byte(value)
	default:
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		v = bytes.TrimSuffix(b, []byte("\r"))
	}
	if len(v) == 0 {
		return nil, errors.New("empty value: nothing stored")
	}
	return v, nil
}

func newCredShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show <name>",
		Short: "Show a secret masked: its length and first/last 2 characters, or JSON with secret values masked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := openCredStore(cmd, false)
			if err != nil {
				return err
			}
			defer cs.Close()
			v, err := cs.secrets.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			masked, isJSON := maskSecret(v)
			out := cmd.OutOrStdout()
			if jsonOutput(cmd) {
				return printJSON(out, map[string]any{"name": args[0], "bytes": len(v), "json": isJSON, "value": masked})
			}
			if isJSON {
				fmt.Fprintf(out, "%s (%d bytes, JSON, secret values masked):\n", args[0], len(v))
				return printJSON(out, masked)
			}
			fmt.Fprintf(out, "%s: %s\n", args[0], masked)
			return nil
		},
	}
}

// maskSecret returns a printable masked form: a JSON object with every
// secret-looking string masked, or the masked string.
func maskSecret(v []byte) (masked any, isJSON bool) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err == nil && !dec.More() {
		if _, obj := doc.(map[string]any); obj {
			return maskJSON(doc, ""), true
		}
	}
	return maskString(string(v)), false
}

// maskString shows the length and, for values long enough that it gives
// nothing away, the first and last two characters.
func maskString(s string) string {
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "(empty)"
	case n < 16:
		return fmt.Sprintf("******** (%d chars)", n)
	}
	r := []rune(s)
	return fmt.Sprintf("%s******%s (%d chars)", string(r[:2]), string(r[n-2:]), n)
}

// maskJSON masks every string except under keys that are obviously not
// secret (ids, URLs, modes); numbers and booleans stay.
func maskJSON(v any, key string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = maskJSON(e, k)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = maskJSON(e, key)
		}
		return out
	case string:
		if publicField(key) {
			return t
		}
		return maskString(t)
	}
	return v
}

func publicField(key string) bool {
	k := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(key))
	switch k {
	case "store", "flavour", "flavor", "auth", "mode", "algorithm", "alg", "scopes", "name", "type":
		return true
	}
	return strings.HasSuffix(k, "id") || strings.HasSuffix(k, "url")
}

func newCredListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List stored secrets: name, revision, master key id (values are not read)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := openCredStore(cmd, false)
			if err != nil {
				return err
			}
			defer cs.Close()
			entries, err := listCredentials(cmd.Context(), cs.creds)
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), entries)
			}
			cur := cs.secrets.Keyring().CurrentID()
			rows := [][]string{{"NAME", "REVISION", "KEY ID", "UPDATED"}}
			for _, e := range entries {
				kid := e.KeyID
				if kid != cur {
					kid += " (not current)"
				}
				rows = append(rows, []string{e.Name, strconv.FormatUint(e.Revision, 10), kid, e.Updated.UTC().Format(time.RFC3339)})
			}
			printTable(cmd.OutOrStdout(), rows)
			return nil
		},
	}
}

type credEntry struct {
	Name     string    `json:"name"`
	Revision uint64    `json:"revision"`
	KeyID    string    `json:"key_id"`
	Updated  time.Time `json:"updated"`
}

func listCredentials(ctx context.Context, kv jetstream.KeyValue) ([]credEntry, error) {
	names, err := kv.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return []credEntry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	sort.Strings(names)
	out := make([]credEntry, 0, len(names))
	for _, n := range names {
		e, err := kv.Get(ctx, n)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		out = append(out, credEntry{Name: n, Revision: e.Revision(), KeyID: sealedKeyID(e.Value()), Updated: e.Created()})
	}
	return out, nil
}

// sealedKeyID reads the master key id from a sealed value's header
// ("MLCS" | version | len(kid) | kid, pkg/secrets) without opening it.
func sealedKeyID(b []byte) string {
	if len(b) < 6 || string(b[:4]) != "MLCS" || len(b) < 6+int(b[5]) {
		return "?"
	}
	return string(b[6 : 6+int(b[5])])
}

func newCredRotateCmd() *cobra.Command {
	var keyFile, keyOut string
	var generate bool
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Rewrap every secret under a new master key (--new-key-file F or --generate)",
		Long: "Makes the new key current and rewraps each secret's data key under it; the secrets themselves are " +
			"not re-encrypted. The current key (MLC_MASTER_KEY / MLC_MASTER_KEY_FILE) and any in " +
			"MLC_MASTER_KEY_PREVIOUS must open every secret. With --generate the new key is written to --key-out " +
			"(mode 0600) before anything is rewrapped.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if generate == (keyFile != "") {
				return errors.New("give exactly one of --new-key-file or --generate")
			}
			var newKey []byte
			var err error
			if generate {
				if newKey, err = writeNewKey(keyOut); err != nil {
					return err
				}
			} else if newKey, err = readKeyFile(keyFile); err != nil {
				return err
			}
			cs, err := openCredStore(cmd, false)
			if err != nil {
				return err
			}
			defer cs.Close()
			res, err := rotateCredentials(cmd.Context(), cs.secrets, newKey)
			if err != nil {
				return fmt.Errorf("%w (rewrapped %d before the error; the old key still opens the rest, run rotate again)", err, res.Rewrapped)
			}
			if generate {
				res.KeyFile = keyOut
			} else {
				res.KeyFile = keyFile
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), res)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "rewrapped %d of %d secrets under master key %s (was %s)\n", res.Rewrapped, res.Total, res.NewKeyID, res.OldKeyID)
			fmt.Fprintf(out, "new key file: %s\n", res.KeyFile)
			fmt.Fprintf(out, "now update MLC_MASTER_KEY (or MLC_MASTER_KEY_FILE=%s) for mlc and every service and restart them;\n", res.KeyFile)
			fmt.Fprintln(out, "the old key is no longer needed: remove it from MLC_MASTER_KEY_PREVIOUS and destroy it.")
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "new-key-file", "", "file holding the new master key (base64 of 32 bytes, or the 32 raw bytes)")
	cmd.Flags().BoolVar(&generate, "generate", false, "generate the new master key and write it to --key-out")
	cmd.Flags().StringVar(&keyOut, "key-out", "mlc-master-key.new", "with --generate: file to create (must not exist; mode 0600)")
	return cmd
}

type rotateResult struct {
	OldKeyID  string `json:"old_key_id"`
	NewKeyID  string `json:"new_key_id"`
	Rewrapped int    `json:"rewrapped"`
	Total     int    `json:"total"`
	KeyFile   string `json:"key_file,omitempty"`
}

func rotateCredentials(ctx context.Context, s *secrets.Store, newKey []byte) (rotateResult, error) {
	res := rotateResult{OldKeyID: s.Keyring().CurrentID(), NewKeyID: secrets.KeyID(newKey)}
	names, err := s.List(ctx)
	if err != nil {
		return res, err
	}
	res.Total = len(names)
	res.Rewrapped, err = s.Rotate(ctx, newKey)
	return res, err
}

// writeNewKey generates a master key and writes its base64 to path, which
// must not exist, readable by the owner only. It happens before rotation so
// a key that seals secrets is never lost.
func writeNewKey(path string) ([]byte, error) {
	key, err := secrets.GenerateKey()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write new key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write new key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write new key: %w", err)
	}
	return key, nil
}

// readKeyFile accepts what MLC_MASTER_KEY_FILE accepts.
func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 32 {
		return b, nil
	}
	k, err := secrets.ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func newCredDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete <name>",
		Short: "Delete a stored secret (services watching it see the deletion)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cs, err := openCredStore(cmd, false)
			if err != nil {
				return err
			}
			defer cs.Close()
			if _, err := cs.creds.Get(cmd.Context(), args[0]); errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("%w: %q%s", secrets.ErrNotFound, args[0], commerceNameHint(cmd.Context(), cs.creds, args[0]))
			} else if err != nil {
				return fmt.Errorf("read %s: %w", args[0], err)
			}
			if err := cs.secrets.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"name": args[0], "deleted": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		},
	}
}

func newCredGenkeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "genkey",
		Short: "Print a fresh random master key (base64 of 32 bytes) for MLC_MASTER_KEY",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := secrets.GenerateKey()
			if err != nil {
				return err
			}
			enc := base64.StdEncoding.EncodeToString(key)
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]string{"key": enc, "key_id": secrets.KeyID(key)})
			}
			fmt.Fprintln(cmd.OutOrStdout(), enc)
			return nil
		},
	}
}

// commerceNameHint points from a store code typed as is (commerce.en_us) to
// the name its connection is stored under (commerce.en__us), when that
// exists: store codes are encoded in secret names.
func commerceNameHint(ctx context.Context, kv jetstream.KeyValue, name string) string {
	store, ok := strings.CutPrefix(name, "commerce.")
	if !ok || connection.CommerceSecretName(store) == name {
		return ""
	}
	if _, err := kv.Get(ctx, connection.CommerceSecretName(store)); err != nil {
		return ""
	}
	return fmt.Sprintf(" (the connection of store %q is stored as %s)", store, connection.CommerceSecretName(store))
}
