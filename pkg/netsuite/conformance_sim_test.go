package netsuite_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/netsuite/netsuitetest"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// TestConformanceSimulator runs the conformance suite against the simulator.
func TestConformanceSimulator(t *testing.T) {
	netsuitetest.RunConformance(t, newSimBackend)
}

// newSimBackend starts a simulator with the documented governance numbers,
// one inactive item (for "T") and enums in the asked form. The simulator
// always answers expires_in as a number and token_type "Bearer": the
// other token forms are covered by the transcript backend.
func newSimBackend(t *testing.T, opts netsuitetest.Options) (*netsuitetest.Backend, bool) {
	if opts.ExpiresInString || opts.LowercaseTokenType {
		return nil, false
	}
	s := netsuitesim.NewTestServer(t, netsuitesim.Config{EnumsAsObjects: opts.EnumsAsObjects,
		GovernanceLimits: netsuitesim.GovernanceLimits(netsuitetest.DocumentedGovernanceLimits())})
	s.AddItem(netsuitesim.Item{ID: "901", ItemID: "RETIRED-TEE", DisplayName: "Retired Tee", Type: "InvtPart", Inactive: true})
	key, pemKey := newKey(t)
	s.RegisterCertificate("cert-1", key.Public())
	var items []netsuitetest.Item
	for _, it := range s.Items() {
		items = append(items, netsuitetest.Item{ID: it.ID, ItemID: it.ItemID, Type: it.Type, Inactive: it.Inactive})
	}
	return &netsuitetest.Backend{
		BaseURL:     s.URL(),
		Credentials: netsuite.Credentials{AccountID: "1234567", ClientID: "mlc-client", CertificateID: "cert-1", PrivateKeyPEM: pemKey},
		Fixture: netsuitetest.Fixture{ItemID: "101", UnknownItemID: "9999", SubsidiaryID: "1", Items: items,
			Governance: netsuitetest.DocumentedGovernanceLimits()},
		Fail: func(prefix string, f netsuitetest.Fault) {
			kind := netsuitesim.Fault500
			if f == netsuitetest.FaultConcurrencyLimit {
				kind = netsuitesim.FaultConcurrencyLimit
			}
			s.FailNext(prefix, 1, kind)
		},
		ExpireTokens: s.ExpireTokens,
	}, true
}

// newKey makes a P-256 key (cheap under -race) and its PKCS#8 PEM.
func newKey(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
