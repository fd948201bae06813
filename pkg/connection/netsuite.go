package connection

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// NetSuiteSecretName is the credential name of the NetSuite connection.
const NetSuiteSecretName = "netsuite"

// SettingsBucket is the KV bucket of non-secret settings.
const SettingsBucket = event.BucketSettings

// NetSuiteSettingsKey is the mlc_settings key of the OneWorld subsidiary
// mapping and the concurrency limit.
const NetSuiteSettingsKey = "netsuite.subsidiaries"

// NetSuite is the account connection: an OAuth 2.0 client-credentials (M2M)
// integration. The JSON form holds the private key in clear and only ever
// goes into the encrypted store; String and GoString mask it.
type NetSuite struct {
	AccountID     string `json:"account_id"`
	ClientID      string `json:"client_id"`
	CertificateID string `json:"certificate_id"`
	PrivateKeyPEM string `json:"private_key_pem"`
	// BaseURL overrides the host derived from the account id (sandboxes
	// behind a proxy, the simulator); empty derives it.
	BaseURL string `json:"base_url,omitempty"`
	// Algorithm forces the JWT algorithm (PS256, ES256, ...); empty picks
	// it from the key.
	Algorithm string   `json:"algorithm,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
}

// String masks the private key.
func (n NetSuite) String() string {
	key := "<none>"
	if n.PrivateKeyPEM != "" {
		key = "<redacted>"
	}
	return fmt.Sprintf("NetSuite{AccountID:%s ClientID:%s CertificateID:%s BaseURL:%s Algorithm:%s Scopes:%v PrivateKeyPEM:%s}",
		n.AccountID, n.ClientID, n.CertificateID, n.BaseURL, n.Algorithm, n.Scopes, key)
}

// GoString masks like String.
func (n NetSuite) GoString() string { return n.String() }

// Validate reports what is missing or unusable, naming the setting. It
// parses the key and builds a client, so a connection that validates can
// at least sign an assertion.
func (n NetSuite) Validate() error {
	var errs []error
	if strings.TrimSpace(n.AccountID) == "" {
		errs = append(errs, errors.New("account id is empty"))
	}
	if strings.TrimSpace(n.ClientID) == "" {
		errs = append(errs, errors.New("client id is empty"))
	}
	if strings.TrimSpace(n.CertificateID) == "" {
		errs = append(errs, errors.New("certificate id is empty"))
	}
	if n.PrivateKeyPEM == "" {
		errs = append(errs, errors.New("private key is empty"))
	} else if key, err := netsuite.ParsePrivateKey([]byte(n.PrivateKeyPEM)); err != nil {
		errs = append(errs, fmt.Errorf("private key: %w", err))
	} else if err := checkKeyStrength(key); err != nil {
		errs = append(errs, err)
	}
	if n.BaseURL != "" {
		if u, err := url.Parse(n.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("base URL %q: want http(s)://host", n.BaseURL))
		}
	}
	if len(errs) == 0 {
		// Algorithm against key type, scopes: the client checks those.
		if _, err := n.Client(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netsuite connection: %w", err)
	}
	return nil
}

// Credentials are the values the client signs with.
func (n NetSuite) Credentials() netsuite.Credentials {
	return netsuite.Credentials{
		AccountID:     strings.TrimSpace(n.AccountID),
		ClientID:      strings.TrimSpace(n.ClientID),
		CertificateID: strings.TrimSpace(n.CertificateID),
		PrivateKeyPEM: []byte(n.PrivateKeyPEM),
	}
}

// Client builds a client honouring BaseURL, Algorithm and Scopes; opts come
// last and may override them.
func (n NetSuite) Client(opts ...netsuite.Option) (*netsuite.Client, error) {
	var all []netsuite.Option
	if n.BaseURL != "" {
		all = append(all, netsuite.WithBaseURL(n.BaseURL))
	}
	if n.Algorithm != "" {
		all = append(all, netsuite.WithAlgorithm(n.Algorithm))
	}
	if len(n.Scopes) > 0 {
		all = append(all, netsuite.WithScopes(n.Scopes...))
	}
	return netsuite.New(n.Credentials(), append(all, opts...)...)
}

// SaveNetSuite validates and stores n encrypted.
func SaveNetSuite(ctx context.Context, s *secrets.Store, n NetSuite) error {
	if err := n.Validate(); err != nil {
		return err
	}
	return s.PutJSON(ctx, NetSuiteSecretName, n)
}

// LoadNetSuite reads the NetSuite connection.
func LoadNetSuite(ctx context.Context, s *secrets.Store) (NetSuite, error) {
	var n NetSuite
	err := s.GetJSON(ctx, NetSuiteSecretName, &n)
	if errors.Is(err, secrets.ErrNotFound) {
		return n, fmt.Errorf("netsuite: %w (run `mlc connect netsuite`)", ErrNotConnected)
	}
	return n, err
}

// WatchNetSuite calls fn with the stored connection now and on every change,
// until ctx ends.
func WatchNetSuite(ctx context.Context, s *secrets.Store, fn func(n NetSuite, deleted bool, err error)) error {
	return s.Watch(ctx, NetSuiteSecretName, func(ch secrets.Change) {
		switch {
		case ch.Deleted:
			fn(NetSuite{}, true, nil)
		case ch.Err != nil:
			fn(NetSuite{}, false, fmt.Errorf("%s: %w", ch.Name, ch.Err))
		default:
			var n NetSuite
			if err := json.Unmarshal(ch.Value, &n); err != nil {
				fn(NetSuite{}, false, fmt.Errorf("%s: %w", ch.Name, err))
				return
			}
			fn(n, false, nil)
		}
	})
}

// NetSuiteSettings are the account's non-secret settings, kept as plain
// JSON in mlc_settings: which subsidiary a store's records belong to in a
// OneWorld account, and how many concurrent requests to make.
type NetSuiteSettings struct {
	OneWorld bool `json:"one_world"`
	// Default is the subsidiary of a store with no mapping of its own.
	Default string `json:"default,omitempty"`
	// ByStore maps a Commerce store code to a subsidiary id; it wins over
	// ByWebsite.
	ByStore map[string]string `json:"by_store,omitempty"`
	// ByWebsite maps a Commerce website code or id to a subsidiary id.
	ByWebsite map[string]string `json:"by_website,omitempty"`
	// ConcurrencyLimit is the limiter size of every NetSuite client (ref
	// §11.1); 0 means netsuite.DefaultConcurrency.
	ConcurrencyLimit int `json:"concurrency_limit,omitempty"`
	// AccountConcurrencyLimit is what governanceLimits said, 0 if unknown.
	AccountConcurrencyLimit int `json:"account_concurrency_limit,omitempty"`
	// SubsidiaryNames are the names seen at connect time, for display.
	SubsidiaryNames map[string]string `json:"subsidiary_names,omitempty"`
}

// Validate checks that a OneWorld account maps somewhere.
func (s NetSuiteSettings) Validate() error {
	var errs []error
	if s.OneWorld && s.Default == "" && len(s.ByStore) == 0 && len(s.ByWebsite) == 0 {
		errs = append(errs, errors.New("OneWorld account needs a default subsidiary or a store/website mapping"))
	}
	for k, v := range s.ByStore {
		if k == "" || v == "" {
			errs = append(errs, fmt.Errorf("store mapping %q=%q: both sides must be set", k, v))
		}
	}
	for k, v := range s.ByWebsite {
		if k == "" || v == "" {
			errs = append(errs, fmt.Errorf("website mapping %q=%q: both sides must be set", k, v))
		}
	}
	if s.ConcurrencyLimit < 0 {
		errs = append(errs, fmt.Errorf("concurrency limit %d is negative", s.ConcurrencyLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("netsuite settings: %w", err)
	}
	return nil
}

// SubsidiaryFor is the subsidiary of a store's records: the store's
// mapping, else its website's, else Default. Empty outside OneWorld.
func (s NetSuiteSettings) SubsidiaryFor(store, website string) string {
	if !s.OneWorld {
		return ""
	}
	if id := s.ByStore[store]; id != "" {
		return id
	}
	if id := s.ByWebsite[website]; website != "" && id != "" {
		return id
	}
	return s.Default
}

// MappedSubsidiaries lists every subsidiary id the settings refer to,
// sorted and without duplicates.
func (s NetSuiteSettings) MappedSubsidiaries() []string {
	set := map[string]bool{}
	if s.Default != "" {
		set[s.Default] = true
	}
	for _, v := range s.ByStore {
		set[v] = true
	}
	for _, v := range s.ByWebsite {
		set[v] = true
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// SaveNetSuiteSettings validates and stores s in the mlc_settings bucket.
func SaveNetSuiteSettings(ctx context.Context, kv jetstream.KeyValue, s NetSuiteSettings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("netsuite settings: encode: %w", err)
	}
	if _, err := kv.Put(ctx, NetSuiteSettingsKey, b); err != nil {
		return fmt.Errorf("netsuite settings: put: %w", err)
	}
	return nil
}

// LoadNetSuiteSettings reads the settings; ErrNotConnected when none are
// stored.
func LoadNetSuiteSettings(ctx context.Context, kv jetstream.KeyValue) (NetSuiteSettings, error) {
	var s NetSuiteSettings
	e, err := kv.Get(ctx, NetSuiteSettingsKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return s, fmt.Errorf("netsuite settings: %w (run `mlc connect netsuite`)", ErrNotConnected)
	}
	if err != nil {
		return s, fmt.Errorf("netsuite settings: get: %w", err)
	}
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return s, fmt.Errorf("netsuite settings: decode: %w", err)
	}
	return s, nil
}

// WatchNetSuiteSettings calls fn with the stored settings now and on every
// change, until ctx ends; it returns nil then.
func WatchNetSuiteSettings(ctx context.Context, kv jetstream.KeyValue, fn func(s NetSuiteSettings, deleted bool, err error)) error {
	err := stream.WatchKV(ctx, kv, NetSuiteSettingsKey, func(e jetstream.KeyValueEntry, deleted bool) {
		if deleted {
			fn(NetSuiteSettings{}, true, nil)
			return
		}
		var s NetSuiteSettings
		if err := json.Unmarshal(e.Value(), &s); err != nil {
			fn(NetSuiteSettings{}, false, fmt.Errorf("netsuite settings: decode: %w", err))
			return
		}
		fn(s, false, nil)
	})
	if err != nil {
		return fmt.Errorf("netsuite settings: %w", err)
	}
	return nil
}

// checkKeyStrength refuses keys NetSuite does not accept for an M2M
// certificate (reference netsuite-rest.md §2: RSA 3072 or 4096 bits, EC
// P-256/384/521), which it would only answer with invalid_grant.
func checkKeyStrength(key crypto.Signer) error {
	const want = "NetSuite's M2M certificates take RSA of at least 3072 bits or EC P-256, P-384 or P-521"
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < 3072 {
			return fmt.Errorf("private key: RSA key of %d bits: %s (openssl req -x509 -newkey rsa:3072 ...)", bits, want)
		}
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("private key: EC curve %s: %s", k.Curve.Params().Name, want)
		}
	default:
		return fmt.Errorf("private key: %T: %s", key, want)
	}
	return nil
}
