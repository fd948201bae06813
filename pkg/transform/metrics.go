package transform

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of one delivery of a fact (the outcome label).
const (
	outPublished  = "published"     // a NetSuite command was stored
	outDuplicate  = "duplicate"     // the same command was already on NETSUITE
	outSkipped    = "skipped"       // not for NetSuite (open invoice, canceled order)
	outConfirming = "confirming"    // a webhook order not visible through REST yet: retried
	outPhantom    = "phantom"       // never became visible: SYNC outcome, not sent
	outWaiting    = "waiting"       // unmappable for now: retried until the wait is over
	outUnmappable = "unmappable"    // still unmappable after the wait: dead-lettered
	outMalformed  = "malformed"     // not a readable COMMERCE fact: dead-lettered
	outRetrying   = "retrying"      // a dependency failed (Commerce, JetStream): retried with backoff
	outDeadLetter = "dead_lettered" // any other permanent failure
)

type metrics struct {
	facts    *prometheus.CounterVec
	variance *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	items    prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer, itemCount func() float64) *metrics {
	m := &metrics{
		facts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_transform_facts_total",
			Help: "Deliveries of Commerce facts by kind (order.placed, invoice.captured, customer.created) and outcome.",
		}, []string{"kind", "outcome"}),
		variance: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mlc_transform_variance_total",
			Help: "Commands whose NetSuite total differs from Commerce's grand total beyond the tolerance, by record kind.",
		}, []string{"kind"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mlc_transform_seconds",
			Help:    "Time to handle one delivery of a fact (REST confirmation, mapping, publish).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
		items: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mlc_transform_item_map_skus",
			Help: "SKUs with a NetSuite item in the transform's copy of mlc_item_map.",
		}, itemCount),
	}
	reg.MustRegister(m.facts, m.variance, m.seconds, m.items)
	return m
}
