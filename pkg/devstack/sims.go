package devstack

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// Dev credentials of the simulators. They are not secrets: they only open
// the local simulators.
const (
	SimAccountID     = "1234567"
	SimClientID      = "mlc-dev-client"
	SimCertificateID = "mlc-dev-cert"
)

// SimOptions configure StartSims. Empty addresses pick free ports.
type SimOptions struct {
	Dir          string // keys are kept here so connections survive restarts
	NetSuiteAddr string
	CommerceAddr string
	NetSuite     netsuitesim.Config // AccountID and ClientID default to the Sim* constants
	Commerce     commercesim.Config // Webhooks.PrivateKey is filled from Dir
}

// Sims are both simulators served over HTTP.
type Sims struct {
	NetSuite    *netsuitesim.Server
	Commerce    *commercesim.Server
	NetSuiteURL string
	CommerceURL string
	KeyFile     string // the NetSuite client's private key (PEM)
	WebhookKey  *rsa.PrivateKey
	// WebhookPublicKeyFile holds the webhook key's public half, as the
	// Commerce admin shows it (for `mlc connect commerce`).
	WebhookPublicKeyFile string

	netsuiteKeyPEM []byte
	servers        []*http.Server
}

// StartSims starts both simulators. The NetSuite client key (EC P-256, so
// ES256) and the Commerce webhook signing key (RSA 2048, like the Commerce
// admin's) are created in Dir on first use and reused afterwards.
func StartSims(o SimOptions) (*Sims, error) {
	if o.Dir == "" {
		return nil, errors.New("devstack: SimOptions.Dir is required")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &Sims{KeyFile: filepath.Join(o.Dir, "netsuite-client-key.pem")}
	nsKey, nsPEM, err := loadOrCreateKey(s.KeyFile, func() (crypto.Signer, error) {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if err != nil {
		return nil, err
	}
	s.netsuiteKeyPEM = nsPEM
	whKey, _, err := loadOrCreateKey(filepath.Join(o.Dir, "commerce-webhook-key.pem"), func() (crypto.Signer, error) {
		return rsa.GenerateKey(rand.Reader, 2048)
	})
	if err != nil {
		return nil, err
	}
	s.WebhookKey = whKey.(*rsa.PrivateKey)
	pub, err := publicPEM(s.WebhookKey)
	if err != nil {
		return nil, err
	}
	s.WebhookPublicKeyFile = filepath.Join(o.Dir, "commerce-webhook-public.pem")
	if err := os.WriteFile(s.WebhookPublicKeyFile, []byte(pub), 0o644); err != nil {
		return nil, err
	}

	nsCfg := o.NetSuite
	if nsCfg.AccountID == "" {
		nsCfg.AccountID = SimAccountID
	}
	if nsCfg.ClientID == "" {
		nsCfg.ClientID = SimClientID
	}
	s.NetSuite = netsuitesim.New(nsCfg)
	s.NetSuite.RegisterCertificate(SimCertificateID, nsKey.Public())
	if s.NetSuiteURL, err = s.serve(o.NetSuiteAddr, s.NetSuite); err != nil {
		return nil, err
	}
	s.NetSuite.SetBaseURL(s.NetSuiteURL)

	cmCfg := o.Commerce
	if cmCfg.FirstNumber == 0 {
		// The dev stack keeps its JetStream data across restarts while the
		// simulator starts empty: number orders from the clock (100 per
		// second of wall time) so a restart never reuses increment ids,
		// which JetStream would drop as duplicates.
		cmCfg.FirstNumber = int(time.Now().Unix()%1_000_000)*100 + 1
	}
	if cmCfg.Webhooks.BaseURL != "" && cmCfg.Webhooks.PrivateKey == nil && cmCfg.Webhooks.Mode != "hmac" && cmCfg.Webhooks.Mode != "none" {
		cmCfg.Webhooks.PrivateKey = s.WebhookKey
	}
	s.Commerce = commercesim.New(cmCfg)
	if s.CommerceURL, err = s.serve(o.CommerceAddr, s.Commerce); err != nil {
		_ = s.Stop(context.Background())
		return nil, err
	}
	s.Commerce.SetBaseURL(s.CommerceURL)
	return s, nil
}

func (s *Sims) serve(addr string, h http.Handler) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("simulator on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// NetSuiteConnection is a working connection to the NetSuite simulator.
func (s *Sims) NetSuiteConnection() connection.NetSuite {
	return connection.NetSuite{
		AccountID: SimAccountID, ClientID: SimClientID, CertificateID: SimCertificateID,
		PrivateKeyPEM: string(s.netsuiteKeyPEM), BaseURL: s.NetSuiteURL,
	}
}

// SaveConnections stores working connections to both simulators,
// encrypted under keys in mlc_credentials, as `mlc connect` would.
func (s *Sims) SaveConnections(ctx context.Context, js jetstream.JetStream, keys *secrets.Keyring) error {
	kv, err := js.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", secrets.Bucket, err)
	}
	creds := secrets.NewStore(kv, keys)
	conns, err := s.CommerceConnections()
	if err != nil {
		return err
	}
	for _, c := range conns {
		if err := connection.SaveCommerce(ctx, creds, c); err != nil {
			return err
		}
	}
	return connection.SaveNetSuite(ctx, creds, s.NetSuiteConnection())
}

// CommerceConnections are working connections to every simulated store,
// verifying webhooks with the simulator's signing key.
func (s *Sims) CommerceConnections() ([]connection.Commerce, error) {
	pub, err := publicPEM(s.WebhookKey)
	if err != nil {
		return nil, err
	}
	cfg := s.Commerce.Config()
	oa := cfg.OAuth1
	var out []connection.Commerce
	for _, st := range cfg.Stores {
		c := connection.Commerce{
			Store: st.Code, StoreID: int64(st.ID), BaseURL: s.Commerce.StoreBaseURL(st.Code), Flavour: string(cfg.Flavour), Auth: "oauth1",
			OAuth1: connection.OAuth1{ConsumerKey: oa.ConsumerKey, ConsumerSecret: oa.ConsumerSecret,
				AccessToken: oa.AccessToken, AccessTokenSecret: oa.AccessTokenSecret},
			Webhook: connection.Webhook{Mode: "rsa", PublicKeys: []string{pub}},
		}
		if cfg.Flavour == commercesim.SaaS {
			ims := cfg.IMS
			c.Auth = "ims"
			c.IMS = connection.IMS{ClientID: ims.ClientID, ClientSecret: ims.ClientSecret, OrgID: ims.OrgID, TokenURL: s.CommerceURL + "/ims/token/v3"}
		}
		switch cfg.Webhooks.Mode {
		case "hmac":
			c.Webhook = connection.Webhook{Mode: "hmac", Secrets: []string{string(cfg.Webhooks.Secret)}}
		case "none":
			c.Webhook = connection.Webhook{Mode: "none"}
		}
		out = append(out, c)
	}
	return out, nil
}

// Stop shuts both HTTP servers down.
func (s *Sims) Stop(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		errs = append(errs, srv.Shutdown(ctx))
	}
	if s.Commerce != nil {
		s.Commerce.Close()
	}
	return errors.Join(errs...)
}

func publicPEM(k *rsa.PrivateKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// loadOrCreateKey reads a PKCS#8 private key from path, or generates one and
// writes it there (0600).
func loadOrCreateKey(path string, gen func() (crypto.Signer, error)) (crypto.Signer, []byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, nil, fmt.Errorf("%s: no PEM block", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		signer, ok := k.(crypto.Signer)
		if !ok {
			return nil, nil, fmt.Errorf("%s: %T is not a signing key", path, k)
		}
		return signer, b, nil
	}
	k, err := gen()
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, nil, err
	}
	return k, b, nil
}
