package netsuite

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestBaseURL(t *testing.T) {
	tests := map[string]string{
		"1234567":     "https://1234567.suitetalk.api.netsuite.com",
		"123456_SB1":  "https://123456-sb1.suitetalk.api.netsuite.com",
		"TSTDRV12_RP": "https://tstdrv12-rp.suitetalk.api.netsuite.com",
	}
	for in, want := range tests {
		if got := BaseURL(in); got != want {
			t.Errorf("BaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewBaseURLOverride(t *testing.T) {
	creds := Credentials{AccountID: "123_SB1", ClientID: "c", CertificateID: "k", PrivateKeyPEM: pkcs8PEM(t, keys.p256)}
	for in, want := range map[string]string{
		"":                                 "https://123-sb1.suitetalk.api.netsuite.com",
		"http://127.0.0.1:9/":              "http://127.0.0.1:9",
		"http://127.0.0.1:9/services/rest": "http://127.0.0.1:9",
	} {
		var opts []Option
		if in != "" {
			opts = append(opts, WithBaseURL(in))
		}
		c, err := New(creds, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if c.BaseURL() != want || c.TokenURL() != want+"/services/rest/auth/oauth2/v1/token" {
			t.Errorf("%q: base %q token %q", in, c.BaseURL(), c.TokenURL())
		}
	}
	if _, err := New(creds, WithBaseURL("not a url")); err == nil {
		t.Error("bad base URL accepted")
	}
}

func TestCredentialsMaskKey(t *testing.T) {
	key := pkcs8PEM(t, keys.p256)
	c := Credentials{AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKeyPEM: key}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c)} {
		if strings.Contains(s, "PRIVATE") || strings.Contains(s, string(key[40:60])) || !strings.Contains(s, "redacted") {
			t.Errorf("key leaked or not masked: %s", s)
		}
	}
	if err := (Credentials{AccountID: "1"}).Validate(); err == nil || !strings.Contains(err.Error(), "certificate id") {
		t.Errorf("Validate = %v", err)
	}
}

func TestValidateExternalID(t *testing.T) {
	for _, ok := range []string{"mlc-so-default-000001234", "A_b-9"} {
		if err := ValidateExternalID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a|b", "a.b", "a b", "a/b", "é", strings.Repeat("a", 100)} {
		if err := ValidateExternalID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIDFromLocation(t *testing.T) {
	for loc, want := range map[string]string{
		"https://h/services/rest/record/v1/customer/647": "647",
		"https://h/services/rest/record/v1/invoice/12/":  "12",
		"/services/rest/record/v1/salesOrder/eid:x":      "eid:x",
		"":           "",
		"https://h/": "",
	} {
		got, err := idFromLocation("op", loc)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("%q: %q %v", loc, got, err)
		}
	}
}

func TestRecordIDFromLocation(t *testing.T) {
	for _, tt := range []struct{ typ, loc, want string }{
		{"salesOrder", "https://h/services/rest/record/v1/salesOrder/5001", "5001"},
		{"salesOrder", "https://h/services/rest/record/v1/salesorder/5001/", "5001"},
		{"customer", "https://h/services/rest/record/v1/salesOrder/5001", ""}, // another type
		{"salesOrder", "https://h/services/rest/record/v1/salesOrder/eid:x", ""},
		{"salesOrder", "https://h/services/rest/async/v1/job/7", ""},
		{"salesOrder", "https://h/services/rest/record/v1/salesOrder/5001/!transform/invoice", ""},
		{"salesOrder", "https://h/services/rest/record/v1/salesOrder", ""},
		{"salesOrder", "::", ""},
		{"salesOrder", "", ""},
	} {
		if got := recordIDFromLocation(tt.typ, tt.loc); got != tt.want {
			t.Errorf("%s %q = %q, want %q", tt.typ, tt.loc, got, tt.want)
		}
	}
}

func FuzzRecordIDFromLocation(f *testing.F) {
	for _, s := range []string{"https://h/services/rest/record/v1/customer/647", "/services/rest/record/v1/customer/", "%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, loc string) {
		id := recordIDFromLocation("customer", loc)
		for i := 0; i < len(id); i++ {
			if id[i] < '0' || id[i] > '9' {
				t.Fatalf("%q gave id %q", loc, id)
			}
		}
	})
}

func TestRefDecodesBothShapes(t *testing.T) {
	for in, want := range map[string]Ref{
		`{"id":"110","refName":"Acme","links":[]}`: {ID: "110", RefName: "Acme"},
		`{"id":98}`: {ID: "98"},
		`"B"`:       {ID: "B"},
		`7`:         {ID: "7"},
		`null`:      {},
	} {
		var r Ref
		if err := json.Unmarshal([]byte(in), &r); err != nil || r != want {
			t.Errorf("%s: %+v %v", in, r, err)
		}
	}
	if b, _ := json.Marshal(Ref{ID: "1", RefName: "x"}); string(b) != `{"id":"1"}` {
		t.Errorf("marshal = %s", b)
	}
	var r Ref
	if err := json.Unmarshal([]byte(`[1]`), &r); err == nil {
		t.Error("array accepted")
	}
}

func FuzzRef(f *testing.F) {
	for _, s := range []string{`{"id":"1","refName":"a"}`, `"B"`, `12.5`, `null`, `{"id":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Ref
		_ = json.Unmarshal(b, &r)
	})
}
