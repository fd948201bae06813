package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/devstack"
)

// The curl session of the README: an assertion from `mlc sim assertion` gets a
// token from the NetSuite simulator that `mlc sim` serves.
func TestSimAssertionGetsAToken(t *testing.T) {
	dir := t.TempDir()
	sims, err := devstack.StartSims(devstack.SimOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sims.Stop(t.Context()) })

	out, err := mlc(t, "", "sim", "assertion", "--dir", dir, "--base-url", sims.NetSuiteURL)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {strings.TrimSpace(out)},
	}
	resp, err := http.PostForm(sims.NetSuiteURL+"/services/rest/auth/oauth2/v1/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "bearer") {
		t.Fatalf("token endpoint: %d %+v", resp.StatusCode, tok)
	}
	// The key is kept: a second start serves the same certificate.
	again, err := devstack.StartSims(devstack.SimOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = again.Stop(t.Context()) })
	if again.NetSuiteConnection().PrivateKeyPEM != sims.NetSuiteConnection().PrivateKeyPEM {
		t.Fatal("simulator key was regenerated")
	}
}
