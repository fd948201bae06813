package inventory

import "github.com/prometheus/client_golang/prometheus"

// Metrics are inventory-publisher's Prometheus series. Store labels are
// bounded by the connected stores.
type Metrics struct {
	Runs        *prometheus.CounterVec // origin, outcome (ok, error, standby)
	RunSeconds  prometheus.Histogram
	Pages       *prometheus.CounterVec // table
	Changes     *prometheus.CounterVec // store, part (price, stock)
	Published   *prometheus.CounterVec // store, result (new, duplicate)
	Writes      *prometheus.CounterVec // store, endpoint, outcome (ok, rejected)
	UnknownSKUs *prometheus.CounterVec // store
	Superseded  *prometheus.CounterVec // store
	Calls       *prometheus.CounterVec // store, endpoint
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_runs_total", Help: "Inventory runs by origin and outcome (standby: another replica holds the run lease).",
		}, []string{"origin", "outcome"}),
		RunSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mlc_inventory_run_seconds", Help: "Duration of an inventory run (read, diff, publish).",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		Pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_suiteql_pages_total", Help: "SuiteQL pages read, by table.",
		}, []string{"table"}),
		Changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_changes_total", Help: "SKU changes found by the diff, by store and part.",
		}, []string{"store", "part"}),
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_published_total", Help: "INVENTORY messages published, by store and result (duplicate: JetStream had the id).",
		}, []string{"store", "result"}),
		Writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_commerce_rows_total", Help: "Rows written to Commerce, by store, endpoint and outcome.",
		}, []string{"store", "endpoint", "outcome"}),
		UnknownSKUs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_unknown_skus_total", Help: "Changes Commerce rejected because it has no product with the SKU.",
		}, []string{"store"}),
		Superseded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_superseded_total", Help: "Redelivered changes not written because a newer one was published.",
		}, []string{"store"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_inventory_commerce_requests_total", Help: "Commerce requests made by the writer, by store and endpoint.",
		}, []string{"store", "endpoint"}),
	}
	reg.MustRegister(m.Runs, m.RunSeconds, m.Pages, m.Changes, m.Published, m.Writes, m.UnknownSKUs, m.Superseded, m.Calls)
	return m
}
