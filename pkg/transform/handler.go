package transform

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/mapping"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Waits are the bounded waits of the handler, measured from the fact's
// time (when ingest stored it), so that redeliveries, restarts and replicas
// all agree on when a wait is over.
type Waits struct {
	// Confirm is how long a webhook order may stay invisible through REST
	// (it fired before the commit, adobe-commerce.md §3) before it is a
	// phantom; ConfirmRetry how often it is looked up meanwhile.
	Confirm      time.Duration
	ConfirmRetry time.Duration
	// Unmapped is how long an unmappable record waits for the missing
	// mapping (an SKU the next inventory run adds, a setting) before it
	// goes to the DLQ; UnmappedRetry how often it is tried meanwhile.
	Unmapped      time.Duration
	UnmappedRetry time.Duration
	// Call bounds the Commerce REST calls of one delivery.
	Call time.Duration
}

// handler turns one COMMERCE message into a NETSUITE command.
type handler struct {
	st    *state
	pub   *stream.Publisher
	m     *metrics
	log   zerolog.Logger
	waits Waits
	now   func() time.Time
}

// outcome is what one delivery came to, for the metric and the log.
type outcome struct {
	what string
	err  error
}

func (h *handler) handle(ctx context.Context, msg jetstream.Msg) error {
	start := h.now()
	f, err := commercefact.ReadMsg(msg)
	kind := kindOf(msg, f)
	var out outcome
	if err != nil {
		out = outcome{outMalformed, stream.Permanent(err)}
	} else {
		out = h.fact(ctx, msg, f)
	}
	h.m.facts.WithLabelValues(kind, out.what).Inc()
	h.m.seconds.WithLabelValues(kind).Observe(h.now().Sub(start).Seconds())
	return out.err
}

// kindOf labels metrics with the fact kind, from the fact or the subject.
func kindOf(msg jetstream.Msg, f commercefact.Fact) string {
	if f.Kind != "" {
		return f.Kind
	}
	for _, k := range []string{event.OrderPlaced, event.InvoiceCaptured, event.CustomerCreated} {
		if len(msg.Subject()) > len("commerce.")+len(k) && msg.Subject()[len("commerce."):len("commerce.")+len(k)] == k {
			return k
		}
	}
	return "unknown"
}

func (h *handler) fact(ctx context.Context, msg jetstream.Msg, f commercefact.Fact) outcome {
	born := f.Source.EventTime
	attempt := 1
	if md, err := msg.Metadata(); err == nil {
		attempt = int(md.NumDelivered)
		if born.IsZero() {
			born = md.Timestamp
		}
	}
	age := h.now().Sub(born)
	parent := stream.Parent{EventID: f.Source.EventID, Header: msg.Headers()}
	log := h.log.With().Str("key", f.Key()).Int("attempt", attempt).Logger()

	cctx, cancel := context.WithTimeout(ctx, h.waits.Call)
	defer cancel()
	f, order, out, done := h.complete(cctx, f, age, attempt, parent, log)
	if done {
		return out
	}
	in, out, done := h.input(cctx, f, order, age)
	if done {
		return out
	}
	cmd, err := mapping.Map(in)
	switch {
	case errors.Is(err, mapping.ErrSkipped):
		log.Info().Err(err).Msg("not for NetSuite")
		return outcome{outSkipped, nil}
	case errors.Is(err, mapping.ErrUnmappable):
		return h.unmapped(err, age, log)
	case err != nil:
		return outcome{outDeadLetter, stream.Permanent(fmt.Errorf("%s: %w", f.Key(), err))}
	}
	res, err := h.pub.Publish(ctx, cmd, stream.CausedBy(parent))
	if err != nil {
		return outcome{outRetrying, err}
	}
	if cmd.Totals != nil && cmd.Totals.OverTolerance {
		h.m.variance.WithLabelValues(cmd.Kind).Inc()
		log.Warn().Str("external_id", cmd.ExternalID).Str("commerce_total", cmd.Totals.CommerceTotal.String()).
			Str("netsuite_total", cmd.Totals.NetSuiteTotal.String()).Str("variance", cmd.Totals.Variance.String()).
			Msg("NetSuite total differs from Commerce's grand total beyond the tolerance")
	}
	if res.Duplicate {
		return outcome{outDuplicate, nil}
	}
	log.Debug().Str("external_id", cmd.ExternalID).Uint64("seq", res.Seq).Msg("command published")
	return outcome{outPublished, nil}
}

// complete reads through REST what the fact's shape lacks, and confirms a
// webhook order (it may fire before the commit and be rolled back). For an
// invoice it also reads the order. done reports that out settles the
// delivery.
func (h *handler) complete(ctx context.Context, f commercefact.Fact, age time.Duration, attempt int,
	parent stream.Parent, log zerolog.Logger) (commercefact.Fact, *commercefact.Order, outcome, bool) {
	confirm := f.Kind == event.OrderPlaced && f.Source.Shape != commercefact.ShapeREST
	if f.Complete() && !confirm && f.Kind != event.InvoiceCaptured {
		return f, nil, outcome{}, false
	}
	st, ok := h.st.store(f.Store)
	if !ok {
		err := fmt.Errorf("%s: store %s has no Commerce connection to read the record with (mlc connect commerce --store %s)",
			f.Key(), f.Store, f.Store)
		out := h.unmapped(err, age, log)
		return f, nil, out, true
	}
	if !f.Complete() || confirm {
		if f.Complete() {
			// A complete webhook order still has to be seen committed.
			f.Missing = []commercefact.Part{commercefact.PartEntityID}
		}
		cf, err := st.completer.Complete(ctx, f)
		switch {
		case errors.Is(err, commerce.ErrNotFound) && f.Kind == event.OrderPlaced:
			if age < h.waits.Confirm {
				log.Info().Err(err).Dur("age", age).Msg("order not committed yet; looking again")
				return f, nil, outcome{outConfirming, stream.RetryIn(err, h.waits.ConfirmRetry)}, true
			}
			return f, nil, h.phantom(ctx, f, age, attempt, parent, log), true
		case errors.Is(err, commerce.ErrNotFound):
			return f, nil, h.unmapped(err, age, log), true
		case errors.Is(err, commercefact.ErrMismatch):
			return f, nil, outcome{outDeadLetter, stream.Permanent(err)}, true
		case err != nil:
			return f, nil, outcome{outRetrying, err}, true
		}
		f = cf
	}
	if f.Kind != event.InvoiceCaptured {
		return f, nil, outcome{}, false
	}
	if !f.Invoice.Captured() {
		log.Info().Int("state", f.Invoice.State).Msg("invoice not captured: not for NetSuite")
		return f, nil, outcome{outSkipped, nil}, true
	}
	o, err := st.order(ctx, f.Invoice.OrderIncrementID, f.Invoice.StoreID)
	switch {
	case errors.Is(err, commerce.ErrNotFound):
		return f, nil, h.unmapped(fmt.Errorf("%s: %w", f.Key(), err), age, log), true
	case err != nil:
		return f, nil, outcome{outRetrying, err}, true
	}
	return f, o, outcome{}, false
}

// input gathers the rest of the mapping's input: the store's rules, its
// subsidiary, the item map.
func (h *handler) input(ctx context.Context, f commercefact.Fact, order *commercefact.Order, age time.Duration) (mapping.Input, outcome, bool) {
	rules, err := h.st.rulesFor(f.Store)
	if err != nil {
		return mapping.Input{}, h.unmapped(fmt.Errorf("%s: %w", f.Key(), err), age, h.log), true
	}
	ns := h.st.netsuiteSettings()
	website := ""
	switch {
	case f.Customer != nil && f.Customer.WebsiteID > 0:
		website = strconv.FormatInt(f.Customer.WebsiteID, 10)
	case ns.OneWorld && ns.ByStore[f.Store] == "" && len(ns.ByWebsite) > 0:
		// The store's website decides its subsidiary.
		st, ok := h.st.store(f.Store)
		if !ok {
			return mapping.Input{}, h.unmapped(fmt.Errorf("%s: store %s has no Commerce connection to look up its website", f.Key(), f.Store), age, h.log), true
		}
		if website, err = st.websiteID(ctx); err != nil {
			if errors.Is(err, commerce.ErrNotFound) {
				return mapping.Input{}, h.unmapped(fmt.Errorf("%s: %w", f.Key(), err), age, h.log), true
			}
			return mapping.Input{}, outcome{outRetrying, err}, true
		}
	}
	return mapping.Input{Fact: f, Order: order, Rules: rules, OneWorld: ns.OneWorld,
		Subsidiary: ns.SubsidiaryFor(f.Store, website), Items: h.st}, outcome{}, false
}

// unmapped waits for a missing mapping until the wait is over, then
// dead-letters the record with the reason.
func (h *handler) unmapped(err error, age time.Duration, log zerolog.Logger) outcome {
	if age < h.waits.Unmapped {
		log.Info().Err(err).Dur("age", age).Dur("retry_in", h.waits.UnmappedRetry).Msg("unmappable for now; waiting for the mapping")
		return outcome{outWaiting, stream.RetryIn(err, h.waits.UnmappedRetry)}
	}
	return outcome{outUnmappable, stream.Permanent(err)}
}

// phantom records an order that never became visible through REST: a SYNC
// outcome caused by the fact, and nothing for NetSuite.
func (h *handler) phantom(ctx context.Context, f commercefact.Fact, age time.Duration, attempt int, parent stream.Parent, log zerolog.Logger) outcome {
	ext, _ := event.SalesOrderExternalID(f.Store, f.IncrementID())
	o := event.SyncOutcome{
		Kind: event.KindSalesOrder, Status: event.StatusPhantom, BusinessKey: f.Key(), Store: f.Store, ExternalID: ext,
		Attempts: attempt, DurationMS: age.Milliseconds(), CommandID: f.Source.EventID, At: h.now().UTC(), Producer: Name,
		Error: fmt.Sprintf("order %s was announced by %s but is not visible through Commerce REST %s later (rolled back or never committed); not sent to NetSuite",
			f.IncrementID(), origin(f), age.Round(time.Second)),
	}
	if _, err := h.pub.Publish(ctx, o, stream.CausedBy(parent)); err != nil {
		return outcome{outRetrying, err}
	}
	log.Warn().Dur("age", age).Msg("phantom order: never committed in Commerce")
	return outcome{outPhantom, nil}
}

func origin(f commercefact.Fact) string {
	switch {
	case f.Source.CommerceEvent != "":
		return f.Source.CommerceEvent
	case f.Source.Origin != "":
		return f.Source.Origin
	}
	return string(f.Source.Shape)
}
