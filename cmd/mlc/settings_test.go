package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/mapping"
	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

func TestSettingsSetGetList(t *testing.T) {
	newCLIEnv(t)
	// Refused: a typo, an impossible combination, an unknown document.
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"settings", "set", "mapping", "--value", `{"locaton":"1"}`}, `unknown field "locaton"`},
		{[]string{"settings", "set", "mapping", "--value", `{"discounts":"order_item"}`}, "needs discount_item"},
		{[]string{"settings", "set", "mapping", "--value", `{"currencies":{"usd":"1"}}`}, "ISO 4217"},
		{[]string{"settings", "set", "mapping", "--value", `{} {}`}, "trailing data"},
		{[]string{"settings", "set", "inventory.typo", "--value", `{}`}, "not a settings document mlc knows"},
		{[]string{"settings", "set", "netsuite.subsidiaries", "--store", "uk", "--value", `{}`}, "no per-store documents"},
	} {
		if out, err := mlc(t, "", bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: %v (want %q)\n%s", bad.args, err, bad.want, out)
		}
	}
	if out, err := mlc(t, "", "settings", "set", "mapping", "--value", `{"location":"1","discounts":"order_item","discount_item":"202"}`); err != nil {
		t.Fatalf("set: %v\n%s", err, out)
	}
	// A store override that would break the store's combination is refused.
	if _, err := mlc(t, "", "settings", "set", "mapping", "--store", "en_us", "--value", `{"discount_item":"","tax":"amounts"}`); err == nil ||
		!strings.Contains(err.Error(), "store en_us") || !strings.Contains(err.Error(), "tax_item") {
		t.Errorf("broken override: %v", err)
	}
	if out, err := mlc(t, `{"location":"2","time_zone":"Europe/London"}`, "settings", "set", "mapping", "--store", "en_us"); err != nil {
		t.Fatalf("set from stdin: %v\n%s", err, out)
	}
	// A base change that leaves a store unresolvable is refused too.
	if _, err := mlc(t, "", "settings", "set", "mapping", "--value", `{"discounts":"line_item"}`); err == nil {
		t.Error("a base without discount_item for an item mode was saved")
	}

	out, err := mlc(t, "", "settings", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mapping.en__us", "en_us", "netsuite.subsidiaries", "[defaults]", "one store's overrides"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	out, err = mlc(t, "", "--json", "settings", "get", "mapping", "--store", "en_us")
	if err != nil {
		t.Fatal(err)
	}
	var doc mapping.Settings
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Location != "2" || doc.Discounts != "" {
		t.Errorf("get: %v %+v\n%s", err, doc, out)
	}
	// The same document by its listed key, and the store's effective settings.
	if out2, err := mlc(t, "", "settings", "get", "mapping.en__us"); err != nil || out2 != out {
		t.Errorf("get by key: %v\n%s", err, out2)
	}
	out, err = mlc(t, "", "settings", "get", "mapping", "--store", "en_us", "--resolved")
	if err != nil {
		t.Fatal(err)
	}
	doc = mapping.Settings{}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Location != "2" || doc.Discounts != mapping.DiscountOrderItem ||
		doc.DiscountItem != "202" || doc.TimeZone != "Europe/London" || doc.OrderStatus != "B" || doc.Tax != mapping.TaxNetSuite {
		t.Errorf("resolved: %v %+v", err, doc)
	}
	// Never set: the defaults, said so.
	out, err = mlc(t, "", "settings", "get", "netsuite.subsidiaries")
	if err != nil || !strings.Contains(out, "is not set") {
		t.Errorf("unset document: %v\n%s", err, out)
	}
}

func TestSettingsCheck(t *testing.T) {
	e := newCLIEnv(t)
	sim, keyFile := netsuiteSim(t)
	sim.AddLocation("3", "Austin DC", "2")
	sim.AddItem(netsuitesim.Item{ID: "301", ItemID: "Flat Rate", Type: "ShipItem"})
	sim.AddItem(netsuitesim.Item{ID: "120", ItemID: "Old Tee", Inactive: true})
	if out, err := mlc(t, "", "connect", "netsuite", "--account", "1234567", "--client-id", "mlc-client", "--cert-id", "cert-1",
		"--key-file", keyFile, "--base-url", sim.URL(), "--store-subsidiary", "default=2", "--store-subsidiary", "uk=3"); err != nil {
		t.Fatalf("connect: %v\n%s", err, out)
	}
	_, settingsKV := e.store(t, e.key)
	_, js := natstest.Connect(t, e.srv)
	ctx := context.Background()
	items, err := js.KeyValue(ctx, event.BucketItemMap)
	if err != nil {
		t.Fatal(err)
	}
	put := func(sku, id string, active bool) {
		if _, err := itemmap.Put(ctx, items, itemmap.Value{SKU: sku, ItemID: id, Type: "InvtPart", Active: active}); err != nil {
			t.Fatal(err)
		}
	}
	put("WB04", "104", true)
	put("OLD-TEE", "120", true)
	put("GONE.1", "999", true)
	if _, err := items.Put(ctx, "junk", []byte(`{"item_id":"1"}`)); err != nil { // no SKU: not a pkg/itemmap entry
		t.Fatal(err)
	}
	set := func(args ...string) {
		t.Helper()
		if out, err := mlc(t, "", append([]string{"settings", "set"}, args...)...); err != nil {
			t.Fatalf("set %v: %v\n%s", args, err, out)
		}
	}
	set("mapping", "--value", `{"location":"3","currencies":{"USD":"1","EUR":"9"},"ship_methods":{"flatrate_flatrate":"301","tablerate_bestway":"104"},
		"default_ship_method":"302","price_level":"7","discounts":"order_item","discount_item":"105"}`)
	set("mapping", "--store", "uk", "--value", `{"location":"1","price_level":"1"}`)
	set("mapping", "--store", "us.east", "--value", `{"location":"2"}`)
	ns, err := connection.LoadNetSuiteSettings(ctx, settingsKV)
	if err != nil {
		t.Fatal(err)
	}
	ns.ByStore["en_us"] = "8" // a subsidiary that was deleted since
	if err := connection.SaveNetSuiteSettings(ctx, settingsKV, ns); err != nil {
		t.Fatal(err)
	}

	out, err := mlc(t, "", "--json", "settings", "check")
	if err == nil || !strings.Contains(err.Error(), "problem(s)") {
		t.Fatalf("check passed with broken references: %v\n%s", err, out)
	}
	var found []finding
	if err := json.Unmarshal([]byte(out), &found); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]string{}
	for _, f := range found {
		got[f.Kind+" "+f.ID] = f.Problem + " | " + strings.Join(f.UsedBy, ", ")
	}
	want := map[string]string{
		"subsidiary 8":    "does not exist in NetSuite | netsuite.subsidiaries",
		"store us.east":   "no NetSuite subsidiary",
		"currency 9":      "does not exist in NetSuite | store default currencies.EUR",
		"price level 7":   "does not exist in NetSuite | store default price_level",
		"ship method 302": "does not exist in NetSuite | store default default_ship_method",
		"ship method 104": "WB04 is of item type InvtPart, not ShipItem | store default ship_methods.tablerate_bestway",
		"item 105":        "24-MB01 is of item type InvtPart, not Discount | store default discount_item",
		"item 120":        "Old Tee is inactive | SKU OLD-TEE",
		"item 999":        "does not exist in NetSuite | SKU GONE.1",
		"item map junk":   "the entry does not decode",
		"location 1":      "Main Warehouse belongs to subsidiary 1, not the store's 3 | store uk location",
		"location 3":      "Austin DC belongs to subsidiary 2, not the store's 8 | store en_us location",
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok || !strings.HasPrefix(g, strings.Split(w, " | ")[0]) || (strings.Contains(w, " | ") && !strings.Contains(g, strings.Split(w, " | ")[1])) {
			t.Errorf("%s: got %q, want %q", k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected finding %s: %s", k, got[k])
		}
	}

	// Fixed: the check passes and says what it looked at.
	set("mapping", "--value", `{"location":"3","currencies":{"USD":"1"},"ship_methods":{"flatrate_flatrate":"301"},"price_level":"1"}`)
	set("mapping", "--store", "uk", "--value", `{"location":"2"}`)
	set("mapping", "--store", "us.east", "--value", `{}`)
	ns.ByStore["en_us"], ns.Default = "2", "2"
	if err := connection.SaveNetSuiteSettings(ctx, settingsKV, ns); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"OLD-TEE", "GONE.1"} {
		if err := itemmap.Delete(ctx, items, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := items.Delete(ctx, "junk"); err != nil {
		t.Fatal(err)
	}
	out, err = mlc(t, "", "settings", "check")
	if err != nil || !strings.Contains(out, "ok: 4 store(s), 1 mapped SKU(s)") {
		t.Fatalf("check after the fixes: %v\n%s", err, out)
	}
}
