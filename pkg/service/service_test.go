package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/natstest"
	"github.com/ml-connector/ml-connector/pkg/service"
)

type testConfig struct {
	service.Base
	Store  string `env:"MLC_COMMERCE_STORE" envDefault:"default"`
	Secret string `env:"MLC_WEBHOOK_SECRET" secret:"true"`
}

func TestLoadConfigDefaultsAndMasking(t *testing.T) {
	cfg, err := service.LoadConfig[testConfig](map[string]string{"MLC_WEBHOOK_SECRET": "hunter2", "MLC_HTTP_ADDR": ":9999"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATSURL != "nats://127.0.0.1:4222" || cfg.HTTPAddr != ":9999" || cfg.Store != "default" || cfg.ShutdownTimeout != 20*time.Second {
		t.Fatalf("config = %+v", cfg)
	}
	d := service.Describe(cfg)
	if d["MLC_WEBHOOK_SECRET"] != "****" {
		t.Errorf("secret not masked: %q", d["MLC_WEBHOOK_SECRET"])
	}
	if d["MLC_COMMERCE_STORE"] != "default" || d["MLC_HTTP_ADDR"] != ":9999" {
		t.Errorf("describe = %v", d)
	}
	for _, v := range d {
		if strings.Contains(v, "hunter2") {
			t.Fatal("secret value leaked by Describe")
		}
	}
}

func TestLoadConfigValidates(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"bad level":    {"MLC_LOG_LEVEL": "loud"},
		"bad duration": {"MLC_SHUTDOWN_TIMEOUT": "soon"},
		"zero grace":   {"MLC_SHUTDOWN_TIMEOUT": "0s"},
	} {
		if _, err := service.LoadConfig[testConfig](env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStartServeReadyAndShutdown(t *testing.T) {
	s := natstest.RunServer(t)
	base, err := service.LoadConfig[service.Base](map[string]string{
		"MLC_NATS_URL": s.ClientURL(), "MLC_HTTP_ADDR": "127.0.0.1:0", "MLC_SHUTDOWN_TIMEOUT": "5s",
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := service.Start(ctx, service.Spec{Name: "probe", Streams: []string{"COMMERCE"}, Buckets: []string{"mlc_checkpoints"}}, base, &logs)
	if err != nil {
		t.Fatal(err)
	}
	workerStopped := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- rt.Serve(ctx, func(ctx context.Context) error {
			<-ctx.Done()
			close(workerStopped)
			return nil
		})
	}()
	url := "http://" + rt.HTTP.Addr()
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body["nats"] != "ok" || body["streams"] != "ok" {
		t.Errorf("readyz = %v", body)
	}
	// Deleting a stream the service needs makes it unready.
	if err := rt.JS.DeleteStream(ctx, "COMMERCE"); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz without stream: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
	<-workerStopped
	if !strings.Contains(logs.String(), `"service":"probe"`) {
		t.Errorf("logs are not JSON tagged with the service: %s", logs.String())
	}
}
