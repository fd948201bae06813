package servicetest_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/service"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
	"github.com/ml-connector/ml-connector/pkg/sim/netsuitesim"
)

// relay is a minimal service: POST /relay/{token} stores the body on
// COMMERCE as commerce.test.<token>, and it is ready only with a NetSuite
// connection it can read.
func relay(ctx context.Context, environ map[string]string, logOut io.Writer) error {
	base, err := service.LoadConfig[service.Base](environ)
	if err != nil {
		return err
	}
	keys, err := secrets.LoadKeyring(func(k string) string { return environ[k] })
	if err != nil {
		return err
	}
	rt, err := service.Start(ctx, service.Spec{Name: "relay", Streams: []string{"COMMERCE"}, Buckets: []string{secrets.Bucket}}, base, logOut)
	if err != nil {
		return err
	}
	kv, err := rt.JS.KeyValue(ctx, secrets.Bucket)
	if err != nil {
		return err
	}
	creds := secrets.NewStore(kv, keys)
	rt.HTTP.AddCheck("netsuite", func(ctx context.Context) error {
		_, err := connection.LoadNetSuite(ctx, creds)
		return err
	})
	rt.HTTP.Mux.HandleFunc("POST /relay/{token}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		msg := nats.NewMsg("commerce.test." + r.PathValue("token"))
		msg.Data = b
		msg.Header.Set("Mlc-Origin", r.Header.Get("Mlc-Origin"))
		if _, err := rt.JS.PublishMsg(r.Context(), msg); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		rt.Log.Info().Str("token", r.PathValue("token")).Msg("relayed")
		_, _ = io.WriteString(w, "ok")
	})
	return rt.Serve(ctx)
}

func TestServiceRunsOnItsSurroundings(t *testing.T) {
	e := servicetest.New(t, servicetest.WithNetSuite(netsuitesim.Config{}), servicetest.WithCommerce(commercesim.Config{}),
		servicetest.WithStores("default", "en_us"))
	svc := e.Run(relay, servicetest.Setenv(map[string]string{"MLC_LOG_LEVEL": "info"}))

	status, body := svc.Post(t, "/relay/a", []byte(`{"n":1}`), http.Header{"Mlc-Origin": {"test"}})
	if status != http.StatusOK || body != "ok" {
		t.Fatalf("relay: %d %s", status, body)
	}
	e.Publish(t, "commerce.test.b", nats.Header{"Mlc-Origin": {"direct"}}, []byte(`{"n":2}`))
	svc.Post(t, "/relay/a", []byte(`{"n":3}`), nil)

	first := e.Next(t, "COMMERCE", "commerce.test.a")
	if string(first.Data()) != `{"n":1}` || first.Headers().Get("Mlc-Origin") != "test" {
		t.Fatalf("first on a: %s %v", first.Data(), first.Headers())
	}
	if second := e.Next(t, "COMMERCE", "commerce.test.a"); string(second.Data()) != `{"n":3}` {
		t.Fatalf("second on a: %s", second.Data())
	}
	if all := e.Next(t, "COMMERCE", "commerce.test.*"); string(all.Data()) != `{"n":1}` {
		t.Fatalf("a new filter starts at the beginning: %s", all.Data())
	}
	if n := e.Count(t, "COMMERCE", "commerce.test.*"); n != 3 {
		t.Fatalf("count %d", n)
	}
	if n := e.Count(t, "COMMERCE", "commerce.test.a"); n != 2 {
		t.Fatalf("count on a %d", n)
	}
	if last := e.Last(t, "COMMERCE", "commerce.test.b"); string(last.Data) != `{"n":2}` {
		t.Fatalf("last on b: %s", last.Data)
	}
	if e.Total(t, "COMMERCE") != 3 {
		t.Fatal("total")
	}
	// Stored connections open with the environment's master key.
	all, err := connection.ListCommerce(context.Background(), e.Secrets)
	if err != nil || len(all) != 2 {
		t.Fatalf("stored stores %v %v", all, err)
	}
	if m := svc.Metric(t, "go_goroutines"); m == "" {
		t.Error("no go_goroutines on /metrics")
	}
	servicetest.WaitFor(t, "the relay log line", func() bool { return strings.Contains(svc.Logs.String(), `"token":"a"`) })
	svc.Stop()
	if !strings.Contains(svc.Logs.String(), `"message":"stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", svc.Logs.String())
	}
}

func TestNATSOutageAndReturn(t *testing.T) {
	e := servicetest.New(t, servicetest.WithNetSuite(netsuitesim.Config{}))
	svc := e.Run(relay)
	e.StopNATS()
	if status, _ := svc.Post(t, "/relay/x", []byte(`{}`), nil); status != http.StatusServiceUnavailable {
		t.Fatalf("during the outage: %d", status)
	}
	e.StartNATS()
	servicetest.WaitFor(t, "the service to reconnect", func() bool {
		status, _ := svc.Post(t, "/relay/x", []byte(`{}`), nil)
		return status == http.StatusOK
	})
	if n := e.Count(t, "COMMERCE", "commerce.test.x"); n != 1 {
		t.Fatalf("%d messages after the outage", n)
	}
}

func TestUnreadyServiceWithHealthy(t *testing.T) {
	e := servicetest.New(t) // no NetSuite connection: relay stays unready
	svc := e.Run(relay, servicetest.Healthy())
	if status, body := svc.Get(t, "/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "netsuite") {
		t.Fatalf("readyz %d %s", status, body)
	}
}
