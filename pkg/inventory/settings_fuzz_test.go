package inventory_test

import (
	"testing"

	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/settings"
)

// The settings document is operator input: nothing may panic, and a
// document that is accepted resolves for any store.
func FuzzSettings(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"sku_field":"upccode","schedule":"*/5 * * * *","safety_buffer":"2.5","sources":{"1":"us-east"}}`))
	f.Add([]byte(`{"stores":{"en_us":{"schedule":"@every 1h","stock_basis":"onhand","safety_buffer":1}}}`))
	f.Add([]byte(`{"schedule":"CRON_TZ=Nowhere/Else 0 6 * * *"}`))
	f.Add([]byte(`{"safety_buffer":"-1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := inventory.DefaultSettings()
		if err := settings.Decode(inventory.SettingsKey, b, s); err != nil {
			return
		}
		for _, code := range []string{"default", "en_us", ""} {
			c := s.For(code)
			if c.Rules.Buffer.IsNegative() || c.Rules.Default == "" {
				t.Fatalf("accepted settings resolve to %+v", c)
			}
			if _, err := inventory.ParseSchedule(c.Schedule); err != nil {
				t.Fatalf("accepted schedule %q: %v", c.Schedule, err)
			}
		}
	})
}
