package commerce

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Header names of inbound deliveries.
const (
	HeaderWebhookSignature = "x-adobe-commerce-webhook-signature"
	HeaderWebhookRequestID = "x-adobe-commerce-request-id"
	HeaderIOSignature1     = "x-adobe-digital-signature-1"
	HeaderIOSignature2     = "x-adobe-digital-signature-2"
)

// Webhook verification modes (configuration values, never taken from a request).
const (
	VerifyRSA  = "rsa"  // Adobe's module: RSA PKCS#1 v1.5 SHA-256 over base64(body)
	VerifyHMAC = "hmac" // relay/middleware: base64(HMAC-SHA256(secret, body))
	VerifyNone = "none" // local development only
)

var (
	// ErrMissingSignature: the signature header is absent or empty.
	ErrMissingSignature = errors.New("commerce: missing signature")
	// ErrBadSignature: the signature does not verify with any configured key.
	ErrBadSignature = errors.New("commerce: bad signature")
	// ErrWrongRecipient: an I/O Events delivery addressed to another client id.
	ErrWrongRecipient = errors.New("commerce: wrong recipient_client_id")
)

// WebhookVerifier checks an inbound delivery over its raw body bytes, exactly
// as received. It must run before the body is decoded.
type WebhookVerifier interface {
	Verify(raw []byte, h http.Header) error
}

// NewVerifier builds the verifier for a configured mode: "rsa" takes one or
// more PEM public keys (current and previous, for rotation), "hmac" takes one
// or more shared secrets, "none" accepts everything (local development).
func NewVerifier(mode string, keysOrSecrets [][]byte) (WebhookVerifier, error) {
	switch mode {
	case VerifyRSA:
		v, err := NewRSAVerifier(keysOrSecrets...)
		if err != nil {
			return nil, err
		}
		return v, nil
	case VerifyHMAC:
		v, err := NewHMACVerifier(keysOrSecrets...)
		if err != nil {
			return nil, err
		}
		return v, nil
	case VerifyNone:
		return noneVerifier{}, nil
	default:
		return nil, fmt.Errorf("commerce: webhook verification mode %q: want %q, %q or %q", mode, VerifyRSA, VerifyHMAC, VerifyNone)
	}
}

type noneVerifier struct{}

func (noneVerifier) Verify([]byte, http.Header) error { return nil }

// RSAVerifier verifies the signature of Adobe's webhooks module (ref §5.2).
type RSAVerifier struct {
	keys []*rsa.PublicKey
}

// NewRSAVerifier parses PEM "PUBLIC KEY" (SubjectPublicKeyInfo) RSA keys; an
// input may hold several PEM blocks. At least one key is required.
func NewRSAVerifier(pemKeys ...[]byte) (*RSAVerifier, error) {
	keys, err := ParseRSAPublicKeys(pemKeys...)
	if err != nil {
		return nil, err
	}
	return &RSAVerifier{keys: keys}, nil
}

// Verify checks x-adobe-commerce-webhook-signature: RSA PKCS#1 v1.5 SHA-256
// over the ASCII of base64.StdEncoding(raw).
func (v *RSAVerifier) Verify(raw []byte, h http.Header) error {
	sig, err := signatureHeader(h, HeaderWebhookSignature)
	if err != nil {
		return err
	}
	digest := base64Digest(raw)
	for _, k := range v.keys {
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not verify with any of %d configured key(s)", ErrBadSignature, HeaderWebhookSignature, len(v.keys))
}

// base64Digest is sha256(base64.StdEncoding(raw)), what Commerce signs,
// without building the base64 copy: the body is encoded in pieces of a
// multiple of 3 bytes (so no piece but the last is padded) straight into
// the hash. A webhook body would otherwise cost two copies a third larger
// than itself on every request.
func base64Digest(raw []byte) [sha256.Size]byte {
	const in = 3 * 256
	var buf [in / 3 * 4]byte
	h := sha256.New()
	for len(raw) > 0 {
		n := min(len(raw), in)
		m := base64.StdEncoding.EncodedLen(n)
		base64.StdEncoding.Encode(buf[:m], raw[:n])
		h.Write(buf[:m])
		raw = raw[n:]
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// HMACVerifier verifies base64(HMAC-SHA256(secret, raw body)), the scheme of a
// signing relay; Adobe's module never produces it.
type HMACVerifier struct {
	secrets [][]byte
	header  string
}

// NewHMACVerifier takes one or more shared secrets (several during rotation).
func NewHMACVerifier(secrets ...[]byte) (*HMACVerifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("commerce: hmac verifier: no secret configured")
	}
	for i, s := range secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("commerce: hmac verifier: secret %d is empty", i)
		}
	}
	return &HMACVerifier{secrets: secrets, header: HeaderWebhookSignature}, nil
}

// WithHeader returns a copy reading the signature from another header.
func (v *HMACVerifier) WithHeader(name string) *HMACVerifier {
	c := *v
	c.header = name
	return &c
}

// Verify compares in constant time against every configured secret.
func (v *HMACVerifier) Verify(raw []byte, h http.Header) error {
	sig, err := signatureHeader(h, v.header)
	if err != nil {
		return err
	}
	for _, s := range v.secrets {
		m := hmac.New(sha256.New, s)
		m.Write(raw)
		if hmac.Equal(m.Sum(nil), sig) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not match the shared secret", ErrBadSignature, v.header)
}

func signatureHeader(h http.Header, name string) ([]byte, error) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return nil, fmt.Errorf("%w: header %s", ErrMissingSignature, name)
	}
	sig, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not base64: %v", ErrBadSignature, name, err)
	}
	return sig, nil
}

// ParseRSAPublicKeys parses every "PUBLIC KEY" PEM block of the inputs and
// refuses anything that is not RSA.
func ParseRSAPublicKeys(pemKeys ...[]byte) ([]*rsa.PublicKey, error) {
	var keys []*rsa.PublicKey
	for i, data := range pemKeys {
		n := 0
		for {
			var block *pem.Block
			block, data = pem.Decode(data)
			if block == nil {
				break
			}
			if block.Type != "PUBLIC KEY" {
				return nil, fmt.Errorf("commerce: key %d: PEM block %q, want \"PUBLIC KEY\"", i, block.Type)
			}
			pub, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("commerce: key %d: %w", i, err)
			}
			rk, ok := pub.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("commerce: key %d: %T is not an RSA key", i, pub)
			}
			keys = append(keys, rk)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("commerce: key %d: no PEM \"PUBLIC KEY\" block", i)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("commerce: no public key configured")
	}
	return keys, nil
}

// IOEventsVerifier verifies Adobe I/O Events deliveries (ref §6): RSA-SHA256
// signatures over the raw body in x-adobe-digital-signature-1/-2 (either one
// valid is enough) and, when a client id is configured, recipient_client_id.
type IOEventsVerifier struct {
	keys     []*rsa.PublicKey
	clientID string
}

// NewIOEventsVerifier takes our client id (empty skips the recipient check)
// and the PEM public keys fetched from static.adobeioevents.com.
func NewIOEventsVerifier(clientID string, pemKeys ...[]byte) (*IOEventsVerifier, error) {
	keys, err := ParseRSAPublicKeys(pemKeys...)
	if err != nil {
		return nil, err
	}
	return &IOEventsVerifier{keys: keys, clientID: clientID}, nil
}

// Verify checks the signatures, then the recipient.
func (v *IOEventsVerifier) Verify(raw []byte, h http.Header) error {
	digest := sha256.Sum256(raw)
	present := false
	valid := false
	for _, name := range []string{HeaderIOSignature1, HeaderIOSignature2} {
		val := strings.TrimSpace(h.Get(name))
		if val == "" {
			continue
		}
		present = true
		sig, err := base64.StdEncoding.DecodeString(val)
		if err != nil {
			continue
		}
		for _, k := range v.keys {
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil {
				valid = true
				break
			}
		}
		if valid {
			break
		}
	}
	if !present {
		return fmt.Errorf("%w: headers %s / %s", ErrMissingSignature, HeaderIOSignature1, HeaderIOSignature2)
	}
	if !valid {
		return fmt.Errorf("%w: neither I/O Events signature verifies with the %d configured key(s)", ErrBadSignature, len(v.keys))
	}
	if v.clientID == "" {
		return nil
	}
	var env struct {
		Recipient *string `json:"recipient_client_id"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%w: I/O event body: %v", ErrMalformed, err)
	}
	if env.Recipient == nil {
		return fmt.Errorf("%w: recipient_client_id missing", ErrWrongRecipient)
	}
	if *env.Recipient != v.clientID {
		return fmt.Errorf("%w: got %q", ErrWrongRecipient, *env.Recipient)
	}
	return nil
}

// Challenge returns the I/O Events registration probe value, read from the
// "challenge" query parameter of a GET or POST (ref §6).
func Challenge(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return "", false
	}
	c := r.URL.Query().Get("challenge")
	return c, c != ""
}

// WriteChallenge answers the probe with 200 {"challenge":"..."}.
func WriteChallenge(w http.ResponseWriter, challenge string) error {
	b, err := json.Marshal(struct {
		Challenge string `json:"challenge"`
	}{challenge})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}
