package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

func TestSyncInventory(t *testing.T) {
	e := servicetest.New(t, servicetest.WithCommerce(commercesim.Config{Seed: 3}), servicetest.WithNetSuite(netsuitesim.Config{}))
	t.Setenv("MLC_NATS_URL", e.NATS.ClientURL())
	t.Setenv("MLC_NATS_CREDS", "")
	t.Setenv(secrets.EnvMasterKey, base64.StdEncoding.EncodeToString(e.MasterKey))
	t.Setenv(secrets.EnvMasterKeyFile, "")
	t.Setenv(secrets.EnvPreviousKeys, "")

	out, err := mlc(t, "", "sync", "inventory", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var sum inventory.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(sum.Stores) != 1 || sum.Stores[0].Store != "default" || sum.Stores[0].Published != 10 || sum.Items == 0 || sum.Pages.Items == 0 {
		t.Fatalf("summary %+v", sum)
	}

	e.NetSuite.SetPrice("104", "1", "1", decimal.RequireFromString("47"))
	out, err = mlc(t, "", "sync", "inventory", "--store", "default", "--sku", "WB04", "--sku", "24-MB01")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(out, "\n")
	var row string
	for _, l := range lines {
		if strings.HasPrefix(l, "default ") {
			row = strings.Join(strings.Fields(l), " ")
		}
	}
	// active 2, one price change, no stock change, none off sale, 1 published.
	if row != "default 2 1 0 0 1 0" || !strings.Contains(out, "SuiteQL pages") {
		t.Fatalf("table row %q in\n%s", row, out)
	}

	if out, err := mlc(t, "", "sync", "inventory", "--store", "en_us"); err == nil || !strings.Contains(err.Error(), `store "en_us" is not connected`) {
		t.Fatalf("unknown store: %v\n%s", err, out)
	}
}
