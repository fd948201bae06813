package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// HeaderStore names the store a webhook belongs to. It is one of the
// headers configured on the hook in Commerce (see `mlc connect commerce`).
const HeaderStore = "X-Mlc-Store"

// HeaderRequestID is the debug id Commerce adds to every webhook request.
const HeaderRequestID = "X-Adobe-Commerce-Request-Id"

// Webhook endpoints, by the {event} path segment.
var webhookKinds = map[string]string{
	"order-placed":     event.OrderPlaced,
	"invoice-captured": event.InvoiceCaptured,
	"customer-created": event.CustomerCreated,
}

// Webhooks receives Commerce webhooks and Adobe I/O Events deliveries.
type Webhooks struct {
	stores       *Stores
	pub          *stream.Publisher
	m            *Metrics
	log          zerolog.Logger
	maxBody      int64
	ackTimeout   time.Duration
	defaultStore string
}

// NewWebhooks builds the receiver. maxBody caps request bodies (413 above),
// ackTimeout bounds the wait for JetStream (503 after it).
func NewWebhooks(stores *Stores, pub *stream.Publisher, m *Metrics, log zerolog.Logger, maxBody int64, ackTimeout time.Duration, defaultStore string) *Webhooks {
	return &Webhooks{stores: stores, pub: pub, m: m, log: log, maxBody: maxBody, ackTimeout: ackTimeout, defaultStore: defaultStore}
}

// reject is a failed delivery: the status Commerce sees and a reason a
// person can act on (Commerce logs the body).
type reject struct {
	status int
	reason string
}

// call is one request as the handlers read it, with the copies of its
// headers the verifiers take (built on first use).
type call struct {
	c   *fasthttp.RequestCtx
	hdr http.Header
}

// header is the request's header block as net/http's type, for the
// verifiers: keys in canonical form (fasthttp normalizes them the same
// way), values copied.
func (r *call) header() http.Header {
	if r.hdr == nil {
		r.hdr = make(http.Header, r.c.Request.Header.Len())
		for k, v := range r.c.Request.Header.All() {
			key := string(k)
			r.hdr[key] = append(r.hdr[key], string(v))
		}
	}
	return r.hdr
}

// get is the first value of a request header, copied.
func (r *call) get(name string) string { return string(r.c.Request.Header.Peek(name)) }

func (h *Webhooks) storeOf(r *call, inPath string) string {
	if inPath != "" {
		return inPath
	}
	if s := bytes.TrimSpace(r.c.Request.Header.Peek(HeaderStore)); len(s) > 0 {
		return string(s)
	}
	if s := r.c.QueryArgs().Peek("store"); len(s) > 0 {
		return string(s)
	}
	return h.defaultStore
}

// readBody reads at most maxBody bytes; more is a 413.
func (h *Webhooks) readBody(r *call) ([]byte, *reject) {
	n := int64(r.c.Request.Header.ContentLength()) // -1 chunked, -2 none
	if n > h.maxBody {
		return nil, &reject{http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes is over the %d byte limit", n, h.maxBody)}
	}
	body := r.c.RequestBodyStream()
	if body == nil {
		// No body on the wire (or a handler driven without a server): what
		// fasthttp holds, copied, since it is reused after the handler.
		body = bytes.NewReader(r.c.Request.Body())
	}
	var raw []byte
	var err error
	if n > 0 && n <= presizeBody {
		// A webhook's usual few KB, read into one buffer of the announced
		// size (io.ReadAll grows one step by step, copying as it goes).
		// The stream never yields more than Content-Length.
		raw = make([]byte, n)
		_, err = io.ReadFull(body, raw)
	} else {
		// Unknown or large: grow with what actually arrives, so a sender
		// cannot make ingest reserve memory it never fills.
		raw, err = io.ReadAll(io.LimitReader(body, h.maxBody+1))
		if err == nil && int64(len(raw)) > h.maxBody {
			return nil, &reject{http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over the %d byte limit", h.maxBody)}
		}
	}
	if err != nil {
		return nil, &reject{http.StatusBadRequest, "reading body: " + err.Error()}
	}
	return raw, nil
}

// presizeBody is the largest announced body read into a buffer allocated
// up front.
const presizeBody = 64 << 10

// commerce serves /webhooks/commerce/[{store}/]{event}.
func (h *Webhooks) commerce(c *fasthttp.RequestCtx, inPath, endpoint string) {
	start := time.Now()
	r := &call{c: c}
	kind, ok := webhookKinds[endpoint]
	if !ok {
		h.finish(r, "unknown", start, "", &reject{http.StatusNotFound, fmt.Sprintf("unknown webhook %s: want order-placed, invoice-captured or customer-created", clip(endpoint))})
		return
	}
	// The store comes from the path or a header: refuse an unknown one
	// before reading a body that could not be verified anyway.
	store := h.storeOf(r, inPath)
	st, ok := h.stores.Get(store)
	if !ok {
		// "unknown", not the header's value: a label per made-up store
		// name would let anyone grow the metrics without bound.
		h.m.SignatureFail.WithLabelValues("unknown").Inc()
		h.finish(r, endpoint, start, "", &reject{http.StatusUnauthorized, fmt.Sprintf("store %s is not connected, so its webhook cannot be verified", clip(store))})
		return
	}
	raw, rej := h.readBody(r)
	if rej != nil {
		h.finish(r, endpoint, start, "", rej)
		return
	}
	if err := st.Verifier.Verify(raw, r.header()); err != nil {
		h.m.SignatureFail.WithLabelValues(store).Inc()
		h.finish(r, endpoint, start, "", &reject{http.StatusUnauthorized, err.Error()})
		return
	}
	fact, storeID, ignore, err := decodeWebhook(kind, store, raw)
	if err != nil {
		h.finish(r, endpoint, start, "", &reject{http.StatusBadRequest, err.Error()})
		return
	}
	fact.origin, fact.DataSchema, fact.traceparent = event.OriginWebhook, event.SchemaWebhook, r.get(event.HeaderTraceparent)
	if ignore == "" {
		ignore, rej = h.routeStore(raw, r.header(), st, &fact, storeID, func(s Store) commerce.WebhookVerifier { return s.Verifier })
		if rej != nil {
			h.finish(r, endpoint, start, "", rej)
			return
		}
	}
	if ignore != "" {
		h.m.Ignored.WithLabelValues(ignore).Inc()
		h.finish(r, endpoint, start, event.Key(fact.Entity(), store, fact.ID), nil)
		return
	}
	if rej := idFits(fact.CommerceFact); rej != nil {
		h.finish(r, endpoint, start, "", rej)
		return
	}
	// decodeWebhook validated the whole body (the fuzz test holds it to that).
	h.publish(r, endpoint, start, fact, stream.DataValidated())
}

func (h *Webhooks) publish(r *call, endpoint string, start time.Time, fact received, opts ...stream.PublishOption) {
	// Not the RequestCtx: fasthttp ends its context at shutdown, and the
	// fact is being stored whatever the client does meanwhile.
	ctx, cancel := context.WithTimeout(context.Background(), h.ackTimeout)
	defer cancel()
	opts = append(opts, stream.WithOrigin(fact.origin), stream.WithTraceparent(fact.traceparent))
	// Sent at once, the ack awaited: 200 only once JetStream has the fact.
	var res stream.Published
	pending, err := h.pub.PublishAsync(fact.CommerceFact, opts...)
	if err == nil {
		res, err = pending.Wait(ctx)
	}
	h.m.PublishTime.Observe(time.Since(start).Seconds())
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		// Not an outage: this fact can never be stored, by the poll either.
		h.finish(r, endpoint, start, fact.Key(), &reject{http.StatusRequestEntityTooLarge, fmt.Sprintf(
			"as an event this %d byte body is over what NATS stores (max_payload): it can never be stored", len(fact.Raw))})
		return
	}
	if err != nil {
		// Commerce logs the failure; the backfill poll will still find the record.
		h.finish(r, endpoint, start, fact.Key(), &reject{http.StatusServiceUnavailable, "event store unavailable, the backfill poll will pick this up: " + err.Error()})
		return
	}
	if res.Duplicate {
		h.m.Duplicates.WithLabelValues(fact.origin).Inc()
	}
	h.succeed(r, endpoint)
	// Built only when debug logging is on: every stored webhook passes here.
	if e := h.log.Debug(); e.Enabled() {
		h.logFields(e, r, endpoint, start, fact.Key()).Msg("webhook stored")
	}
}

// decodeWebhook turns a verified body into a fact and the store_id the
// payload names (0 when absent). ignore is a reason for acknowledging
// without publishing (an invoice that is not paid).
func decodeWebhook(kind, store string, raw []byte) (f received, storeID int64, ignore string, err error) {
	f = received{CommerceFact: event.CommerceFact{Kind: kind, Store: store, Raw: raw}}
	switch kind {
	case event.OrderPlaced:
		o, err := commerce.DecodeOrderPlaced(raw)
		if err != nil {
			return f, 0, "", err
		}
		f.ID, storeID = o.IncrementID, o.StoreID
	case event.InvoiceCaptured:
		inv, err := commerce.DecodeInvoiceSaved(raw)
		if err != nil {
			return f, 0, "", err
		}
		f.ID, storeID = inv.IncrementID, inv.StoreID
		if !inv.Captured() {
			return f, storeID, "invoice-not-paid", nil
		}
	case event.CustomerCreated:
		c, err := commerce.DecodeCustomerCreated(raw)
		if err != nil {
			return f, 0, "", err
		}
		f.ID, storeID = event.BuyerKey(c.ID, c.Email), c.StoreID
	default:
		return f, 0, "", fmt.Errorf("unknown webhook kind %q", kind)
	}
	return f, storeID, "", nil
}

// routeStore files a fact under the store its payload names. Commerce runs
// one hook for all stores with the same configured headers, so the
// payload's store_id, not the X-Mlc-Store header, says whose record it is.
// The body is verified again with that store's key when it differs from
// the one already checked. An order of a store this deployment does not
// sync is acknowledged and ignored.
func (h *Webhooks) routeStore(raw []byte, hdr http.Header, checked Store, f *received, storeID int64,
	verifier func(Store) commerce.WebhookVerifier) (ignore string, rej *reject) {
	if storeID == 0 {
		return "", nil
	}
	st, ok, known := h.stores.ByID(storeID)
	switch {
	case ok && st.Code != checked.Code:
		v := verifier(st)
		if v == nil {
			return "", &reject{http.StatusUnauthorized, fmt.Sprintf("store %q (id %d) has no verification configured for this endpoint", st.Code, storeID)}
		}
		if err := v.Verify(raw, hdr); err != nil {
			h.m.SignatureFail.WithLabelValues(st.Code).Inc()
			return "", &reject{http.StatusUnauthorized, err.Error()}
		}
		f.Store = st.Code
	case !ok && known:
		h.log.Warn().Int64("store_id", storeID).Str("kind", f.Kind).Str("id", cut(f.ID, maxEcho)).
			Msg("record of a store that is not connected: acknowledged, not synced")
		return "store-not-connected", nil
	}
	return "", nil
}

// ioEvents serves /webhooks/adobe-io[/{store}].
func (h *Webhooks) ioEvents(c *fasthttp.RequestCtx, inPath string) {
	start := time.Now()
	r := &call{c: c}
	probe := &http.Request{Method: string(c.Method()), URL: &url.URL{RawQuery: string(c.URI().QueryString())}}
	if ch, ok := commerce.Challenge(probe); ok {
		_ = commerce.WriteChallenge(&answer{c: c}, ch)
		h.m.Requests.WithLabelValues("adobe-io", "challenge").Inc()
		return
	}
	if !c.IsPost() {
		h.finish(r, "adobe-io", start, "", &reject{http.StatusMethodNotAllowed, "POST an event, or GET with ?challenge="})
		return
	}
	store := h.storeOf(r, inPath)
	st, ok := h.stores.Get(store)
	if !ok || st.IOEvents == nil {
		h.m.SignatureFail.WithLabelValues("unknown").Inc()
		h.finish(r, "adobe-io", start, "", &reject{http.StatusUnauthorized, fmt.Sprintf("store %s has no I/O Events keys configured", clip(store))})
		return
	}
	raw, rej := h.readBody(r)
	if rej != nil {
		h.finish(r, "adobe-io", start, "", rej)
		return
	}
	if err := st.IOEvents.Verify(raw, r.header()); err != nil {
		h.m.SignatureFail.WithLabelValues(store).Inc()
		// 400, not 401: I/O Events retries 5xx and 429 only, and a bad
		// signature will not get better by retrying.
		h.finish(r, "adobe-io", start, "", &reject{http.StatusBadRequest, err.Error()})
		return
	}
	ev, err := commerce.DecodeIOEvent(raw)
	if err != nil {
		h.finish(r, "adobe-io", start, "", &reject{http.StatusBadRequest, err.Error()})
		return
	}
	f := received{CommerceFact: event.CommerceFact{Store: store, Raw: raw, DataSchema: event.SchemaIOEvent},
		origin: event.OriginIOEvents, traceparent: r.get(event.HeaderTraceparent)}
	var storeID int64
	name := ev.EventName()
	switch {
	case strings.Contains(name, "sales_order_place") || strings.Contains(name, "order_management.place"):
		o, err := ev.Order()
		if err != nil {
			h.finish(r, "adobe-io", start, "", &reject{http.StatusBadRequest, err.Error()})
			return
		}
		f.Kind, f.ID, storeID = event.OrderPlaced, o.IncrementID, o.StoreID
	case strings.Contains(name, "invoice"):
		inv, err := ev.Invoice()
		if err != nil {
			h.finish(r, "adobe-io", start, "", &reject{http.StatusBadRequest, err.Error()})
			return
		}
		f.Kind, f.ID, storeID = event.InvoiceCaptured, inv.IncrementID, inv.StoreID
		if !inv.Captured() {
			h.m.Ignored.WithLabelValues("invoice-not-paid").Inc()
			h.finish(r, "adobe-io", start, event.Key(event.EntityInvoice, store, inv.IncrementID), nil)
			return
		}
	case strings.Contains(name, "customer"):
		c, err := ev.Customer()
		if err != nil {
			h.finish(r, "adobe-io", start, "", &reject{http.StatusBadRequest, err.Error()})
			return
		}
		f.Kind, f.ID, storeID = event.CustomerCreated, event.BuyerKey(c.ID, c.Email), c.StoreID
	default:
		h.m.Ignored.WithLabelValues("io-event-type").Inc()
		h.finish(r, "adobe-io", start, "", nil)
		return
	}
	if storeID == 0 {
		storeID = ev.Metadata.StoreID
	}
	ignore, rej := h.routeStore(raw, r.header(), st, &f, storeID, func(s Store) commerce.WebhookVerifier {
		if s.IOEvents == nil {
			return nil
		}
		return s.IOEvents
	})
	if rej != nil {
		// 400: a retry would not verify any better (I/O Events retries 5xx).
		rej.status = http.StatusBadRequest
		h.finish(r, "adobe-io", start, "", rej)
		return
	}
	if ignore != "" {
		h.m.Ignored.WithLabelValues(ignore).Inc()
		h.finish(r, "adobe-io", start, f.Key(), nil)
		return
	}
	if rej := idFits(f.CommerceFact); rej != nil {
		h.finish(r, "adobe-io", start, "", rej)
		return
	}
	h.publish(r, "adobe-io", start, f)
}

// finish writes the answer, counts it and logs it. Success is exactly HTTP
// 200 with {"op":"success"}: Commerce treats anything else as a failure.
func (h *Webhooks) finish(r *call, endpoint string, start time.Time, key string, rej *reject) {
	if rej == nil {
		h.succeed(r, endpoint)
		if e := h.log.Debug(); e.Enabled() {
			h.logFields(e, r, endpoint, start, key).Msg("webhook stored")
		}
		return
	}
	rej.reason = cut(rej.reason, maxReason)
	r.c.SetContentType("application/json")
	r.c.SetStatusCode(rej.status)
	r.c.ResetBody()
	_ = json.NewEncoder(r.c).Encode(map[string]string{"error": rej.reason})
	h.m.Requests.WithLabelValues(endpoint, strconv.Itoa(rej.status)).Inc()
	h.logFields(h.log.Warn(), r, endpoint, start, key).Int("status", rej.status).Str("reason", rej.reason).Msg("webhook rejected")
}

// succeed answers 200 {"op":"success"} and counts it.
func (h *Webhooks) succeed(r *call, endpoint string) {
	r.c.SetContentType("application/json")
	r.c.SetStatusCode(http.StatusOK)
	r.c.SetBodyString(`{"op":"success"}`)
	h.m.Requests.WithLabelValues(endpoint, "ok").Inc()
}

// logFields are what every line about a request says.
func (h *Webhooks) logFields(e *zerolog.Event, r *call, endpoint string, start time.Time, key string) *zerolog.Event {
	return e.Str("endpoint", endpoint).Str("request_id", cut(r.get(HeaderRequestID), maxEcho)).
		Str("key", cut(key, 2*maxEcho)).Dur("took", time.Since(start))
}

// What of a request's own values (store, event name, request id) goes into
// an answer or a log line, and how long a reason may be: a sender must not
// be able to grow either with a huge header (431 only starts at
// MLC_HTTP_MAX_HEADER_BYTES).
const (
	maxEcho   = 64
	maxReason = 512
)

// clip quotes s for a message, cut to maxEcho bytes.
func clip(s string) string {
	if len(s) <= maxEcho {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s...(%d bytes)", strconv.Quote(s[:maxEcho]), len(s))
}

// cut shortens s to at most n bytes, saying how long it was.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:n], len(s))
}

// idFits refuses a fact whose id cannot become its NetSuite external id
// (event.MaxExternalIDLen with the prefix and store): the writer could
// never sync it, so it is refused where the sender can still see why.
func idFits(f event.CommerceFact) *reject {
	var err error
	switch f.Kind {
	case event.OrderPlaced:
		_, err = event.SalesOrderExternalID(f.Store, f.ID)
	case event.InvoiceCaptured:
		_, err = event.InvoiceExternalID(f.Store, f.ID)
	case event.CustomerCreated:
		_, err = event.CustomerExternalID(f.Store, f.ID)
	}
	if err != nil {
		return &reject{http.StatusBadRequest, fmt.Sprintf("increment_id %s of store %s cannot become a NetSuite external id "+
			"(at most %d characters with prefix and store)", clip(f.ID), clip(f.Store), event.MaxExternalIDLen)}
	}
	return nil
}
