package ingest

import "github.com/ml-connector/ml-connector/pkg/event"

// received is a Commerce fact with how it arrived: the origin and the
// sender's trace context become headers when it is published.
type received struct {
	event.CommerceFact
	origin      string
	traceparent string
}
