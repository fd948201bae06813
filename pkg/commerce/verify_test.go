package commerce

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// phpBody is what Commerce sends: json_encode with default flags (\/ escaped,
// non-ASCII as \uXXXX, no spaces, [] for empty objects).
const phpBody = `{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"000000042","customer_email":"jos\u00e9@example.com","store_id":"1","grand_total":104.59,"items":[{"sku":"MS09-M-Red","name":"T\/shirt <b>"}],"extension_attributes":[]}},"subject":[]}`

var (
	keyOnce sync.Once
	keyA    *rsa.PrivateKey
	keyB    *rsa.PrivateKey
)

// testKeys generates two RSA keys once per test binary (key generation is slow under -race).
func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

func pubPEM(t testing.TB, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// commerceSign signs like Adobe's module: openssl_sign(base64_encode(body), SHA256).
func commerceSign(t testing.TB, k *rsa.PrivateKey, body []byte) string {
	t.Helper()
	d := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(body)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func hdr(name, v string) http.Header {
	h := http.Header{}
	if v != "" {
		h.Set(name, v)
	}
	return h
}

func TestRSAVerifier(t *testing.T) {
	a, b := testKeys(t)
	v, err := NewRSAVerifier(pubPEM(t, a))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(phpBody)
	sig := commerceSign(t, a, body)

	if err := v.Verify(body, hdr(HeaderWebhookSignature, sig)); err != nil {
		t.Fatalf("body signed the Commerce way: %v", err)
	}
	// Whitespace around the header value is tolerated.
	if err := v.Verify(body, hdr(HeaderWebhookSignature, " "+sig+"\n")); err != nil {
		t.Fatalf("padded header: %v", err)
	}

	// The same content re-serialised by encoding/json is other bytes.
	var m any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	reenc, _ := json.Marshal(m)
	if bytes.Equal(reenc, body) {
		t.Fatal("test body should differ after re-encoding")
	}
	if err := v.Verify(reenc, hdr(HeaderWebhookSignature, sig)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("re-encoded body: got %v, want ErrBadSignature", err)
	}

	// Signing the raw body (no base64 step) is not what Commerce does.
	d := sha256.Sum256(body)
	rawSig, _ := rsa.SignPKCS1v15(rand.Reader, a, crypto.SHA256, d[:])
	if err := v.Verify(body, hdr(HeaderWebhookSignature, base64.StdEncoding.EncodeToString(rawSig))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("raw-body signature: got %v", err)
	}

	for i := range body {
		tampered := bytes.Clone(body)
		tampered[i] ^= 0x01
		if err := v.Verify(tampered, hdr(HeaderWebhookSignature, sig)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("tampered byte %d: got %v", i, err)
		}
		if i > 40 {
			break
		}
	}
	if err := v.Verify(body, hdr(HeaderWebhookSignature, commerceSign(t, b, body))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other key: got %v", err)
	}
	if err := v.Verify(body, http.Header{}); !errors.Is(err, ErrMissingSignature) {
		t.Fatalf("missing header: got %v", err)
	}
	if err := v.Verify(body, hdr(HeaderWebhookSignature, "%%%not-base64")); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("garbage header: got %v", err)
	}
}

func TestRSAVerifierRotation(t *testing.T) {
	a, b := testKeys(t)
	// Two keys in two inputs, and two keys in one PEM bundle.
	for name, keys := range map[string][][]byte{
		"separate": {pubPEM(t, a), pubPEM(t, b)},
		"bundle":   {append(pubPEM(t, a), pubPEM(t, b)...)},
	} {
		v, err := NewVerifier(VerifyRSA, keys)
		if err != nil {
			t.Fatal(name, err)
		}
		body := []byte(phpBody)
		for _, k := range []*rsa.PrivateKey{a, b} {
			if err := v.Verify(body, hdr(HeaderWebhookSignature, commerceSign(t, k, body))); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	}
}

func TestParseKeysRefusesNonRSA(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	a, _ := testKeys(t)
	cases := map[string][]byte{
		"ecdsa":   pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"pkcs1":   pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&a.PublicKey)}),
		"private": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(a)}),
		"garbage": []byte("not a key"),
		"empty":   nil,
	}
	for name, k := range cases {
		if _, err := NewRSAVerifier(k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewRSAVerifier(); err == nil {
		t.Error("no keys: accepted")
	}
	if v, err := NewVerifier(VerifyRSA, [][]byte{[]byte("x")}); err == nil || v != nil {
		t.Errorf("NewVerifier with a bad key: %v, %v", v, err)
	}
}

func hmacSig(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestHMACVerifier(t *testing.T) {
	secret := []byte("s3cret")
	v, err := NewVerifier(VerifyHMAC, [][]byte{secret})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(phpBody)
	if err := v.Verify(body, hdr(HeaderWebhookSignature, hmacSig(secret, body))); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(body, hdr(HeaderWebhookSignature, hmacSig([]byte("other"), body))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
	// HMAC over base64(body) (the RSA recipe) is not the HMAC mode.
	if err := v.Verify(body, hdr(HeaderWebhookSignature, hmacSig(secret, []byte(base64.StdEncoding.EncodeToString(body))))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("base64 variant: %v", err)
	}
	if err := v.Verify(body, http.Header{}); !errors.Is(err, ErrMissingSignature) {
		t.Fatalf("missing header: %v", err)
	}
	// An RSA-signed delivery never passes HMAC mode.
	a, _ := testKeys(t)
	if err := v.Verify(body, hdr(HeaderWebhookSignature, commerceSign(t, a, body))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("rsa signature in hmac mode: %v", err)
	}
	custom, _ := NewHMACVerifier(secret)
	if err := custom.WithHeader("X-Relay-Signature").Verify(body, hdr("X-Relay-Signature", hmacSig(secret, body))); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHMACVerifier(); err == nil {
		t.Fatal("no secret accepted")
	}
	if _, err := NewHMACVerifier([]byte{}); err == nil {
		t.Fatal("empty secret accepted")
	}
}

func TestVerifierModes(t *testing.T) {
	v, err := NewVerifier(VerifyNone, nil)
	if err != nil || v.Verify([]byte("x"), http.Header{}) != nil {
		t.Fatalf("none: %v", err)
	}
	for _, mode := range []string{"", "RSA", "auto", "hmac-sha256"} {
		if _, err := NewVerifier(mode, [][]byte{[]byte("k")}); err == nil {
			t.Errorf("mode %q accepted", mode)
		}
	}
}

func ioSign(t testing.TB, k *rsa.PrivateKey, body []byte) string {
	d := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

const ioBody = `{"specversion":"1.0","id":"ce-1","source":"urn:uuid:x","type":"com.adobe.commerce.observer.sales_order_invoice_save_after","time":"2026-01-02T03:04:05Z","event_id":"ev-1","recipient_client_id":"client-1","data":{"key":"k1","value":{"increment_id":"000000007","order_id":"3","state":"2","grand_total":10.5},"source":"shop.prod","_metadata":{"commerceEdition":"Adobe Commerce","storeId":"1","websiteId":"1","storeGroupId":"1"}}}`

func TestIOEventsVerifier(t *testing.T) {
	a, b := testKeys(t)
	v, err := NewIOEventsVerifier("client-1", pubPEM(t, a), pubPEM(t, b))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(ioBody)
	h := http.Header{}
	h.Set(HeaderIOSignature1, "bm9wZQ==")         // invalid
	h.Set(HeaderIOSignature2, ioSign(t, b, body)) // valid: either is enough
	if err := v.Verify(body, h); err != nil {
		t.Fatal(err)
	}
	h.Set(HeaderIOSignature2, commerceSign(t, b, body)) // the webhook recipe is not the I/O recipe
	if err := v.Verify(body, h); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("base64-body signature: %v", err)
	}
	if err := v.Verify(body, http.Header{}); !errors.Is(err, ErrMissingSignature) {
		t.Fatalf("no headers: %v", err)
	}
	other := bytes.Replace(body, []byte("client-1"), []byte("client-2"), 1)
	h = http.Header{}
	h.Set(HeaderIOSignature1, ioSign(t, a, other))
	if err := v.Verify(other, h); !errors.Is(err, ErrWrongRecipient) {
		t.Fatalf("other recipient: %v", err)
	}
}

func TestChallenge(t *testing.T) {
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r := httptest.NewRequest(m, "/webhooks/io?challenge=abc%2F1", nil)
		c, ok := Challenge(r)
		if !ok || c != "abc/1" {
			t.Fatalf("%s: %q %v", m, c, ok)
		}
		w := httptest.NewRecorder()
		if err := WriteChallenge(w, c); err != nil {
			t.Fatal(err)
		}
		if w.Code != 200 || w.Body.String() != `{"challenge":"abc/1"}` || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("answer %d %q", w.Code, w.Body.String())
		}
	}
	if _, ok := Challenge(httptest.NewRequest(http.MethodPost, "/webhooks/io", nil)); ok {
		t.Fatal("challenge without parameter")
	}
}

// FuzzVerifiers: nothing panics, and a signature verifies only if it is
// the genuine one for exactly that body (RSA PKCS#1 v1.5 and HMAC are
// deterministic, so the genuine signature is known); the genuine one does
// verify, and flipping any bit of it or of the body makes it fail.
func FuzzVerifiers(f *testing.F) {
	a, _ := testKeys(f)
	rv, err := NewRSAVerifier(pubPEM(f, a))
	if err != nil {
		f.Fatal(err)
	}
	secret := []byte("s3cret")
	hv, _ := NewHMACVerifier(secret)
	iv, _ := NewIOEventsVerifier("client-1", pubPEM(f, a))
	f.Add([]byte(phpBody), commerceSign(f, a, []byte(phpBody)), uint16(0))
	f.Add([]byte(ioBody), ioSign(f, a, []byte(ioBody)), uint16(9))
	f.Add([]byte(phpBody), commerceSign(f, a, []byte(phpBody+" ")), uint16(3))
	f.Add([]byte{}, "", uint16(0))
	f.Add([]byte("{}"), "====", uint16(1))
	f.Fuzz(func(t *testing.T, body []byte, sig string, flip uint16) {
		h := http.Header{}
		h.Set(HeaderWebhookSignature, sig)
		h.Set(HeaderIOSignature1, sig)
		decoded, decErr := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
		genuine := map[string][]byte{
			"rsa":       mustDecode(t, commerceSign(t, a, body)),
			"hmac":      hmacSum(secret, body),
			"io-events": mustDecode(t, ioSign(t, a, body)),
		}
		verifiers := map[string]WebhookVerifier{"rsa": rv, "hmac": hv, "io-events": iv}
		for name, v := range verifiers {
			err := v.Verify(body, h)
			if err == nil && (decErr != nil || !bytes.Equal(decoded, genuine[name])) {
				t.Fatalf("%s accepted a forged signature %q for %q", name, sig, body)
			}
			if sig == "" && !errors.Is(err, ErrMissingSignature) {
				t.Fatalf("%s: empty signature: %v", name, err)
			}
		}
		// The genuine signature verifies (I/O Events also wants its
		// recipient, so only the RSA and HMAC schemes here) ...
		for _, c := range []struct {
			name string
			v    WebhookVerifier
		}{{"rsa", rv}, {"hmac", hv}} {
			good := genuine[c.name]
			if err := c.v.Verify(body, hdr(HeaderWebhookSignature, base64.StdEncoding.EncodeToString(good))); err != nil {
				t.Fatalf("%s: genuine signature refused: %v", c.name, err)
			}
			// ... and one flipped bit of it, or of the body, does not.
			forged := append([]byte(nil), good...)
			forged[int(flip/8)%len(forged)] ^= 1 << (flip % 8)
			if err := c.v.Verify(body, hdr(HeaderWebhookSignature, base64.StdEncoding.EncodeToString(forged))); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("%s: signature with bit %d flipped: %v", c.name, flip, err)
			}
			if len(body) > 0 {
				tampered := append([]byte(nil), body...)
				tampered[int(flip/8)%len(tampered)] ^= 1 << (flip % 8)
				if err := c.v.Verify(tampered, hdr(HeaderWebhookSignature, base64.StdEncoding.EncodeToString(good))); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("%s: body with bit %d flipped: %v", c.name, flip, err)
				}
			}
		}
	})
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hmacSum(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)
}
