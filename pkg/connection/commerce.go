// Package connection stores and loads the connections to Commerce stores and
// to NetSuite as encrypted secrets (pkg/secrets in the mlc_credentials
// bucket). `mlc connect` writes them; services read them at start and watch
// them for changes.
package connection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

// ErrNotConnected means no connection of that name has been stored.
var ErrNotConnected = errors.New("not connected")

const commercePrefix = "commerce."

// Commerce is one store's connection: REST access for the backfill poll and
// catalogue writes, and how its webhooks are verified. The JSON form holds
// secrets in clear and only ever goes into the encrypted store; String masks.
type Commerce struct {
	Store string `json:"store"`
	// StoreID is the store view's numeric id, which orders, invoices and
	// webhook payloads carry instead of the code. 0: looked up at start.
	StoreID      int64    `json:"store_id,omitempty"`
	BaseURL      string   `json:"base_url"` // everything before V1
	Flavour      string   `json:"flavour"`  // paas | saas
	Auth         string   `json:"auth"`     // oauth1 | ims
	OAuth1       OAuth1   `json:"oauth1"`
	OAuth1Bearer bool     `json:"oauth1_bearer,omitempty"`
	IMS          IMS      `json:"ims"`
	Webhook      Webhook  `json:"webhook"`
	IOEvents     IOEvents `json:"io_events"`
}

// OAuth1 are the four values of a Commerce integration.
type OAuth1 struct {
	ConsumerKey       string `json:"consumer_key,omitempty"`
	ConsumerSecret    string `json:"consumer_secret,omitempty"`
	AccessToken       string `json:"access_token,omitempty"`
	AccessTokenSecret string `json:"access_token_secret,omitempty"`
}

// IMS is an Adobe Developer Console server-to-server project.
type IMS struct {
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	OrgID        string   `json:"org_id,omitempty"`
	TokenURL     string   `json:"token_url,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
}

// Webhook says how the store's webhooks are verified: mode rsa with the
// public keys from the Commerce admin (current and previous during a
// rotation), hmac with shared secrets, or none (local development only).
type Webhook struct {
	Mode       string   `json:"mode"`
	PublicKeys []string `json:"public_keys,omitempty"` // PEM
	Secrets    []string `json:"secrets,omitempty"`
}

// IOEvents configures Adobe I/O Events deliveries (optional).
type IOEvents struct {
	ClientID   string   `json:"client_id,omitempty"`   // recipient_client_id we accept
	PublicKeys []string `json:"public_keys,omitempty"` // PEM, from static.adobeioevents.com
}

// String masks every secret.
func (c Commerce) String() string {
	return fmt.Sprintf("Commerce{Store:%s BaseURL:%s Flavour:%s Auth:%s Webhook:%s}", c.Store, c.BaseURL, c.Flavour, c.Auth, c.Webhook.Mode)
}

// GoString masks like String.
func (c Commerce) GoString() string { return c.String() }

// Validate reports what is missing, naming the setting.
func (c Commerce) Validate() error {
	var errs []error
	if c.Store == "" {
		errs = append(errs, errors.New("store code is empty"))
	}
	if c.BaseURL == "" {
		errs = append(errs, errors.New("base URL is empty"))
	}
	switch c.Webhook.Mode {
	case commerce.VerifyRSA:
		if len(c.Webhook.PublicKeys) == 0 {
			errs = append(errs, errors.New("webhook mode rsa needs the public key from the Commerce admin"))
		}
	case commerce.VerifyHMAC:
		if len(c.Webhook.Secrets) == 0 {
			errs = append(errs, errors.New("webhook mode hmac needs a shared secret"))
		}
	case commerce.VerifyNone:
	default:
		errs = append(errs, fmt.Errorf("webhook mode %q: want rsa, hmac or none", c.Webhook.Mode))
	}
	if len(c.IOEvents.PublicKeys) > 0 && c.IOEvents.ClientID == "" {
		errs = append(errs, errors.New("I/O Events needs the client id deliveries must be addressed to (recipient_client_id)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("commerce connection %q: %w", c.Store, err)
	}
	return nil
}

// ClientConfig is the configuration of the REST client.
func (c Commerce) ClientConfig() commerce.Config {
	return commerce.Config{
		BaseURL: c.BaseURL,
		Auth:    c.Auth,
		Flavour: c.Flavour,
		OAuth1: commerce.OAuth1Credentials{
			ConsumerKey: c.OAuth1.ConsumerKey, ConsumerSecret: c.OAuth1.ConsumerSecret,
			AccessToken: c.OAuth1.AccessToken, AccessTokenSecret: c.OAuth1.AccessTokenSecret,
		},
		OAuth1Bearer: c.OAuth1Bearer,
		IMS: commerce.IMSCredentials{
			ClientID: c.IMS.ClientID, ClientSecret: c.IMS.ClientSecret, OrgID: c.IMS.OrgID,
			TokenURL: c.IMS.TokenURL, Scopes: c.IMS.Scopes,
		},
	}
}

// Verifier builds the webhook verifier of the configured mode.
func (c Commerce) Verifier() (commerce.WebhookVerifier, error) {
	var material [][]byte
	switch c.Webhook.Mode {
	case commerce.VerifyRSA:
		for _, k := range c.Webhook.PublicKeys {
			material = append(material, []byte(k))
		}
	case commerce.VerifyHMAC:
		for _, s := range c.Webhook.Secrets {
			material = append(material, []byte(s))
		}
	}
	v, err := commerce.NewVerifier(c.Webhook.Mode, material)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", c.Store, err)
	}
	return v, nil
}

// CommerceSecretName is the credential name of a store's connection.
func CommerceSecretName(store string) string {
	return commercePrefix + event.EncodeIDPart(store)
}

// SaveCommerce validates and stores c encrypted.
func SaveCommerce(ctx context.Context, s *secrets.Store, c Commerce) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return s.PutJSON(ctx, CommerceSecretName(c.Store), c)
}

// LoadCommerce reads one store's connection.
func LoadCommerce(ctx context.Context, s *secrets.Store, store string) (Commerce, error) {
	var c Commerce
	err := s.GetJSON(ctx, CommerceSecretName(store), &c)
	if errors.Is(err, secrets.ErrNotFound) {
		return c, fmt.Errorf("commerce store %q: %w (run `mlc connect commerce`)", store, ErrNotConnected)
	}
	return c, err
}

// ListCommerce reads every stored store connection.
func ListCommerce(ctx context.Context, s *secrets.Store) ([]Commerce, error) {
	names, err := s.List(ctx, commercePrefix+"*")
	if err != nil {
		return nil, err
	}
	var out []Commerce
	for _, n := range names {
		if !strings.HasPrefix(n, commercePrefix) {
			continue
		}
		var c Commerce
		if err := s.GetJSON(ctx, n, &c); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// WatchCommerce calls fn with every stored store connection now and on
// every change, until ctx ends. A deletion names only the key, so the store
// code it reports is the one the deleted value held (or, for a value never
// read, the decoded key name): a store code such as "en_us" or "us.east"
// must be revoked exactly.
func WatchCommerce(ctx context.Context, s *secrets.Store, fn func(c Commerce, deleted bool, err error)) error {
	stores := map[string]string{} // secret name -> store code of its last value
	return s.Watch(ctx, commercePrefix+"*", func(ch secrets.Change) {
		if ch.Deleted {
			code, ok := stores[ch.Name]
			if !ok {
				if code, ok = storeFromSecretName(ch.Name); !ok {
					fn(Commerce{}, true, fmt.Errorf("%s deleted: %w", ch.Name, errNotAStoreName))
					return
				}
			}
			delete(stores, ch.Name)
			fn(Commerce{Store: code}, true, nil)
			return
		}
		if ch.Err != nil {
			fn(Commerce{}, false, fmt.Errorf("%s: %w", ch.Name, ch.Err))
			return
		}
		var c Commerce
		if err := json.Unmarshal(ch.Value, &c); err != nil {
			fn(Commerce{}, false, fmt.Errorf("%s: %w", ch.Name, err))
			return
		}
		stores[ch.Name] = c.Store
		fn(c, false, nil)
	})
}

var errNotAStoreName = errors.New("not a name CommerceSecretName gives, so its store is unknown")

// storeFromSecretName inverts CommerceSecretName: "__" is '_', "_XX" the
// byte of hex XX. Only the canonical encoding decodes, so two names never
// give the same store.
func storeFromSecretName(name string) (string, bool) {
	enc, ok := strings.CutPrefix(name, commercePrefix)
	if !ok {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '_' {
			b.WriteByte(c)
			continue
		}
		switch {
		case i+1 < len(enc) && enc[i+1] == '_':
			b.WriteByte('_')
			i++
		case i+2 < len(enc):
			v, err := strconv.ParseUint(enc[i+1:i+3], 16, 8)
			if err != nil {
				return "", false
			}
			b.WriteByte(byte(v))
			i += 2
		default:
			return "", false
		}
	}
	store := b.String()
	if CommerceSecretName(store) != name {
		return "", false // not canonical (lowercase hex, an escaped letter, ...)
	}
	return store, true
}
