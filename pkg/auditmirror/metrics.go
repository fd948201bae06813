package auditmirror

import "github.com/prometheus/client_golang/prometheus"

// Metrics are audit-mirror's Prometheus series.
type Metrics struct {
	Rows           *prometheus.CounterVec   // stream: rows inserted
	Redacted       *prometheus.CounterVec   // stream: rows with a secret removed
	Invalid        *prometheus.CounterVec   // stream: bodies that are not readable events
	BatchRows      prometheus.Histogram     // rows per insert
	InsertTime     prometheus.Histogram     // seconds per successful insert
	InsertFailures prometheus.Counter       // failed inserts (each is retried)
	Delay          *prometheus.HistogramVec // stream: mirrored minus JetStream time per row
	LagMessages    *prometheus.GaugeVec     // stream: messages not mirrored yet
	LagSeconds     *prometheus.GaugeVec     // stream: age of the oldest message not mirrored yet
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_audit_rows_total", Help: "Rows inserted into ClickHouse by stream.",
		}, []string{"stream"}),
		Redacted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_audit_redacted_total", Help: "Mirrored messages that had a secret-looking header or field removed.",
		}, []string{"stream"}),
		Invalid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_audit_invalid_total", Help: "Mirrored messages whose body is not a readable event (mirrored as they are).",
		}, []string{"stream"}),
		BatchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mlc_audit_batch_rows", Help: "Rows per INSERT.",
			Buckets: []float64{1, 10, 100, 500, 1000, 2000, 5000, 10000, 20000},
		}),
		InsertTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mlc_audit_insert_seconds", Help: "Duration of a successful INSERT.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		InsertFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mlc_audit_insert_failures_total", Help: "Failed INSERTs (the batch is held and retried).",
		}),
		Delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mlc_audit_delay_seconds", Help: "Time from the JetStream store to the ClickHouse insert, per row.",
			Buckets: []float64{.05, .1, .25, .5, 1, 1.5, 2, 3, 5, 10, 30, 60, 300},
		}, []string{"stream"}),
		LagMessages: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mlc_audit_lag_messages", Help: "Messages of the stream not mirrored yet (pending and in flight).",
		}, []string{"stream"}),
		LagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mlc_audit_lag_seconds", Help: "Age of the oldest message of the stream not mirrored yet (0 when caught up).",
		}, []string{"stream"}),
	}
	reg.MustRegister(m.Rows, m.Redacted, m.Invalid, m.BatchRows, m.InsertTime, m.InsertFailures, m.Delay, m.LagMessages, m.LagSeconds)
	return m
}
