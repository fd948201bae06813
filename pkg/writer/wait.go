package writer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Headers of an invoice command moved behind the backlog while it waits
// for its sales order.
const (
	// HeaderWaitSince is when the invoice started waiting (RFC 3339): the
	// wait is bounded from there, across requeues.
	HeaderWaitSince = "Mlc-Wait-Since"
	// HeaderRequeuedAt is when this copy was requeued.
	HeaderRequeuedAt = "Mlc-Requeued-At"
	// HeaderRequeues counts the requeues.
	HeaderRequeues = "Mlc-Requeues"
)

// waitForOrder decides what an invoice whose sales order is not in NetSuite
// yet does. Waiting must not hold the account's concurrency: a message
// naked with a delay still counts against max_ack_pending, so a handful of
// early invoices would keep every sales order (theirs included) from being
// delivered. So when messages are queued behind it, the invoice is put at
// the back of the stream (published again, this one acked) and comes round
// after them; when nothing waits behind it, or it came round too soon, it
// is held (redelivered after a delay). The wait is bounded by the invoice
// wait setting, then the DLQ says which order is missing.
func (w *Writer) waitForOrder(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata, cmd event.NetSuiteCommand, cause error) (bool, error) {
	now := w.now()
	h := msg.Headers()
	since := md.Timestamp
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderWaitSince)); err == nil && t.Before(now) {
		since = t
	}
	limit := time.Duration(w.invoiceWait.Load())
	if now.Sub(since) >= limit {
		return false, stream.Permanent(fmt.Errorf("%s: its sales order %s is still not in NetSuite after %v (the invoice_wait setting); "+
			"the order may be failing (look for it with mlc dlq list); once it is in NetSuite, retry this invoice with mlc dlq retry",
			describe(cmd), cmd.Invoice.SalesOrderExternalID, limit.Round(time.Second)))
	}
	// A copy that comes round again within the gap of its requeue found
	// only other waiting commands ahead of it: holding it, rather than
	// requeueing at once, keeps a backlog of waiting invoices from spinning.
	soon := false
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderRequeuedAt)); err == nil {
		soon = now.Sub(t) < w.opts.RequeueGap
	}
	// A hold uses up a delivery; near max_deliver a requeue starts afresh.
	nearLast := w.opts.MaxDeliver > 0 && int(md.NumDelivered) >= w.opts.MaxDeliver-1
	if (md.NumPending > 0 && !soon) || nearLast {
		err := w.requeue(ctx, msg, cmd, since, now)
		if err == nil {
			w.m.InvoiceWaits.WithLabelValues("requeue").Inc()
			w.log.Debug().Str("external_id", cmd.ExternalID).Str("sales_order", cmd.Invoice.SalesOrderExternalID).
				Uint64("behind", md.NumPending).Msg("invoice waits for its sales order: requeued behind the backlog")
			return true, nil
		}
		w.log.Warn().Err(err).Str("external_id", cmd.ExternalID).Msg("invoice could not be requeued; holding it")
	}
	w.m.InvoiceWaits.WithLabelValues("hold").Inc()
	return false, stream.RetryIn(fmt.Errorf("%s waits for sales order %s: %w", describe(cmd), cmd.Invoice.SalesOrderExternalID, cause), w.opts.RequeueGap)
}

// requeue publishes the command again, byte for byte with its headers, on
// its own subject, marked as a requeue (its own Nats-Msg-Id, so the
// duplicate window keeps it). The caller acks the original.
func (w *Writer) requeue(ctx context.Context, msg jetstream.Msg, cmd event.NetSuiteCommand, since, now time.Time) error {
	out := nats.NewMsg(msg.Subject())
	out.Data = msg.Data()
	for k, v := range msg.Headers() {
		out.Header[k] = append([]string(nil), v...)
	}
	n, _ := strconv.Atoi(out.Header.Get(HeaderRequeues))
	n++
	id := out.Header.Get(event.HeaderMsgID)
	if id == "" {
		id = cmd.MsgID()
	}
	id, _, _ = strings.Cut(id, ":wait:")
	out.Header.Set(event.HeaderMsgID, id+":wait:"+strconv.Itoa(n))
	out.Header.Set(HeaderWaitSince, since.UTC().Format(time.RFC3339Nano))
	out.Header.Set(HeaderRequeuedAt, now.UTC().Format(time.RFC3339Nano))
	out.Header.Set(HeaderRequeues, strconv.Itoa(n))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(pctx, out, jetstream.WithExpectStream(event.StreamNetSuite)); err != nil {
		return fmt.Errorf("requeue %s: %w", cmd.ExternalID, err)
	}
	return nil
}
