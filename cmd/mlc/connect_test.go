package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// cliEnv is a JetStream server with every bucket applied (by `mlc streams
// apply`) and a master key in the environment.
type cliEnv struct {
	srv *server.Server
	key []byte
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{srv: natstest.RunServer(t), key: key}
	t.Setenv("MLC_NATS_URL", e.srv.ClientURL())
	t.Setenv(secrets.EnvMasterKey, base64.StdEncoding.EncodeToString(key))
	t.Setenv(secrets.EnvMasterKeyFile, "")
	t.Setenv(secrets.EnvPreviousKeys, "")
	for _, v := range []string{"MLC_NATS_CREDS", "MLC_NETSUITE_BASE_URL", "MLC_NETSUITE_ACCOUNT", "MLC_COMMERCE_BASE_URL",
		"MLC_COMMERCE_STORE", "MLC_COMMERCE_AUTH", "MLC_INGEST_URL"} {
		t.Setenv(v, "")
	}
	if out, err := mlc(t, "", "streams", "apply"); err != nil {
		t.Fatalf("streams apply: %v\n%s", err, out)
	}
	return e
}

// mlc runs one command line and returns everything it printed.
func mlc(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

// store opens the credential store and settings bucket directly, with the
// given master keys.
func (e *cliEnv) store(t *testing.T, current []byte, previous ...[]byte) (*secrets.Store, jetstream.KeyValue) {
	t.Helper()
	_, js := natstest.Connect(t, e.srv)
	ctx := context.Background()
	creds, err := js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := js.KeyValue(ctx, connection.SettingsBucket)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return secrets.NewStore(creds, ring), settings
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func rsaKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// netsuiteKey is an RSA key NetSuite accepts for an M2M certificate
// (3072 bits), PKCS#8 PEM.
func netsuiteKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func publicPEM(t *testing.T, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func netsuiteSim(t *testing.T) (*netsuitesim.Server, string) {
	t.Helper()
	sim := netsuitesim.NewTestServer(t, netsuitesim.Config{ClientID: "mlc-client", OneWorld: true,
		GovernanceLimits: netsuitesim.GovernanceLimits{AccountConcurrencyLimit: 5, AccountUnallocatedConcurrencyLimit: 5,
			IntegrationConcurrencyLimit: 3, IntegrationLimitType: "integrationSpecific"}})
	key, keyPEM := netsuiteKey(t)
	sim.RegisterCertificate("cert-1", &key.PublicKey)
	return sim, writeFile(t, "netsuite.pem", keyPEM)
}

func TestConnectNetSuiteOneWorld(t *testing.T) {
	e := newCLIEnv(t)
	sim, keyFile := netsuiteSim(t)
	base := []string{"connect", "netsuite", "--account", "1234567", "--client-id", "mlc-client", "--cert-id", "cert-1",
		"--key-file", keyFile, "--base-url", sim.URL()}

	// Not a terminal and no mapping: refused, naming the flags and the subsidiaries.
	out, err := mlc(t, "", base...)
	if err == nil {
		t.Fatalf("OneWorld without a mapping connected:\n%s", out)
	}
	for _, want := range []string{"OneWorld", "--default-subsidiary", "--store-subsidiary", "UK Store", "Parent Company"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// An id the account does not have.
	if _, err := mlc(t, "", append(base, "--default-subsidiary", "99")...); err == nil || !strings.Contains(err.Error(), `"99" does not exist`) {
		t.Fatalf("unknown subsidiary: %v", err)
	}
	s, settingsKV := e.store(t, e.key)
	if _, err := connection.LoadNetSuite(context.Background(), s); !errors.Is(err, connection.ErrNotConnected) {
		t.Fatalf("a failed connect stored something: %v", err)
	}

	out, err = mlc(t, "", append(base, "--default-subsidiary", "1", "--store-subsidiary", "uk=3",
		"--website-subsidiary", "us_site=2", "--concurrency", "10")...)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, out)
	}
	for _, want := range []string{"OneWorld", "yes", sim.URL(), "PS256", "store uk", "3 (UK Store)", "website us_site", "concurrency"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("summary prints the key:\n%s", out)
	}

	ctx := context.Background()
	n, err := connection.LoadNetSuite(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := n.Client()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Token(ctx); err != nil {
		t.Fatalf("token with the stored connection: %v", err)
	}
	set, err := connection.LoadNetSuiteSettings(ctx, settingsKV)
	if err != nil {
		t.Fatal(err)
	}
	if !set.OneWorld || set.Default != "1" || set.ByStore["uk"] != "3" || set.ByWebsite["us_site"] != "2" || set.SubsidiaryNames["3"] != "UK Store" {
		t.Errorf("settings %+v", set)
	}
	// min(--concurrency 10, integration limit 3, account limit 5 - 1)
	if set.ConcurrencyLimit != 3 || set.AccountConcurrencyLimit != 5 {
		t.Errorf("concurrency %d (account %d), want 3 (5)", set.ConcurrencyLimit, set.AccountConcurrencyLimit)
	}
	if got := set.SubsidiaryFor("uk", ""); got != "3" {
		t.Errorf("uk maps to %q", got)
	}
}

func TestConnectNetSuiteWrongCredentials(t *testing.T) {
	newCLIEnv(t)
	sim, keyFile := netsuiteSim(t)
	_, otherKey := netsuiteKey(t)
	otherFile := writeFile(t, "other.pem", otherKey)
	cases := []struct {
		name, client, cert, key string
		want                    []string
	}{
		{"cert id", "mlc-client", "cert-unknown", keyFile, []string{"certificate ID", `"cert-unknown"`, "hint:"}},
		{"client id", "someone-else", "cert-1", keyFile, []string{"client ID", `"someone-else"`, "hint:"}},
		{"key", "mlc-client", "cert-1", otherFile, []string{"private key", "signature does not verify", "hint:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := mlc(t, "", "connect", "netsuite", "--account", "1234567", "--client-id", tc.client, "--cert-id", tc.cert,
				"--key-file", tc.key, "--base-url", sim.URL(), "--default-subsidiary", "1")
			if err == nil {
				t.Fatalf("connected with a wrong %s:\n%s", tc.name, out)
			}
			if !errors.Is(err, netsuite.ErrAuthConfig) {
				t.Errorf("error is not ErrAuthConfig: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
}

// A key NetSuite would refuse is refused before anything is sent to it.
func TestConnectNetSuiteRefusesWeakKeysLocally(t *testing.T) {
	newCLIEnv(t)
	sim, _ := netsuiteSim(t)
	weak, weakPEM := rsaKey(t) // 2048 bits
	sim.RegisterCertificate("cert-2048", &weak.PublicKey)
	_, err := mlc(t, "", "connect", "netsuite", "--account", "1234567", "--client-id", "mlc-client", "--cert-id", "cert-2048",
		"--key-file", writeFile(t, "weak.pem", weakPEM), "--base-url", sim.URL(), "--default-subsidiary", "1")
	if err == nil || !strings.Contains(err.Error(), "2048 bits") || !strings.Contains(err.Error(), "3072") {
		t.Fatalf("RSA-2048 key: %v", err)
	}
	if n := len(sim.Requests()); n != 0 {
		t.Errorf("%d requests reached NetSuite with a key it refuses", n)
	}
}

// scripted answers prompts from a list, like an operator at a terminal.
type scripted struct {
	answers []string
	asked   []string
}

func (s *scripted) Ask(q string) (string, error) {
	s.asked = append(s.asked, q)
	if len(s.answers) == 0 {
		return "", errors.New("no more answers")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

func (s *scripted) Println(string) {}

func TestVerifyNetSuiteInteractive(t *testing.T) {
	sim, keyFile := netsuiteSim(t)
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	p := &scripted{answers: []string{"3", "42", "2", "", "1"}}
	res, err := verifyNetSuite(context.Background(), netsuiteConnectInput{
		Conn: connection.NetSuite{AccountID: "1234567", ClientID: "mlc-client", CertificateID: "cert-1",
			PrivateKeyPEM: string(keyPEM), BaseURL: sim.URL()},
		Stores: []string{"uk", "us"}, ExtraStores: []string{"b2b", "uk"}, Prompt: p,
	})
	if err != nil {
		t.Fatal(err)
	}
	// b2b -> 3; uk -> 42 refused, then 2; us -> default; default -> 1.
	if len(p.asked) != 5 || !strings.Contains(p.asked[0], `"b2b"`) || !strings.Contains(p.asked[1], `"uk"`) || !strings.Contains(p.asked[3], `"us"`) {
		t.Fatalf("questions %q", p.asked)
	}
	got := res.Settings
	if got.ByStore["b2b"] != "3" || got.ByStore["uk"] != "2" || got.ByStore["us"] != "" || got.Default != "1" {
		t.Fatalf("mapping %+v", got)
	}
	if res.Concurrency != 2 { // setting 0 -> default 2, below the limits of 3 and 5-1
		t.Errorf("concurrency %d", res.Concurrency)
	}
}

func TestVerifyNetSuiteNotOneWorld(t *testing.T) {
	sim := netsuitesim.NewTestServer(t, netsuitesim.Config{ClientID: "mlc-client", NoDefaultData: true})
	sim.AddSubsidiary("1", "Only Company")
	key, keyPEM := netsuiteKey(t)
	sim.RegisterCertificate("cert-1", &key.PublicKey)
	res, err := verifyNetSuite(context.Background(), netsuiteConnectInput{
		Conn: connection.NetSuite{AccountID: "1234567", ClientID: "mlc-client", CertificateID: "cert-1",
			PrivateKeyPEM: string(keyPEM), BaseURL: sim.URL()},
		Concurrency: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OneWorld || res.Settings.OneWorld {
		t.Fatalf("one subsidiary taken as OneWorld: %+v", res)
	}
	// min(--concurrency 8, the simulator's default account limit 5 - 1)
	if res.Concurrency != 4 || res.Governance == nil || res.Governance.AccountConcurrencyLimit != 5 {
		t.Errorf("concurrency %d with governance %+v, want 4", res.Concurrency, res.Governance)
	}
}

func commerceArgs(sim *commercesim.Server, store string) []string {
	o := commercesim.DefaultOAuth1()
	return []string{"connect", "commerce", "--store", store, "--base-url", sim.StoreBaseURL(store), "--auth", "oauth1",
		"--consumer-key", o.ConsumerKey, "--consumer-secret", o.ConsumerSecret,
		"--access-token", o.AccessToken, "--access-token-secret", o.AccessTokenSecret,
		"--ingest-url", "https://ingest.example.com:8081/"}
}

func TestConnectCommercePaaS(t *testing.T) {
	e := newCLIEnv(t)
	sim := commercesim.NewTestServer(t, commercesim.Config{})
	hookKey, _ := rsaKey(t)
	pubFile := writeFile(t, "webhook.pub", publicPEM(t, hookKey))
	out, err := mlc(t, "", append(commerceArgs(sim, "default"), "--webhook-mode", "rsa", "--webhook-public-key-file", pubFile)...)
	if err != nil {
		t.Fatalf("connect commerce: %v\n%s", err, out)
	}
	o := commercesim.DefaultOAuth1()
	for _, secret := range []string{o.ConsumerSecret, o.AccessToken, o.AccessTokenSecret} {
		if strings.Contains(out, secret) {
			t.Fatalf("output contains a secret:\n%s", out)
		}
	}
	for _, want := range []string{
		`required="false"`, `timeout="2000"`, `softTimeout="500"`, `ttl="0"`,
		`<method name="observer.sales_order_place_after" type="after">`,
		`<method name="observer.sales_order_invoice_save_after" type="after">`,
		`<method name="observer.customer_register_success" type="after">`,
		`url="https://ingest.example.com:8081/webhooks/commerce/order-placed"`,
		`url="https://ingest.example.com:8081/webhooks/commerce/invoice-captured"`,
		`url="https://ingest.example.com:8081/webhooks/commerce/customer-created"`,
		`<header name="X-Mlc-Store">default</header>`,
		"Digital Signature", "Regenerate key pair",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// The snippet is well-formed XML with three methods.
	start := strings.Index(out, "<?xml")
	end := strings.Index(out, "</config>")
	if start < 0 || end < 0 {
		t.Fatalf("no webhooks.xml in:\n%s", out)
	}
	var doc struct {
		Methods []struct {
			Name string `xml:"name,attr"`
			Hook struct {
				Required string `xml:"required,attr"`
			} `xml:"hooks>batch>hook"`
		} `xml:"method"`
	}
	if err := xml.Unmarshal([]byte(out[start:end+len("</config>")]), &doc); err != nil {
		t.Fatalf("webhooks.xml: %v", err)
	}
	if len(doc.Methods) != 3 || doc.Methods[0].Hook.Required != "false" {
		t.Fatalf("parsed %+v", doc)
	}

	s, _ := e.store(t, e.key)
	c, err := connection.LoadCommerce(context.Background(), s, "default")
	if err != nil {
		t.Fatal(err)
	}
	if c.OAuth1.AccessTokenSecret != o.AccessTokenSecret || c.BaseURL != sim.StoreBaseURL("default") || c.Flavour != "paas" ||
		c.Webhook.Mode != "rsa" || len(c.Webhook.PublicKeys) != 1 || c.StoreID != 1 {
		t.Fatalf("stored %v (store id %d)", c, c.StoreID)
	}
	// The stored store now shows up when connecting NetSuite.
	all, err := connection.ListCommerce(context.Background(), s)
	if err != nil || len(all) != 1 {
		t.Fatalf("list %v, %v", all, err)
	}
}

func TestConnectCommerceRefused(t *testing.T) {
	e := newCLIEnv(t)
	sim := commercesim.NewTestServer(t, commercesim.Config{})
	args := commerceArgs(sim, "default")
	for i, a := range args {
		if a == "--access-token-secret" {
			args[i+1] = "wrong-secret-000000000000000000"
		}
	}
	out, err := mlc(t, "", append(args, "--webhook-mode", "none")...)
	if err == nil || !strings.Contains(err.Error(), "Integrations") {
		t.Fatalf("wrong secret: %v\n%s", err, out)
	}
	s, _ := e.store(t, e.key)
	if names, _ := s.List(context.Background()); len(names) != 0 {
		t.Fatalf("a refused connection was stored: %v", names)
	}
	// hmac without a secret is refused before any request.
	if _, err := mlc(t, "", append(commerceArgs(sim, "default"), "--webhook-mode", "hmac")...); err == nil ||
		!strings.Contains(err.Error(), "shared secret") {
		t.Fatalf("hmac without secret: %v", err)
	}
}

func TestConnectCommerceSaaS(t *testing.T) {
	newCLIEnv(t)
	sim := commercesim.NewTestServer(t, commercesim.Config{Flavour: commercesim.SaaS, Tenant: "t1"})
	ims := commercesim.DefaultIMS()
	out, err := mlc(t, "", "--json", "connect", "commerce", "--store", "default", "--base-url", sim.StoreBaseURL("default"),
		"--auth", "ims", "--ims-client-id", ims.ClientID, "--ims-client-secret", ims.ClientSecret, "--ims-org-id", ims.OrgID,
		"--ims-token-url", sim.URL()+"/ims/token/v3", "--webhook-mode", "hmac", "--webhook-secret", "relay-shared-secret-1",
		"--ingest-url", "https://ingest.example.com")
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, out)
	}
	if strings.Contains(out, ims.ClientSecret) || strings.Contains(out, "relay-shared-secret-1") {
		t.Fatalf("output contains a secret:\n%s", out)
	}
	var res commerceConnectResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Flavour != "saas" || len(res.Subscriptions) != 3 || res.WebhooksXML != "" {
		t.Fatalf("result %+v", res)
	}
	w := res.Subscriptions[1].Webhook
	if w.WebhookMethod != "observer.sales_order_invoice_save_after" || w.Required || w.Timeout != 2000 || w.TTL != 0 ||
		w.URL != "https://ingest.example.com/webhooks/commerce/invoice-captured" ||
		len(w.Headers) != 1 || w.Headers[0] != (hookHeader{Name: "X-Mlc-Store", Value: "default"}) {
		t.Fatalf("subscription %+v", w)
	}
}
