package writer

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the writer's Prometheus series.
type Metrics struct {
	Outcomes      *prometheus.CounterVec // kind, status
	Duration      *prometheus.HistogramVec
	Calls         *prometheus.CounterVec // method, status: every NetSuite API call
	TokenRequests *prometheus.CounterVec // status
	Retries       *prometheus.CounterVec // class: in-process retries
	InvoiceWaits  *prometheus.CounterVec // action: hold, requeue
	Budget        prometheus.Gauge
	Limit         prometheus.GaugeFunc
	InFlight      prometheus.GaugeFunc
}

// NewMetrics registers the series on reg; limit and inFlight read the
// process's limiter.
func NewMetrics(reg prometheus.Registerer, limit, inFlight func() float64) *Metrics {
	m := &Metrics{
		Outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_writer_outcomes_total", Help: "Commands settled, by kind and SYNC status.",
		}, []string{"kind", "status"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mlc_writer_command_seconds", Help: "Time to settle one delivery of a command.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"kind"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_writer_netsuite_calls_total", Help: "NetSuite API calls by method and HTTP status (error: no answer).",
		}, []string{"method", "status"}),
		TokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_writer_netsuite_token_requests_total", Help: "OAuth 2.0 token exchanges by HTTP status.",
		}, []string{"status"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_writer_retries_total", Help: "In-process retries of a command, by error class.",
		}, []string{"class"}),
		InvoiceWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_writer_invoice_waits_total", Help: "Invoices whose sales order was not in NetSuite yet: held (redelivered later) or requeued behind the backlog.",
		}, []string{"action"}),
		Budget: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mlc_writer_concurrency_budget", Help: "NetSuite requests the writer may have in flight across replicas (its max_ack_pending).",
		}),
		Limit: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mlc_writer_limiter_limit", Help: "This replica's adaptive (AIMD) limit on NetSuite requests.",
		}, limit),
		InFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mlc_writer_limiter_in_flight", Help: "NetSuite requests this replica has in flight.",
		}, inFlight),
	}
	reg.MustRegister(m.Outcomes, m.Duration, m.Calls, m.TokenRequests, m.Retries, m.InvoiceWaits, m.Budget, m.Limit, m.InFlight)
	return m
}
