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
// every field tagged `secret:"true"` so credentials never reach a log.
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
		val := fmt.Sprint(fv.Interface())
		if f.Tag.Get("secret") == "true" && val != "" {
			val = "****"
		}
		out[name] = val
	}
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
