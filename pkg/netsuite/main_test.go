package netsuite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

// Keys are generated once per test binary: RSA generation is slow under -race.
type testKeySet struct {
	rsa              *rsa.PrivateKey
	p256, p384, p521 *ecdsa.PrivateKey
}

var keys testKeySet

func TestMain(m *testing.M) {
	var err error
	if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	for _, k := range []struct {
		dst   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{{&keys.p256, elliptic.P256()}, {&keys.p384, elliptic.P384()}, {&keys.p521, elliptic.P521()}} {
		if *k.dst, err = ecdsa.GenerateKey(k.curve, rand.Reader); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}

func pkcs8PEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
