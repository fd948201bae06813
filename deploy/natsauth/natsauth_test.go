package natsauth

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

const minimal = `{
  "account": "MLC", "system_account": "SYS",
  "operator": {"name": "mlc", "why": "operator"},
  "system": {"name": "sys", "why": "admin"},
  "services": [{
    "name": "ingest", "why": "in",
    "publish": ["commerce.>"], "streams": ["COMMERCE"], "consumers": ["COMMERCE/transform"],
    "kv": [{"bucket": "mlc_credentials", "keys": ["commerce.*"], "write": false},
           {"bucket": "mlc_checkpoints", "keys": ["cursor.>"], "write": true}],
    "master_key": true
  }]
}`

func TestSubjectsDerivedFromTheDeclaration(t *testing.T) {
	p, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Services[0].Subjects()
	for _, want := range []string{
		"commerce.>",
		"$JS.API.STREAM.INFO.COMMERCE",
		"$JS.API.CONSUMER.INFO.COMMERCE.transform",
		"$JS.API.CONSUMER.MSG.NEXT.COMMERCE.transform",
		"$JS.ACK.COMMERCE.transform.>",
		"$JS.API.STREAM.INFO.KV_mlc_credentials",
		"$JS.API.DIRECT.GET.KV_mlc_credentials.$KV.mlc_credentials.commerce.*",
		"$JS.API.CONSUMER.CREATE.KV_mlc_credentials.*.$KV.mlc_credentials.commerce.*",
		"$KV.mlc_checkpoints.cursor.>",
	} {
		if !slices.Contains(got.Publish, want) {
			t.Errorf("publish allow lacks %s", want)
		}
	}
	for _, never := range []string{
		"$KV.mlc_credentials.commerce.*",             // read-only bucket
		"$JS.API.DIRECT.GET.KV_mlc_credentials",      // a get of any key, named in the body
		"$JS.API.STREAM.MSG.GET.KV_mlc_credentials",  // same
		"$JS.API.CONSUMER.CREATE.KV_mlc_credentials", // a watch of any key
		"$JS.API.CONSUMER.CREATE.COMMERCE.transform", // provisioning is the operator's
	} {
		if slices.Contains(got.Publish, never) {
			t.Errorf("publish allow has %s", never)
		}
	}
	if !slices.Equal(got.Subscribe, []string{"_INBOX.mlc-ingest.>"}) {
		t.Errorf("subscribe allow %v: want only the service's own inboxes", got.Subscribe)
	}
}

func TestRenderedConfigParses(t *testing.T) {
	p, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range p.Users() {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		t.Setenv(NKeyVar(u), pub)
	}
	f := t.TempDir() + "/accounts.conf"
	if err := os.WriteFile(f, p.Render(), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(f)
	if err != nil {
		t.Fatalf("the rendered accounts do not parse: %v", err)
	}
	if opts.SystemAccount != "SYS" || len(opts.Nkeys) != 3 {
		t.Fatalf("system account %q, %d nkey users", opts.SystemAccount, len(opts.Nkeys))
	}
	for _, u := range opts.Nkeys {
		if u.Account == nil || u.Account.Name == "MLC" && u.Permissions == nil {
			t.Errorf("user %s: account %v, no permissions", u.Nkey, u.Account)
		}
	}
}

func TestInvalidPermissionsAreRefused(t *testing.T) {
	for name, edit := range map[string]func(string) string{
		"unknown field":      func(s string) string { return strings.Replace(s, `"write": true`, `"writes": true`, 1) },
		"api subject":        func(s string) string { return strings.Replace(s, `"commerce.>"]`, `"$JS.API.>"]`, 1) },
		"everything":         func(s string) string { return strings.Replace(s, `"commerce.>"]`, `">"]`, 1) },
		"wildcard mid-token": func(s string) string { return strings.Replace(s, `"commerce.>"]`, `"comm*rce.>"]`, 1) },
		"gt not last":        func(s string) string { return strings.Replace(s, `"cursor.>"`, `">.cursor"`, 1) },
		"empty token":        func(s string) string { return strings.Replace(s, `"cursor.>"`, `"cursor..x"`, 1) },
		"space in subject":   func(s string) string { return strings.Replace(s, `"cursor.>"`, `"cursor x"`, 1) },
		"bad consumer":       func(s string) string { return strings.Replace(s, `"COMMERCE/transform"`, `"transform"`, 1) },
		"bad user name":      func(s string) string { return strings.Replace(s, `"name": "ingest"`, `"name": "In Gest"`, 1) },
		"duplicate user":     func(s string) string { return strings.Replace(s, `"name": "ingest"`, `"name": "mlc"`, 1) },
		"same accounts":      func(s string) string { return strings.Replace(s, `"SYS"`, `"MLC"`, 1) },
		"no keys":            func(s string) string { return strings.Replace(s, `["cursor.>"]`, `[]`, 1) },
		"trailing data":      func(s string) string { return s + `{}` },
		"lower-case stream": func(s string) string {
			return strings.Replace(s, `"streams": ["COMMERCE"]`, `"streams": ["commerce"]`, 1)
		},
		"bucket listed twice": func(s string) string { return strings.Replace(s, `"mlc_checkpoints"`, `"mlc_credentials"`, 1) },
		"update a durable it does not consume": func(s string) string {
			return strings.Replace(s, `"consumers": ["COMMERCE/transform"],`, `"consumers": ["COMMERCE/transform"], "update_consumers": ["NETSUITE/netsuite-writer"],`, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(edit(minimal))); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
}

func TestNKeyVar(t *testing.T) {
	if got := NKeyVar("netsuite-writer"); got != "NATS_NKEY_NETSUITE_WRITER" {
		t.Fatal(got)
	}
}

// FuzzParse: no input makes Parse panic, and whatever it accepts renders.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	if b, err := os.ReadFile("../nats/permissions.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"services":[{"kv":[{"keys":[""]}]}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if len(p.Render()) == 0 {
			t.Fatal("empty render")
		}
	})
}
