package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics are ingest's Prometheus series.
type Metrics struct {
	Requests      *prometheus.CounterVec // endpoint, outcome
	SignatureFail *prometheus.CounterVec // store
	PublishTime   prometheus.Histogram   // seconds from received to JetStream ack
	Duplicates    *prometheus.CounterVec // origin
	Ignored       *prometheus.CounterVec // reason
	PollLag       *prometheus.GaugeVec   // store, kind: now - cursor
	PollOnly      *prometheus.CounterVec // store, kind: facts the poll found before any webhook
	PollRuns      *prometheus.CounterVec // outcome
	PollDuration  prometheus.Histogram
	BodyLimit     prometheus.Gauge // bytes; bigger webhook bodies get 413
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_ingest_requests_total", Help: "Webhook requests by endpoint and outcome.",
		}, []string{"endpoint", "outcome"}),
		SignatureFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_ingest_signature_failures_total", Help: "Webhooks rejected for a missing or bad signature.",
		}, []string{"store"}),
		PublishTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mlc_ingest_publish_seconds", Help: "Time from a verified webhook to the JetStream ack.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		Duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_ingest_duplicates_total", Help: "Facts JetStream already had (same Nats-Msg-Id).",
		}, []string{"origin"}),
		Ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_ingest_ignored_total", Help: "Deliveries acknowledged but not published, by reason.",
		}, []string{"reason"}),
		PollLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mlc_ingest_poll_lag_seconds", Help: "Now minus the backfill cursor.",
		}, []string{"store", "kind"}),
		PollOnly: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_ingest_poll_only_total", Help: "Facts stored by the backfill poll because no webhook had delivered them.",
		}, []string{"store", "kind"}),
		PollRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_ingest_poll_runs_total", Help: "Backfill poll runs by outcome.",
		}, []string{"outcome"}),
		PollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mlc_ingest_poll_seconds", Help: "Duration of a backfill poll run.",
		}),
		BodyLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlc_ingest_body_limit_bytes", Help: "Largest webhook body accepted: what NATS stores less the envelope.",
		}),
	}
	reg.MustRegister(m.Requests, m.SignatureFail, m.PublishTime, m.Duplicates, m.Ignored, m.PollLag, m.PollOnly, m.PollRuns, m.PollDuration, m.BodyLimit)
	return m
}
