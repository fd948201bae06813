package ingest_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/servicetest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

type options struct {
	drop         float64
	poll         bool
	pollInterval time.Duration
	env          map[string]string
	noWebhooks   bool                // the simulator sends no Commerce webhooks
	io           *ioOptions          // the simulator also delivers through Adobe I/O Events
	stores       []string            // connected stores (default: just "default"); ids are looked up from Commerce
	simStores    []commercesim.Store // the simulator's stores (default: its own, default and uk)
}

// ioOptions turn on the simulator's I/O Events deliveries to ingest's
// /webhooks/adobe-io and the store connection's I/O Events keys.
type ioOptions struct {
	rule     string          // commercesim.RetryRuleCurrent (default) or RetryRuleLegacy
	schedule []time.Duration // retry waits; default 8 x 50ms
	clientID string          // the recipient the store connection accepts; default the simulator's
	// via, when set, gets ingest's endpoint URL and returns the URL the
	// simulator posts to (a proxy in front of ingest).
	via func(target string) string
}

// harness is ingest running as in production (ingest.Run in its own
// goroutine) on servicetest's JetStream, with the Commerce simulator sending
// signed webhooks to it and answering its backfill poll.
type harness struct {
	*servicetest.Env
	t   *testing.T
	sim *commercesim.Server
	svc *servicetest.Service
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	addr := servicetest.FreeAddr(t)
	url := "http://" + addr
	simCfg := commercesim.Config{Seed: 7, Stores: o.simStores, Webhooks: commercesim.WebhookConfig{
		BaseURL: url + "/webhooks/commerce", Timeout: 5 * time.Second, DropRate: o.drop}}
	if o.noWebhooks {
		simCfg.Webhooks.BaseURL = ""
	}
	if o.io != nil {
		target := url + "/webhooks/adobe-io"
		if o.io.via != nil {
			target = o.io.via(target)
		}
		sched := o.io.schedule
		if sched == nil {
			sched = make([]time.Duration, 8)
			for i := range sched {
				sched[i] = 50 * time.Millisecond
			}
		}
		simCfg.IOEvents = commercesim.IOEventsConfig{URL: target, ClientID: "mlc-harness-io-client", RetryRule: o.io.rule,
			RetrySchedule: sched, Timeout: 5 * time.Second}
	}
	e := servicetest.New(t, servicetest.WithCommerce(simCfg), servicetest.WithStores())
	stores := o.stores
	if len(stores) == 0 {
		stores = []string{"default"}
	}
	for _, code := range stores {
		c := e.CommerceConnection(code)
		if o.io != nil && o.io.clientID != "" {
			c.IOEvents.ClientID = o.io.clientID
		}
		e.SaveCommerce(c)
	}
	interval := o.pollInterval
	if interval == 0 {
		interval = 200 * time.Millisecond
	}
	env := map[string]string{
		"MLC_POLL_ENABLED":  strconv.FormatBool(o.poll),
		"MLC_POLL_INTERVAL": interval.String(),
		"MLC_POLL_SETTLE":   "0s",
		"MLC_POLL_LOOKBACK": "1m",
	}
	for k, v := range o.env {
		env[k] = v
	}
	svc := e.Run(ingest.Run, servicetest.At(addr), servicetest.Setenv(env))
	return &harness{Env: e, t: t, sim: e.Commerce, svc: svc}
}

func (h *harness) count(subject string) uint64 {
	h.t.Helper()
	return h.Count(h.t, "COMMERCE", subject)
}

func (h *harness) total() uint64 { h.t.Helper(); return h.Total(h.t, "COMMERCE") }

// last returns the envelope and headers of the last message on subject.
func (h *harness) last(subject string) (event.Envelope, map[string]string) {
	h.t.Helper()
	m := h.Last(h.t, "COMMERCE", subject)
	ev, err := event.Decode(m.Data)
	if err != nil {
		h.t.Fatal(err)
	}
	hdr := map[string]string{}
	for k := range m.Header {
		hdr[k] = m.Header.Get(k)
	}
	return ev, hdr
}

func (h *harness) post(path string, body []byte, hdr http.Header) (int, string) {
	h.t.Helper()
	return h.svc.Post(h.t, path, body, hdr)
}

func (h *harness) metric(series string) string { h.t.Helper(); return h.svc.Metric(h.t, series) }

// pollRuns is how many backfill poll runs have finished: evidence that a
// poll looked before a test asserts that it found nothing more.
func (h *harness) pollRuns() int {
	h.t.Helper()
	n, _ := strconv.Atoi(h.metric(`mlc_ingest_poll_runs_total{outcome="ok"}`))
	return n
}

// afterPolls waits until n more poll runs have finished.
func (h *harness) afterPolls(n int) {
	h.t.Helper()
	want := h.pollRuns() + n
	servicetest.WaitFor(h.t, strconv.Itoa(n)+" more poll runs", func() bool { return h.pollRuns() >= want })
}

// logged reports whether one log line has all of parts.
func (h *harness) logged(parts ...string) bool {
	for _, line := range strings.Split(h.svc.Logs.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all && line != "" {
			return true
		}
	}
	return false
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	servicetest.WaitFor(h.t, what, cond)
}

// signCommerce signs body the way Commerce's webhook module does.
func signCommerce(t *testing.T, key *rsa.PrivateKey, body []byte) string {
	t.Helper()
	digest := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(body)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}
