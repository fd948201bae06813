package writer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/settings"
)

func TestComputeBudget(t *testing.T) {
	def := *NewSettings()
	with := func(f func(*Settings)) Settings { s := def; f(&s); return s }
	acct15 := &netsuite.GovernanceLimits{AccountConcurrencyLimit: 15, AccountUnallocatedConcurrencyLimit: 15, IntegrationLimitType: "accountLimit"}
	own5 := &netsuite.GovernanceLimits{AccountConcurrencyLimit: 20, IntegrationConcurrencyLimit: 5, IntegrationLimitType: "integrationSpecific"}
	stored := &connection.NetSuiteSettings{AccountConcurrencyLimit: 10, ConcurrencyLimit: 2}
	tests := []struct {
		name string
		s    Settings
		gl   *netsuite.GovernanceLimits
		ns   *connection.NetSuiteSettings
		want int
		from string
	}{
		{"nothing known: smallest tier less one", def, nil, nil, 4, "default"},
		{"explicit concurrency wins over everything", with(func(s *Settings) { s.Concurrency = 7 }), acct15, stored, 7, "writer.concurrency"},
		{"account limit setting", with(func(s *Settings) { s.AccountLimit = 20 }), acct15, stored, 19, "account_limit"},
		{"governance account limit", def, acct15, stored, 14, "accountConcurrencyLimit"},
		{"the integration's own allocation", def, own5, nil, 4, "integrationConcurrencyLimit"},
		{"stored by mlc connect", def, nil, stored, 9, "account_concurrency_limit"},
		{"no headroom", with(func(s *Settings) { s.Headroom = 0 }), acct15, nil, 15, "headroom 0"},
		{"headroom above the limit leaves one", with(func(s *Settings) { s.Headroom = 9 }), nil, nil, 1, "headroom 9"},
	}
	for _, tt := range tests {
		b := ComputeBudget(tt.s, tt.gl, tt.ns)
		if b.N != tt.want || !strings.Contains(b.Source, tt.from) {
			t.Errorf("%s: %+v, want %d from %q", tt.name, b, tt.want, tt.from)
		}
	}
}

func TestSettingsDecode(t *testing.T) {
	s := NewSettings()
	if err := settings.Decode(SettingsKey, []byte(`{"concurrency":14,"headroom":0,"invoice_wait":"90m"}`), s); err != nil {
		t.Fatal(err)
	}
	if s.Concurrency != 14 || s.Headroom != 0 || time.Duration(s.InvoiceWait) != 90*time.Minute {
		t.Fatalf("%+v", s)
	}
	s = NewSettings()
	if err := settings.Decode(SettingsKey, []byte(`{"invoice_wait":120}`), s); err != nil || time.Duration(s.InvoiceWait) != 2*time.Minute {
		t.Fatalf("seconds: %+v %v", s, err)
	}
	s = NewSettings()
	if err := settings.Decode(SettingsKey, []byte(`{}`), s); err != nil || s.Headroom != DefaultHeadroom || time.Duration(s.InvoiceWait) != DefaultInvoiceWait {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	for _, bad := range []string{
		`{"concurrency":-1}`, `{"concurrency":100000}`, `{"headroom":-2}`, `{"account_limit":-5}`,
		`{"invoice_wait":"0s"}`, `{"invoice_wait":"soon"}`, `{"invoice_wait":-3}`, `{"invoice_wait":"10000h"}`,
		`{"concurency":3}`, // a typo is refused, not ignored
		`[]`, `{"headroom":"1"}`,
	} {
		if err := settings.Decode(SettingsKey, []byte(bad), NewSettings()); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	b, err := json.Marshal(NewSettings())
	if err != nil || !strings.Contains(string(b), `"invoice_wait":"1h0m0s"`) {
		t.Fatalf("%s %v", b, err)
	}
}

func TestBodyWith(t *testing.T) {
	rec := json.RawMessage(`{"tranDate":"2024-05-01","externalId":"other","id":"12","subsidiary":{"id":"3"},"item":{"items":[{"item":{"id":"98"},"quantity":2,"rate":19.99}]}}`)
	out, err := bodyWith(rec, "mlc-so-default-1", "1842", "2")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if string(m["externalId"]) != `"mlc-so-default-1"` || string(m["entity"]) != `{"id":"1842"}` || string(m["subsidiary"]) != `{"id":"3"}` {
		t.Errorf("fields: %s", out)
	}
	if _, ok := m["id"]; ok {
		t.Error("internal id kept in an upsert body")
	}
	// Values pass byte for byte (19.99 stays 19.99, no float round trip).
	if !strings.Contains(string(m["item"]), `"rate":19.99`) {
		t.Errorf("item: %s", m["item"])
	}
	out, _ = bodyWith(json.RawMessage(`{"memo":"x"}`), "", "", "2")
	if string(out) != `{"memo":"x","subsidiary":{"id":"2"}}` {
		t.Errorf("subsidiary added: %s", out)
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"a":1} {"b":2}`, `{`} {
		if _, err := bodyWith(json.RawMessage(bad), "x", "", ""); !errors.Is(err, errBadRecord) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// The command's record is outside input (another service wrote it): any
// bytes give a JSON object with our externalId, or errBadRecord.
func FuzzBodyWith(f *testing.F) {
	for _, s := range []string{`{"entity":{"id":"1"}}`, `{"item":{"items":[]}}`, `{}`, `[1]`, `{"a":"\u0000"}`, `{"id":1,"externalId":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		out, err := bodyWith(rec, "mlc-so-x-1", "7", "2")
		if err != nil {
			if !errors.Is(err, errBadRecord) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("output is not an object: %s", out)
		}
		if string(m["externalId"]) != `"mlc-so-x-1"` || string(m["entity"]) != `{"id":"7"}` {
			t.Fatalf("fields not set: %s", out)
		}
		_ = hasField(rec, "addressbook")
		_ = stringField(rec, "email")
	})
}

func TestErrorDetails(t *testing.T) {
	e := &netsuite.Error{Status: 400, Code: "INVALID_CONTENT", Details: []netsuite.ErrorDetail{
		{Detail: "Invalid Field Value 9999 for the following field: item", Code: "INVALID_CONTENT", Path: "item.items[0].item"}}}
	code, path, detail := errorDetails(errors.Join(errors.New("context"), e))
	if code != "INVALID_CONTENT" || path != "item.items[0].item" || !strings.Contains(detail, "9999") {
		t.Errorf("%q %q %q", code, path, detail)
	}
	if c, p, d := errorDetails(errors.New("not netsuite")); c+p+d != "" {
		t.Errorf("%q %q %q", c, p, d)
	}
}
