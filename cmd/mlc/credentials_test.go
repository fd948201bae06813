package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

func TestCredentialsRoundTrip(t *testing.T) {
	e := newCLIEnv(t)
	const token = "tok-SECRETVALUE-0123456789"
	if out, err := mlc(t, "", "credentials", "set", "api.token", "--value", token); err != nil {
		t.Fatalf("set: %v\n%s", err, out)
	}
	if out, err := mlc(t, "stdin-SECRET-abcdefghijkl\n", "credentials", "set", "stdin.secret"); err != nil {
		t.Fatalf("set from stdin: %v\n%s", err, out)
	}
	doc := `{"store":"default","base_url":"https://shop.example.com/rest/default","oauth1":{"consumer_key":"ck-SECRET-1234567890",` +
		`"consumer_secret":"cs-SECRET-1234567890"},"ims":{"client_id":"ims-client"},"retries":3}`
	if out, err := mlc(t, "", "credentials", "set", "commerce.test", "--from-file", writeFile(t, "c.json", []byte(doc))); err != nil {
		t.Fatalf("set from file: %v\n%s", err, out)
	}
	if _, err := mlc(t, "", "credentials", "set", "empty", "--value", ""); err == nil {
		t.Fatal("an empty value was stored")
	}

	out, err := mlc(t, "", "credentials", "show", "api.token")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "SECRETVALUE") || !strings.Contains(out, "to******89 (26 chars)") {
		t.Fatalf("show: %q", out)
	}
	out, err = mlc(t, "", "credentials", "show", "commerce.test")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "SECRET") || !strings.Contains(out, "https://shop.example.com/rest/default") ||
		!strings.Contains(out, `"client_id": "ims-client"`) || !strings.Contains(out, `"retries": 3`) {
		t.Fatalf("show JSON:\n%s", out)
	}
	out, err = mlc(t, "", "--json", "credentials", "show", "stdin.secret")
	if err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Bytes int    `json:"bytes"`
		Value string `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || shown.Bytes != len("stdin-SECRET-abcdefghijkl") || strings.Contains(out, "SECRET") {
		t.Fatalf("show --json %q: %v", out, err)
	}
	if _, err := mlc(t, "", "credentials", "show", "missing"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("show missing: %v", err)
	}

	oldID := secrets.KeyID(e.key)
	out, err = mlc(t, "", "credentials", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"api.token", "stdin.secret", "commerce.test", oldID, "REVISION"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}

	// Rotate to a generated key, written 0600 before anything is rewrapped.
	keyOut := filepath.Join(t.TempDir(), "new.key")
	out, err = mlc(t, "", "--json", "credentials", "rotate", "--generate", "--key-out", keyOut)
	if err != nil {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	var rot rotateResult
	if err := json.Unmarshal([]byte(out), &rot); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(keyOut)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v", fi, err)
	}
	newKey, err := readKeyFile(keyOut)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Rewrapped != 3 || rot.Total != 3 || rot.OldKeyID != oldID || rot.NewKeyID != secrets.KeyID(newKey) {
		t.Fatalf("rotate result %+v", rot)
	}
	if _, err := mlc(t, "", "credentials", "rotate", "--generate", "--key-out", keyOut); err == nil {
		t.Fatal("rotate overwrote an existing key file")
	}

	// A store holding only the new key reads everything; the old key alone reads nothing.
	ctx := context.Background()
	onlyNew, _ := e.store(t, newKey)
	if v, err := onlyNew.Get(ctx, "api.token"); err != nil || string(v) != token {
		t.Fatalf("new key reads %q, %v", v, err)
	}
	for _, n := range []string{"stdin.secret", "commerce.test"} {
		if _, err := onlyNew.Get(ctx, n); err != nil {
			t.Fatalf("new key cannot read %s: %v", n, err)
		}
	}
	onlyOld, _ := e.store(t, e.key)
	if _, err := onlyOld.Get(ctx, "api.token"); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("old key after rotation: %v", err)
	}

	// The CLI with the new key in MLC_MASTER_KEY lists the new key id and deletes.
	t.Setenv(secrets.EnvMasterKey, base64.StdEncoding.EncodeToString(newKey))
	out, err = mlc(t, "", "--json", "credentials", "list")
	if err != nil {
		t.Fatal(err)
	}
	var entries []credEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != 3 {
		t.Fatalf("list %q: %v", out, err)
	}
	for _, en := range entries {
		if en.KeyID != rot.NewKeyID || en.Revision == 0 {
			t.Errorf("entry %+v", en)
		}
	}
	if out, err := mlc(t, "", "credentials", "delete", "api.token"); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %v %s", err, out)
	}
	if _, err := mlc(t, "", "credentials", "delete", "api.token"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestCredentialsGenkey(t *testing.T) {
	out, err := mlc(t, "", "credentials", "genkey")
	if err != nil {
		t.Fatal(err)
	}
	k, err := secrets.ParseMasterKey(out)
	if err != nil || len(k) != 32 {
		t.Fatalf("genkey printed %q: %v", out, err)
	}
	out2, _ := mlc(t, "", "credentials", "genkey")
	if out2 == out {
		t.Fatal("genkey printed the same key twice")
	}
}

func TestMaskString(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "(empty)",
		"short":              "******** (5 chars)",
		"exactly15chars!":    "******** (15 chars)",
		"0123456789abcdefXY": "01******XY (18 chars)",
	} {
		if got := maskString(in); got != want {
			t.Errorf("maskString(%q) = %q, want %q", in, got, want)
		}
	}
	masked, isJSON := maskSecret([]byte(`{"private_key_pem":"-----BEGIN PRIVATE KEY-----\nMIIE...\n-----END PRIVATE KEY-----\n","account_id":"123","secrets":["abc"]}`))
	b, _ := json.Marshal(masked)
	if !isJSON || strings.Contains(string(b), "MIIE") || strings.Contains(string(b), "abc") || !strings.Contains(string(b), `"account_id":"123"`) {
		t.Fatalf("masked %s", b)
	}
}

func TestReadSecretValue(t *testing.T) {
	if _, err := readSecretValue("f", true, "v", true, nil); err == nil {
		t.Fatal("both sources accepted")
	}
	v, err := readSecretValue("", false, "", false, strings.NewReader("line\r\n"))
	if err != nil || string(v) != "line" {
		t.Fatalf("stdin %q, %v", v, err)
	}
	f := writeFile(t, "k.pem", []byte("pem\n"))
	if v, err := readSecretValue(f, true, "", false, nil); err != nil || string(v) != "pem\n" {
		t.Fatalf("file %q, %v", v, err)
	}
}

// Right after `mlc dev` (which keeps its master key in .mlc/master.key when
// neither MLC_MASTER_KEY nor MLC_MASTER_KEY_FILE is set), credentials and
// connect commands in the same directory use that key and say so.
func TestCLIFindsTheDevMasterKey(t *testing.T) {
	e := newCLIEnv(t)
	t.Setenv(secrets.EnvMasterKey, "")
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := mlc(t, "", "credentials", "set", "x.y", "--value", "v"); err == nil ||
		!strings.Contains(err.Error(), filepath.Join(".mlc", "master.key")) {
		t.Fatalf("no key anywhere: %v", err)
	}
	devKey, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".mlc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".mlc", "master.key"), []byte(base64.StdEncoding.EncodeToString(devKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := mlc(t, "", "credentials", "set", "dev.secret", "--value", "dev-value-1")
	if err != nil {
		t.Fatalf("set with the dev key: %v\n%s", err, out)
	}
	if !strings.Contains(out, filepath.Join(".mlc", "master.key")) || !strings.Contains(out, secrets.KeyID(devKey)) ||
		strings.Contains(out, base64.StdEncoding.EncodeToString(devKey)) {
		t.Errorf("output does not say which key was used (or shows it):\n%s", out)
	}
	s, _ := e.store(t, devKey)
	if v, err := s.Get(context.Background(), "dev.secret"); err != nil || string(v) != "dev-value-1" {
		t.Fatalf("the dev key does not open what was stored: %q %v", v, err)
	}
	// An explicit key still wins over the dev file.
	t.Setenv(secrets.EnvMasterKey, base64.StdEncoding.EncodeToString(e.key))
	if _, err := mlc(t, "", "credentials", "show", "dev.secret"); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Fatalf("MLC_MASTER_KEY did not win over .mlc/master.key: %v", err)
	}
}

func TestCredentialsDeleteOfAnEncodedStoreName(t *testing.T) {
	e := newCLIEnv(t)
	s, _ := e.store(t, e.key)
	c := connection.Commerce{Store: "en_us", BaseURL: "https://shop.example.com/rest/en_us", Auth: "oauth1",
		Webhook: connection.Webhook{Mode: "hmac", Secrets: []string{"s"}}}
	if err := connection.SaveCommerce(context.Background(), s, c); err != nil {
		t.Fatal(err)
	}
	_, err := mlc(t, "", "credentials", "delete", "commerce.en_us")
	if !errors.Is(err, secrets.ErrNotFound) || !strings.Contains(err.Error(), "commerce.en__us") {
		t.Fatalf("delete by the plain store code: %v", err)
	}
	if out, err := mlc(t, "", "credentials", "delete", "commerce.en__us"); err != nil {
		t.Fatalf("delete: %v %s", err, out)
	}
	if _, err := connection.LoadCommerce(context.Background(), s, "en_us"); !errors.Is(err, connection.ErrNotConnected) {
		t.Fatalf("after delete: %v", err)
	}
}
