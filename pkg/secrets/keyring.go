// Package secrets is the encrypted credential store: envelope encryption
// with AES-256-GCM under a master key, kept in the JetStream KV bucket
// mlc_credentials. Each secret gets its own random data key; the data key
// is wrapped by the master key, so rotating the master key rewraps 32-byte
// keys and never touches the secrets themselves. The secret's name is
// authenticated with both layers, so a value copied to another name fails.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
)

// Sentinels.
var (
	// ErrDecrypt: the stored value is corrupt, tampered with, or was sealed
	// for another name. Never returned together with data.
	ErrDecrypt = errors.New("secrets: cannot decrypt (tampered, corrupt or moved)")
	// ErrUnknownKey: the value is sealed under a master key the keyring lacks.
	ErrUnknownKey = errors.New("secrets: sealed under an unknown master key")
	// ErrNotFound: no secret of that name.
	ErrNotFound = errors.New("secrets: not found")
	// ErrBadKey: a master key that is not 32 bytes.
	ErrBadKey = errors.New("secrets: master key must be 32 bytes (base64)")
)

// Environment variables of the master key.
const (
	EnvMasterKey     = "MLC_MASTER_KEY"      // base64 of 32 bytes
	EnvMasterKeyFile = "MLC_MASTER_KEY_FILE" // a file holding the same (or the 32 raw bytes)
	// EnvPreviousKeys lists earlier master keys (base64, comma-separated)
	// still needed to read secrets not yet rotated.
	EnvPreviousKeys = "MLC_MASTER_KEY_PREVIOUS"
)

const (
	keySize    = 32
	nonceSize  = 12
	magic      = "MLCS"
	version    = 1
	wrappedLen = keySize + 16 // data key + GCM tag
)

// KeyID names a master key: the first 8 bytes of its SHA-256, in hex.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// ParseMasterKey decodes a base64 (standard or URL, padded or not) master
// key and checks its length.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != keySize {
				return nil, fmt.Errorf("%w, got %d", ErrBadKey, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: not base64", ErrBadKey)
}

// Keyring holds the current master key and older ones still able to open
// secrets. Safe for concurrent use.
type Keyring struct {
	mu      sync.RWMutex
	current string
	keys    map[string]cipher.AEAD
}

// NewKeyring makes current the sealing key; previous keys only open.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	for _, p := range previous {
		if _, err := k.add(p); err != nil {
			return nil, err
		}
	}
	id, err := k.add(current)
	if err != nil {
		return nil, err
	}
	k.current = id
	return k, nil
}

// LoadKeyring reads the master key from MLC_MASTER_KEY or
// MLC_MASTER_KEY_FILE, and earlier keys from MLC_MASTER_KEY_PREVIOUS.
// getenv is os.Getenv in services.
func LoadKeyring(getenv func(string) string) (*Keyring, error) {
	var cur []byte
	switch v, file := getenv(EnvMasterKey), getenv(EnvMasterKeyFile); {
	case v != "":
		k, err := ParseMasterKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		cur = k
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKeyFile, err)
		}
		if len(data) == keySize {
			cur = data
		} else if cur, err = ParseMasterKey(string(data)); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKeyFile, err)
		}
	default:
		return nil, fmt.Errorf("secrets: set %s or %s", EnvMasterKey, EnvMasterKeyFile)
	}
	var prev [][]byte
	for _, p := range strings.Split(getenv(EnvPreviousKeys), ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		k, err := ParseMasterKey(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvPreviousKeys, err)
		}
		prev = append(prev, k)
	}
	return NewKeyring(cur, prev...)
}

// GenerateKey returns a fresh random master key.
func GenerateKey() ([]byte, error) {
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *Keyring) add(key []byte) (string, error) {
	if len(key) != keySize {
		return "", fmt.Errorf("%w, got %d", ErrBadKey, len(key))
	}
	aead, err := newGCM(key)
	if err != nil {
		return "", err
	}
	id := KeyID(key)
	k.mu.Lock()
	k.keys[id] = aead
	k.mu.Unlock()
	return id, nil
}

// SetCurrent adds key (if new) and seals with it from now on.
func (k *Keyring) SetCurrent(key []byte) (string, error) {
	id, err := k.add(key)
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	k.current = id
	k.mu.Unlock()
	return id, nil
}

// CurrentID is the id of the sealing key.
func (k *Keyring) CurrentID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// IDs lists the key ids held, sorted.
func (k *Keyring) IDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// String shows key ids only.
func (k *Keyring) String() string {
	return fmt.Sprintf("secrets.Keyring{current:%s keys:%v}", k.CurrentID(), k.IDs())
}

func (k *Keyring) aead(id string) (cipher.AEAD, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	a, ok := k.keys[id]
	return a, ok
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Associated data binds each layer to the secret's name (and the wrap to
// the master key id), so values cannot be moved between names.
func dataAD(name string) []byte { return []byte("mlc-secret/v1\x00" + name) }
func wrapAD(name, kid string) []byte {
	return []byte("mlc-dek/v1\x00" + kid + "\x00" + name)
}

// envelope is a sealed secret. Binary layout (v1):
//
//	"MLCS" | version(1) | len(kid)(1) | kid | wrapNonce(12) | wrappedKey(48) | nonce(12) | ciphertext+tag
//
// A fixed binary layout has no equivalent encodings (JSON field-name case,
// base64 padding bits), so any changed byte fails to open.
type envelope struct {
	kid        string
	wrapNonce  []byte
	wrappedKey []byte
	nonce      []byte
	ciphertext []byte
}

func (e envelope) marshal() []byte {
	b := make([]byte, 0, len(magic)+2+len(e.kid)+nonceSize+wrappedLen+nonceSize+len(e.ciphertext))
	b = append(b, magic...)
	b = append(b, version, byte(len(e.kid)))
	b = append(b, e.kid...)
	b = append(b, e.wrapNonce...)
	b = append(b, e.wrappedKey...)
	b = append(b, e.nonce...)
	return append(b, e.ciphertext...)
}

func unmarshalEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < len(magic)+2 || string(b[:len(magic)]) != magic {
		return e, fmt.Errorf("%w: not a sealed secret", ErrDecrypt)
	}
	b = b[len(magic):]
	if b[0] != version {
		return e, fmt.Errorf("%w: unknown format version %d", ErrDecrypt, b[0])
	}
	kl := int(b[1])
	b = b[2:]
	if len(b) < kl+nonceSize+wrappedLen+nonceSize+16 {
		return e, fmt.Errorf("%w: truncated", ErrDecrypt)
	}
	e.kid, b = string(b[:kl]), b[kl:]
	e.wrapNonce, b = b[:nonceSize], b[nonceSize:]
	e.wrappedKey, b = b[:wrappedLen], b[wrappedLen:]
	e.nonce, e.ciphertext = b[:nonceSize], b[nonceSize:]
	return e, nil
}

// Seal encrypts plaintext for name under the current master key.
func (k *Keyring) Seal(name string, plaintext []byte) ([]byte, error) {
	dek, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	data, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	e := envelope{nonce: randomNonce(), wrapNonce: randomNonce()}
	e.ciphertext = data.Seal(nil, e.nonce, plaintext, dataAD(name))
	if err := k.wrap(&e, name, dek); err != nil {
		return nil, err
	}
	return e.marshal(), nil
}

func (k *Keyring) wrap(e *envelope, name string, dek []byte) error {
	k.mu.RLock()
	kid := k.current
	master := k.keys[kid]
	k.mu.RUnlock()
	if master == nil {
		return errors.New("secrets: keyring has no current key")
	}
	e.kid = kid
	e.wrapNonce = randomNonce()
	e.wrappedKey = master.Seal(nil, e.wrapNonce, dek, wrapAD(name, kid))
	return nil
}

func (k *Keyring) unwrap(e envelope, name string) ([]byte, error) {
	master, ok := k.aead(e.kid)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, e.kid)
	}
	dek, err := master.Open(nil, e.wrapNonce, e.wrappedKey, wrapAD(name, e.kid))
	if err != nil {
		return nil, fmt.Errorf("%w: data key of %q", ErrDecrypt, name)
	}
	return dek, nil
}

// Open decrypts a value sealed for name.
func (k *Keyring) Open(name string, sealed []byte) ([]byte, error) {
	e, err := unmarshalEnvelope(sealed)
	if err != nil {
		return nil, err
	}
	dek, err := k.unwrap(e, name)
	if err != nil {
		return nil, err
	}
	data, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	pt, err := data.Open(nil, e.nonce, e.ciphertext, dataAD(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrDecrypt, name)
	}
	return pt, nil
}

// Rewrap re-seals the data key of a sealed value under the current master
// key; the secret's ciphertext is unchanged. changed is false when it was
// already under the current key.
func (k *Keyring) Rewrap(name string, sealed []byte) (out []byte, changed bool, err error) {
	e, err := unmarshalEnvelope(sealed)
	if err != nil {
		return nil, false, err
	}
	if e.kid == k.CurrentID() {
		return sealed, false, nil
	}
	dek, err := k.unwrap(e, name)
	if err != nil {
		return nil, false, err
	}
	// Prove the data key opens the secret before discarding the old wrap.
	data, err := newGCM(dek)
	if err != nil {
		return nil, false, err
	}
	if _, err := data.Open(nil, e.nonce, e.ciphertext, dataAD(name)); err != nil {
		return nil, false, fmt.Errorf("%w: %q", ErrDecrypt, name)
	}
	if err := k.wrap(&e, name, dek); err != nil {
		return nil, false, err
	}
	return e.marshal(), true, nil
}

func randomNonce() []byte {
	n := make([]byte, nonceSize)
	if _, err := rand.Read(n); err != nil {
		// crypto/rand never fails on supported platforms (Go ≥1.24 panics itself).
		panic(err)
	}
	return n
}
