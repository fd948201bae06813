// Package service is the scaffolding every ml-connector service runs on:
// configuration from MLC_* environment variables, zerolog JSON logging, the
// /healthz /readyz /metrics server, NATS, and graceful shutdown.
package service

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Base is the configuration every service shares (DESIGN.md §5).
type Base struct {
	NATSURL         string        `env:"MLC_NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	NATSCreds       string        `env:"MLC_NATS_CREDS"`
	HTTPAddr        string        `env:"MLC_HTTP_ADDR" envDefault:":8080"`
	LogLevel        string        `env:"MLC_LOG_LEVEL" envDefault:"info"`
	ShutdownTimeout time.Duration `env:"MLC_SHUTDOWN_TIMEOUT" envDefault:"20s"`
	// HTTPMaxHeaderBytes bounds a request's header block (431 above it);
	// webhooks carry a few small headers.
	HTTPMaxHeaderBytes int `env:"MLC_HTTP_MAX_HEADER_BYTES" envDefault:"65536"`
	// HTTPMaxConns bounds the connections served at once; the ones over it
	// get 503 at once, so a flood cannot exhaust memory or descriptors.
	HTTPMaxConns int `env:"MLC_HTTP_MAX_CONNS" envDefault:"1024"`

	// How the service proves who it is to NATS and checks the server
	// (README, "Deploy"): files the deployment mounts.
	NATSNKeyFile string `env:"MLC_NATS_NKEY_FILE"` // NKey seed of the service's user
	NATSTLSCA    string `env:"MLC_NATS_TLS_CA"`    // CA of the NATS server certificates
	NATSTLSCert  string `env:"MLC_NATS_TLS_CERT"`  // client certificate (servers that verify clients)
	NATSTLSKey   string `env:"MLC_NATS_TLS_KEY"`
	// Provision: create or update the service's streams, consumers and
	// buckets at start. Production sets false: `mlc streams apply
	// --replicas 3` provisions, services only check (their NATS users may
	// not change streams, and the files' one replica must not undo three).
	Provision bool `env:"MLC_PROVISION" envDefault:"true"`
}

// Validate checks the shared settings.
func (b Base) Validate() error {
	if b.NATSURL == "" {
		return fmt.Errorf("MLC_NATS_URL is empty")
	}
	if (b.NATSTLSCert == "") != (b.NATSTLSKey == "") {
		return fmt.Errorf("MLC_NATS_TLS_CERT and MLC_NATS_TLS_KEY go together")
	}
	if b.ShutdownTimeout <= 0 {
		return fmt.Errorf("MLC_SHUTDOWN_TIMEOUT must be positive, got %v", b.ShutdownTimeout)
	}
	if b.HTTPMaxHeaderBytes < 4096 || b.HTTPMaxConns < 1 {
		return fmt.Errorf("MLC_HTTP_MAX_HEADER_BYTES (%d) must be at least 4096 and MLC_HTTP_MAX_CONNS (%d) at least 1",
			b.HTTPMaxHeaderBytes, b.HTTPMaxConns)
	}
	if _, err := parseLevel(b.LogLevel); err != nil {
		return err
	}
	return nil
}

// Environ returns the process environment as a map, for LoadConfig.
func Environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// LoadConfig fills a T from environ (use Environ() in main, a literal map in
// tests and in `mlc dev`) and runs its Validate method when it has one.
func LoadConfig[T any](environ map[string]string) (T, error) {
	var cfg T
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if v, ok := any(cfg).(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
	}
	return cfg, nil
}

// Describe renders cfg as env-name -> value for the start-up log, masking
// every field tagged `secret:"true"` and the credentials of every URL or
// DSN (MaskURL), so credentials never reach a log.
func Describe(cfg any) map[string]string {
	out := map[string]string{}
	describe(reflect.ValueOf(cfg), out)
	return out
}

func describe(v reflect.Value, out map[string]string) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		fv := v.Field(i)
		if name == "" {
			if fv.Kind() == reflect.Struct || fv.Kind() == reflect.Pointer {
				describe(fv, out)
			}
			continue
		}
		val := MaskURL(fmt.Sprint(fv.Interface()))
		if f.Tag.Get("secret") == "true" && val != "" {
			val = "****"
		}
		out[name] = val
	}
}

// mask replaces a credential in a logged URL.
const mask = "****"

// secretParams are query parameters that carry a credential in DSNs
// (ClickHouse's ?password=, tokens in webhook URLs).
var secretParams = map[string]bool{"password": true, "pass": true, "pwd": true, "secret": true, "token": true, "access_token": true}

// MaskURL returns s with the credentials of every URL in it masked: the
// password of user:password@, a userinfo that is a bare token (nats://token@),
// and password-like query parameters. s may list several URLs separated by
// commas (NATS seed lists). Anything that is not a URL is returned as is.
func MaskURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = maskOneURL(p)
	}
	return strings.Join(parts, ",")
}

func maskOneURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	// The authority ends at the first '/', '?' or '#'; its userinfo at the
	// last '@' (a password may itself contain '@'). Done by hand, not with
	// url.Parse, so that a URL too broken to parse is masked too.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if user, _, hasPass := strings.Cut(authority[:at], ":"); hasPass {
			authority = user + ":" + mask + authority[at:]
		} else {
			authority = mask + authority[at:]
		}
	}
	return scheme + "://" + authority + maskQuery(tail)
}

func maskQuery(tail string) string {
	path, query, ok := strings.Cut(tail, "?")
	if !ok {
		return tail
	}
	query, frag, hasFrag := strings.Cut(query, "#")
	params := strings.Split(query, "&")
	for i, p := range params {
		if k, _, ok := strings.Cut(p, "="); ok && secretParams[strings.ToLower(k)] {
			params[i] = k + "=" + mask
		}
	}
	out := path + "?" + strings.Join(params, "&")
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// Keys returns the sorted keys of m (for stable printing).
func Keys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
