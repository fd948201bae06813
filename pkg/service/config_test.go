package service_test

import (
	"strings"
	"testing"

	"github.com/ml-connector/ml-connector/pkg/service"
)

type dsnConfig struct {
	service.Base
	ClickHouseDSN string `env:"MLC_CLICKHOUSE_DSN"`
	Upstream      string `env:"MLC_UPSTREAM_URL"`
}

// Credentials in a URL's userinfo or query never reach the start-up log.
func TestDescribeMasksCredentialsInURLs(t *testing.T) {
	cfg, err := service.LoadConfig[dsnConfig](map[string]string{
		"MLC_NATS_URL":       "nats://mlc:nats-pass-1@nats-1:4222,nats://mlc:nats-pass-1@nats-2:4222",
		"MLC_CLICKHOUSE_DSN": "clickhouse://default:ch-pass-2@clickhouse:9000/mlc?dial_timeout=1s",
		"MLC_UPSTREAM_URL":   "http://relay.example.com/hook?user=u&password=query-pass-3",
	})
	if err != nil {
		t.Fatal(err)
	}
	d := service.Describe(cfg)
	for _, secret := range []string{"nats-pass-1", "ch-pass-2", "query-pass-3"} {
		for k, v := range d {
			if strings.Contains(v, secret) {
				t.Errorf("%s = %q shows %s", k, v, secret)
			}
		}
	}
	if want := "nats://mlc:****@nats-1:4222,nats://mlc:****@nats-2:4222"; d["MLC_NATS_URL"] != want {
		t.Errorf("MLC_NATS_URL = %q, want %q", d["MLC_NATS_URL"], want)
	}
	if want := "clickhouse://default:****@clickhouse:9000/mlc?dial_timeout=1s"; d["MLC_CLICKHOUSE_DSN"] != want {
		t.Errorf("MLC_CLICKHOUSE_DSN = %q, want %q", d["MLC_CLICKHOUSE_DSN"], want)
	}
}

func TestMaskURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                    "nats://127.0.0.1:4222",
		"nats://user:pass@host:4222":               "nats://user:****@host:4222",
		"nats://s3cr3t-token@host:4222":            "nats://****@host:4222",
		"nats://user:p@ss:w0rd@host":               "nats://user:****@host",
		"nats://user:p%zz@host":                    "nats://user:****@host",
		"tls://a:b@h1:4222, tls://c:d@h2:4222":     "tls://a:****@h1:4222, tls://c:****@h2:4222",
		"clickhouse://u:pw@ch:9000/db?debug=1#x":   "clickhouse://u:****@ch:9000/db?debug=1#x",
		"tcp://ch:9000?username=u&password=pw&x=1": "tcp://ch:9000?username=u&password=****&x=1",
		"https://h/p?Token=t&a=b":                  "https://h/p?Token=****&a=b",
		"https://h/user@example.com":               "https://h/user@example.com",
		"not a url":                                "not a url",
		"":                                         "",
		"user:pass@host":                           "user:pass@host", // no scheme: not recognisable as a URL
		"http://[::1]:8080/x":                      "http://[::1]:8080/x",
		"nats://:onlypass@host":                    "nats://:****@host",
	} {
		if got := service.MaskURL(in); got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzMaskURL(f *testing.F) {
	for _, s := range []string{"nats://u:p@h", "nats://t@h,nats://u:p@h2", "clickhouse://u:p@h/db?password=x", "x://@", "://:@?&=#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := service.MaskURL(s)
		// Idempotent, and what was between :// and the last @ of an
		// authority after a ':' is gone.
		if again := service.MaskURL(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, got, again)
		}
		if strings.Contains(s, "://") {
			for _, part := range strings.Split(got, ",") {
				_, rest, _ := strings.Cut(part, "://")
				auth := rest
				if i := strings.IndexAny(rest, "/?#"); i >= 0 {
					auth = rest[:i]
				}
				if at := strings.LastIndex(auth, "@"); at >= 0 {
					if u, p, ok := strings.Cut(auth[:at], ":"); (ok && p != "****") || (!ok && u != "****") {
						t.Fatalf("%q -> %q keeps userinfo %q", s, got, auth[:at])
					}
				}
			}
		}
	})
}
