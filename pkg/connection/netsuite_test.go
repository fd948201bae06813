package connection_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// buckets starts a JetStream server and opens both buckets the connection
// package uses.
func buckets(t *testing.T) (*secrets.Store, jetstream.KeyValue) {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	ctx := context.Background()
	creds, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: secrets.Bucket, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	settings, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: connection.SettingsBucket, History: 10})
	if err != nil {
		t.Fatal(err)
	}
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	return secrets.NewStore(creds, ring), settings
}

// rsaKeyPEM is an RSA key NetSuite accepts for a certificate (3072 bits).
func rsaKeyPEM(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestNetSuiteRoundTripAndToken(t *testing.T) {
	store, _ := buckets(t)
	ctx := context.Background()
	sim := netsuitesim.NewTestServer(t, netsuitesim.Config{ClientID: "client-1"})
	key, keyPEM := rsaKeyPEM(t)
	sim.RegisterCertificate("cert-1", &key.PublicKey)

	if _, err := connection.LoadNetSuite(ctx, store); !errors.Is(err, connection.ErrNotConnected) {
		t.Fatalf("load before save: %v, want ErrNotConnected", err)
	}
	want := connection.NetSuite{AccountID: "1234567", ClientID: "client-1", CertificateID: "cert-1",
		PrivateKeyPEM: keyPEM, BaseURL: sim.URL(), Algorithm: "PS256", Scopes: []string{"rest_webservices"}}
	if err := connection.SaveNetSuite(ctx, store, want); err != nil {
		t.Fatal(err)
	}
	got, err := connection.LoadNetSuite(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if got.PrivateKeyPEM != want.PrivateKeyPEM || got.AccountID != want.AccountID || got.ClientID != want.ClientID ||
		got.CertificateID != want.CertificateID || got.BaseURL != want.BaseURL || got.Algorithm != want.Algorithm ||
		fmt.Sprint(got.Scopes) != fmt.Sprint(want.Scopes) {
		t.Fatalf("loaded %v, want %v", got, want)
	}
	c, err := got.Client()
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != sim.URL() {
		t.Errorf("client base URL %q, want the override %q", c.BaseURL(), sim.URL())
	}
	if c.Algorithm() != "PS256" {
		t.Errorf("algorithm %q", c.Algorithm())
	}
	if err := c.Token(ctx); err != nil {
		t.Fatalf("token with the loaded connection: %v", err)
	}
	// The sealed bytes in the bucket do not contain the key.
	raw, err := store.List(ctx)
	if err != nil || len(raw) != 1 || raw[0] != connection.NetSuiteSecretName {
		t.Fatalf("names %v, %v", raw, err)
	}
}

func TestNetSuiteValidate(t *testing.T) {
	_, rsaPEM := rsaKeyPEM(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	ok := connection.NetSuite{AccountID: "123_SB1", ClientID: "c", CertificateID: "k", PrivateKeyPEM: rsaPEM}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid connection: %v", err)
	}
	c, err := ok.Client()
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != "https://123-sb1.suitetalk.api.netsuite.com" {
		t.Errorf("derived base URL %q", c.BaseURL())
	}
	cases := []struct {
		name string
		mut  func(*connection.NetSuite)
		want string
	}{
		{"no account", func(n *connection.NetSuite) { n.AccountID = "" }, "account id"},
		{"no client", func(n *connection.NetSuite) { n.ClientID = " " }, "client id"},
		{"no cert", func(n *connection.NetSuite) { n.CertificateID = "" }, "certificate id"},
		{"no key", func(n *connection.NetSuite) { n.PrivateKeyPEM = "" }, "private key"},
		{"bad key", func(n *connection.NetSuite) { n.PrivateKeyPEM = "-----BEGIN NOTHING-----\n" }, "private key"},
		{"bad base", func(n *connection.NetSuite) { n.BaseURL = "ftp:/x" }, "base URL"},
		{"alg vs key", func(n *connection.NetSuite) { n.PrivateKeyPEM = ecPEM; n.Algorithm = "PS256" }, "PS256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := ok
			tc.mut(&n)
			err := n.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming %q", err, tc.want)
			}
			if err := connection.SaveNetSuite(context.Background(), nil, n); err == nil {
				t.Fatal("SaveNetSuite stored an invalid connection")
			}
		})
	}
}

func TestNetSuiteMasks(t *testing.T) {
	_, keyPEM := rsaKeyPEM(t)
	n := connection.NetSuite{AccountID: "1234567", ClientID: "client-1", CertificateID: "cert-1", PrivateKeyPEM: keyPEM}
	body := strings.Split(strings.TrimSpace(keyPEM), "\n")[1] // a line of base64 key material
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{n, &n, []connection.NetSuite{n}, struct{ C connection.NetSuite }{n}} {
			out := fmt.Sprintf(f, v)
			if strings.Contains(out, body) || strings.Contains(out, "PRIVATE KEY") {
				t.Errorf("%s of %T leaks the key: %s", f, v, out)
			}
			if !strings.Contains(out, "cert-1") {
				t.Errorf("%s of %T hides the certificate id: %s", f, v, out)
			}
		}
	}
	c := connection.Commerce{Store: "default", OAuth1: connection.OAuth1{ConsumerSecret: "s3cr3t-consumer", AccessTokenSecret: "s3cr3t-token"},
		IMS: connection.IMS{ClientSecret: "s3cr3t-ims"}, Webhook: connection.Webhook{Mode: "hmac", Secrets: []string{"s3cr3t-hook"}}}
	for _, f := range []string{"%v", "%+v", "%#v"} {
		for _, v := range []any{c, &c} {
			if out := fmt.Sprintf(f, v); strings.Contains(out, "s3cr3t") {
				t.Errorf("%s of commerce connection leaks a secret: %s", f, out)
			}
		}
	}
}

func TestNetSuiteWatch(t *testing.T) {
	store, _ := buckets(t)
	_, keyPEM := rsaKeyPEM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type seen struct {
		n       connection.NetSuite
		deleted bool
	}
	ch := make(chan seen, 4)
	done := make(chan error, 1)
	go func() {
		done <- connection.WatchNetSuite(ctx, store, func(n connection.NetSuite, deleted bool, err error) {
			if err != nil {
				t.Error(err)
			}
			ch <- seen{n, deleted}
		})
	}()
	n := connection.NetSuite{AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKeyPEM: keyPEM}
	if err := connection.SaveNetSuite(ctx, store, n); err != nil {
		t.Fatal(err)
	}
	if s := <-ch; s.deleted || s.n.CertificateID != "k" {
		t.Fatalf("first change %+v", s)
	}
	if err := store.Delete(ctx, connection.NetSuiteSecretName); err != nil {
		t.Fatal(err)
	}
	if s := <-ch; !s.deleted {
		t.Fatalf("second change %+v, want deleted", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestNetSuiteSettings(t *testing.T) {
	_, kv := buckets(t)
	ctx := context.Background()
	if _, err := connection.LoadNetSuiteSettings(ctx, kv); !errors.Is(err, connection.ErrNotConnected) {
		t.Fatalf("load before save: %v", err)
	}
	if err := connection.SaveNetSuiteSettings(ctx, kv, connection.NetSuiteSettings{OneWorld: true}); err == nil ||
		!strings.Contains(err.Error(), "default subsidiary") {
		t.Fatalf("OneWorld without mapping saved: %v", err)
	}
	want := connection.NetSuiteSettings{OneWorld: true, Default: "1", ByStore: map[string]string{"uk": "3"},
		ByWebsite: map[string]string{"us_site": "2"}, ConcurrencyLimit: 4, AccountConcurrencyLimit: 15,
		SubsidiaryNames: map[string]string{"1": "Parent", "2": "US", "3": "UK"}}
	if err := connection.SaveNetSuiteSettings(ctx, kv, want); err != nil {
		t.Fatal(err)
	}
	got, err := connection.LoadNetSuiteSettings(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("loaded %+v, want %+v", got, want)
	}
	// Plain JSON, not sealed: other tools can read it.
	e, err := kv.Get(ctx, connection.NetSuiteSettingsKey)
	if err != nil || !strings.Contains(string(e.Value()), `"by_store":{"uk":"3"}`) {
		t.Fatalf("stored value %q, %v", e.Value(), err)
	}
	for _, tc := range []struct{ store, website, want string }{
		{"uk", "us_site", "3"}, {"us", "us_site", "2"}, {"other", "", "1"},
	} {
		if s := got.SubsidiaryFor(tc.store, tc.website); s != tc.want {
			t.Errorf("SubsidiaryFor(%q, %q) = %q, want %q", tc.store, tc.website, s, tc.want)
		}
	}
	if fmt.Sprint(got.MappedSubsidiaries()) != "[1 2 3]" {
		t.Errorf("mapped %v", got.MappedSubsidiaries())
	}
	if s := (connection.NetSuiteSettings{Default: "1"}).SubsidiaryFor("x", ""); s != "" {
		t.Errorf("not OneWorld but subsidiary %q", s)
	}
}

func pkcs8PEM(t *testing.T, k any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// NetSuite's M2M certificates are RSA 3072 or 4096 bits or EC P-256/384/521
// (reference netsuite-rest.md §2): anything else is refused here, with the
// reason, not by NetSuite later with a bare invalid_grant.
func TestNetSuiteKeyStrength(t *testing.T) {
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsa3072, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	ecKey := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa2048)}))
	for _, c := range []struct {
		name, pem, refusal string
	}{
		{"RSA 2048 PKCS#8", pkcs8PEM(t, rsa2048), "RSA key of 2048 bits"},
		{"RSA 2048 PKCS#1", pkcs1, "RSA key of 2048 bits"},
		{"EC P-224", pkcs8PEM(t, ecKey(elliptic.P224())), "P-224"},
		{"RSA 3072", pkcs8PEM(t, rsa3072), ""},
		{"EC P-256", pkcs8PEM(t, ecKey(elliptic.P256())), ""},
		{"EC P-384", pkcs8PEM(t, ecKey(elliptic.P384())), ""},
		{"EC P-521", pkcs8PEM(t, ecKey(elliptic.P521())), ""},
	} {
		n := connection.NetSuite{AccountID: "1234567", ClientID: "c", CertificateID: "k", PrivateKeyPEM: c.pem}
		err := n.Validate()
		switch {
		case c.refusal == "" && err != nil:
			t.Errorf("%s refused: %v", c.name, err)
		case c.refusal != "" && (err == nil || !strings.Contains(err.Error(), c.refusal) || !strings.Contains(err.Error(), "3072")):
			t.Errorf("%s: %v, want a refusal naming %q and what NetSuite takes", c.name, err, c.refusal)
		}
	}
}
