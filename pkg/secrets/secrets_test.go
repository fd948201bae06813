package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
)

func newKey(t testing.TB) []byte {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newBucket(t testing.TB) jetstream.KeyValue {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: Bucket, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func newStore(t testing.TB, kv jetstream.KeyValue, master []byte, previous ...[]byte) *Store {
	t.Helper()
	kr, err := NewKeyring(master, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return NewStore(kv, kr)
}

func TestKeyIDAndParse(t *testing.T) {
	k := bytes.Repeat([]byte{7}, 32)
	if id := KeyID(k); len(id) != 16 || id != KeyID(append([]byte(nil), k...)) {
		t.Fatalf("KeyID = %q", id)
	}
	for _, s := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k) + "\n"} {
		got, err := ParseMasterKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseMasterKey(%q) = %v", s, err)
		}
	}
	if _, err := ParseMasterKey(base64.StdEncoding.EncodeToString(k[:16])); !errors.Is(err, ErrBadKey) {
		t.Errorf("16-byte key: %v", err)
	}
	if _, err := ParseMasterKey("!!!"); !errors.Is(err, ErrBadKey) {
		t.Errorf("junk: %v", err)
	}
}

func TestLoadKeyring(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	env := map[string]string{EnvMasterKey: base64.StdEncoding.EncodeToString(k1),
		EnvPreviousKeys: base64.StdEncoding.EncodeToString(k2)}
	kr, err := LoadKeyring(func(k string) string { return env[k] })
	if err != nil || kr.CurrentID() != KeyID(k1) || len(kr.IDs()) != 2 {
		t.Fatalf("env: %v %v", kr, err)
	}
	file := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(file, k2, 0o600); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{EnvMasterKeyFile: file}
	if kr, err = LoadKeyring(func(k string) string { return env[k] }); err != nil || kr.CurrentID() != KeyID(k2) {
		t.Fatalf("file: %v %v", kr, err)
	}
	if _, err := LoadKeyring(func(string) string { return "" }); err == nil {
		t.Fatal("no key configured must fail")
	}
	if s := kr.String(); bytes.Contains([]byte(s), []byte(base64.StdEncoding.EncodeToString(k2))) {
		t.Fatal("keyring String leaks the key")
	}
}

func TestRoundTripListDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, newBucket(t), newKey(t))
	secret := []byte("consumer-secret-123")
	if err := s.Put(ctx, "commerce.default", secret); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "commerce.default")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Get = %q %v", got, err)
	}
	e, _ := s.kv.Get(ctx, "commerce.default")
	if bytes.Contains(e.Value(), secret) {
		t.Fatal("plaintext stored in KV")
	}
	creds := netsuite.Credentials{AccountID: "123_SB1", ClientID: "cid", CertificateID: "kid", PrivateKeyPEM: []byte("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n")}
	if err := s.PutJSON(ctx, "netsuite.default", creds); err != nil {
		t.Fatal(err)
	}
	var back netsuite.Credentials
	if err := s.GetJSON(ctx, "netsuite.default", &back); err != nil || back.ClientID != "cid" || !bytes.Equal(back.PrivateKeyPEM, creds.PrivateKeyPEM) {
		t.Fatalf("GetJSON = %v %v", back, err)
	}
	names, err := s.List(ctx)
	if err != nil || len(names) != 2 {
		t.Fatalf("List = %v %v", names, err)
	}
	if err := s.Delete(ctx, "commerce.default"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "commerce.default"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Put(ctx, "bad name", secret); err == nil {
		t.Fatal("bad name accepted")
	}
}

func TestEmptyList(t *testing.T) {
	s := newStore(t, newBucket(t), newKey(t))
	if names, err := s.List(context.Background()); err != nil || len(names) != 0 {
		t.Fatalf("List = %v %v", names, err)
	}
}

func TestTamperDetection(t *testing.T) {
	ctx := context.Background()
	kv := newBucket(t)
	s := newStore(t, kv, newKey(t))
	if err := s.Put(ctx, "netsuite.default", []byte("private key material")); err != nil {
		t.Fatal(err)
	}
	e, _ := kv.Get(ctx, "netsuite.default")
	orig := e.Value()
	for i := range orig {
		for _, bit := range []byte{0x01, 0x80} {
			bad := append([]byte(nil), orig...)
			bad[i] ^= bit
			got, err := s.keys.Open("netsuite.default", bad)
			if err == nil || got != nil || !(errors.Is(err, ErrDecrypt) || errors.Is(err, ErrUnknownKey)) {
				t.Fatalf("byte %d flipped: %q %v", i, got, err)
			}
		}
	}
	// Through the store too: flip the last byte (inside the GCM tag).
	bad := append([]byte(nil), orig...)
	bad[len(bad)-1] ^= 0xff
	if _, err := kv.Put(ctx, "netsuite.default", bad); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "netsuite.default"); !errors.Is(err, ErrDecrypt) || got != nil {
		t.Fatalf("tampered Get = %q %v", got, err)
	}
	if _, err := s.keys.Open("x", orig[:10]); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("truncated: %v", err)
	}
}

func TestWrongMasterKey(t *testing.T) {
	ctx := context.Background()
	kv := newBucket(t)
	if err := newStore(t, kv, newKey(t)).Put(ctx, "a", []byte("s")); err != nil {
		t.Fatal(err)
	}
	got, err := newStore(t, kv, newKey(t)).Get(ctx, "a")
	if !errors.Is(err, ErrUnknownKey) || got != nil {
		t.Fatalf("wrong key: %q %v", got, err)
	}
}

func TestRenameAttack(t *testing.T) {
	ctx := context.Background()
	kv := newBucket(t)
	s := newStore(t, kv, newKey(t))
	if err := s.Put(ctx, "commerce.evil", []byte("attacker-controlled")); err != nil {
		t.Fatal(err)
	}
	e, _ := kv.Get(ctx, "commerce.evil")
	if _, err := kv.Put(ctx, "netsuite.default", e.Value()); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "netsuite.default"); !errors.Is(err, ErrDecrypt) || got != nil {
		t.Fatalf("moved value opened: %q %v", got, err)
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	kv := newBucket(t)
	oldKey, newK := newKey(t), newKey(t)
	s := newStore(t, kv, oldKey)
	want := map[string]string{"netsuite.default": "n", "commerce.default": "c", "commerce.b2b": "b"}
	for k, v := range want {
		if err := s.Put(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Rotate(ctx, newK)
	if err != nil || n != 3 {
		t.Fatalf("Rotate = %d %v", n, err)
	}
	if n, err := s.Rotate(ctx, newK); err != nil || n != 0 {
		t.Fatalf("second Rotate = %d %v, want nothing to do", n, err)
	}
	onlyNew := newStore(t, kv, newK) // the old key is gone
	for k, v := range want {
		got, err := onlyNew.Get(ctx, k)
		if err != nil || string(got) != v {
			t.Fatalf("%s after rotation: %q %v", k, got, err)
		}
	}
	if _, err := newStore(t, kv, oldKey).Get(ctx, "netsuite.default"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old key alone still opens: %v", err)
	}
}

func TestWatchSeesUpdate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := newStore(t, newBucket(t), newKey(t))
	if err := s.Put(ctx, "netsuite.default", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	changes := make(chan Change, 10)
	done := make(chan error, 1)
	wctx, stop := context.WithCancel(ctx)
	go func() { done <- s.Watch(wctx, "netsuite.*", func(c Change) { changes <- c }) }()
	next := func() Change {
		select {
		case c := <-changes:
			return c
		case <-ctx.Done():
			t.Fatal("no change seen")
		}
		return Change{}
	}
	if c := next(); string(c.Value) != "v1" || c.Err != nil || c.Name != "netsuite.default" {
		t.Fatalf("initial = %+v", c)
	}
	if err := s.Put(ctx, "netsuite.default", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if c := next(); string(c.Value) != "v2" || c.Err != nil {
		t.Fatalf("update = %+v", c)
	}
	if err := s.Delete(ctx, "netsuite.default"); err != nil {
		t.Fatal(err)
	}
	if c := next(); !c.Deleted {
		t.Fatalf("delete = %+v", c)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Watch returned %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	kr, err := NewKeyring(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	sealed, _ := kr.Seal("n", []byte("secret"))
	f.Add(sealed)
	f.Add([]byte("MLCS\x01\x10"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := kr.Open("n", b)
		if err == nil && !bytes.Equal(got, []byte("secret")) {
			t.Fatalf("opened forged value %q", got)
		}
		if err != nil && got != nil {
			t.Fatal("data returned with an error")
		}
	})
}
