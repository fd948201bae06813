package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Writer is the Commerce side: a batch consumer of INVENTORY that writes
// the changes of each store with base-prices and source-items (or their
// bulk forms), and reports every SKU on SYNC. A row Commerce rejects (an
// unknown SKU above all) is reported — metric, sync.failed.inventory, a
// DLQ entry naming the SKU — and never holds up the rest of the batch.
type Writer struct {
	js         jetstream.JetStream
	pub        *stream.Publisher
	stores     *stores
	snap       *Snapshot
	settings   *settings.Store
	m          *Metrics
	log        zerolog.Logger
	maxDeliver int
	now        func() time.Time
}

// change is one INVENTORY message of a batch and what became of it.
type change struct {
	msg      jetstream.Msg
	seq      uint64
	attempt  int
	env      event.Envelope
	ch       event.InventoryChange
	price    bool // the price is still to be written by this message
	stock    bool
	failures []string // why Commerce rejected it, for people
	code     string   // unknown_sku, rejected
	detail   string
	status   string // outcome
}

// newWriter reads the consumer's max_deliver so the last attempt of a
// failing batch can still be reported on SYNC.
func newWriter(ctx context.Context, js jetstream.JetStream, st *stores, snap *Snapshot, set *settings.Store, m *Metrics, log zerolog.Logger) (*Writer, error) {
	cons, err := js.Consumer(ctx, event.StreamInventory, event.DurableCommerceWriter)
	if err != nil {
		return nil, fmt.Errorf("inventory: consumer %s: %w", event.DurableCommerceWriter, err)
	}
	return &Writer{js: js, pub: stream.NewPublisher(js), stores: st, snap: snap, settings: set, m: m, log: log,
		maxDeliver: cons.CachedInfo().Config.MaxDeliver, now: time.Now}, nil
}

// Handle is the stream.BatchHandler. It returns an error only for what a
// retry can fix (Commerce or NATS unreachable, 5xx, auth): the whole batch
// is then redelivered, which is safe because every write sets absolute
// values and an older change never overwrites a newer one.
func (w *Writer) Handle(ctx context.Context, msgs []jetstream.Msg) error {
	start := w.now()
	cfg := DefaultSettings()
	if err := w.settings.Load(ctx, SettingsKey, cfg); err != nil && !errors.Is(err, settings.ErrNotFound) {
		return err
	}
	var batch []*change
	byStore := map[string][]*change{}
	for _, m := range msgs {
		c := &change{msg: m, attempt: 1}
		if md, err := m.Metadata(); err == nil {
			c.seq, c.attempt = md.Sequence.Stream, int(md.NumDelivered)
		}
		ch, env, err := event.DecodeInventoryChange(m.Data())
		if err != nil {
			// Nothing to write or report per SKU: straight to the DLQ.
			if err := w.deadLetter(ctx, c, fmt.Sprintf("not an inventory change: %v", err)); err != nil {
				return err
			}
			continue
		}
		c.ch, c.env, c.price, c.stock = ch, env, ch.Price != nil, ch.Sources != nil
		batch = append(batch, c)
		byStore[ch.Store] = append(byStore[ch.Store], c)
	}
	codes := make([]string, 0, len(byStore))
	for code := range byStore {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		if err := w.writeStore(ctx, cfg, code, byStore[code]); err != nil {
			w.reportLastAttempt(ctx, batch, err, start)
			return err
		}
	}
	for _, c := range batch {
		if c.status == "" {
			c.status = event.StatusOK
		}
		if c.status == event.StatusFailed {
			reason := fmt.Sprintf("Commerce store %s: SKU %q: %s", c.ch.Store, c.ch.SKU, strings.Join(c.failures, "; "))
			if c.code == "unknown_sku" {
				reason = fmt.Sprintf("SKU %q is not a product in Commerce store %s (create it, then `mlc dlq retry`): %s",
					c.ch.SKU, c.ch.Store, strings.Join(c.failures, "; "))
			}
			c.detail = reason
			if err := w.deadLetter(ctx, c, reason); err != nil {
				return err
			}
		}
	}
	return w.outcomes(ctx, batch, start)
}

// writeStore writes one store's changes of the batch.
func (w *Writer) writeStore(ctx context.Context, cfg *Settings, code string, cs []*change) error {
	if err := w.dropSuperseded(ctx, code, cs); err != nil {
		return err
	}
	st, err := w.stores.get(ctx, code, cfg.BatchSize)
	if err != nil {
		return err
	}
	sc := cfg.For(code)
	// The newest change of a SKU in the batch is the one written; older
	// ones are superseded by it.
	latestPrice, latestStock := map[string]*change{}, map[string]*change{}
	for _, c := range cs {
		if c.price {
			if old := latestPrice[c.ch.SKU]; old == nil || old.seq < c.seq {
				if old != nil {
					old.price = false
				}
				latestPrice[c.ch.SKU] = c
			} else {
				c.price = false
			}
		}
		if c.stock {
			if old := latestStock[c.ch.SKU]; old == nil || old.seq < c.seq {
				if old != nil {
					old.stock = false
				}
				latestStock[c.ch.SKU] = c
			} else {
				c.stock = false
			}
		}
	}
	for _, c := range cs {
		if !c.price && !c.stock {
			c.status = event.StatusUnchanged
			w.m.Superseded.WithLabelValues(code).Inc()
		}
	}
	if len(latestPrice) > 0 {
		var storeID int64
		if sc.PriceScope == ScopeStore {
			if storeID, err = w.stores.id(ctx, st); err != nil {
				return err
			}
		}
		rows := make([]commerce.BasePrice, 0, len(latestPrice))
		for _, sku := range sortedKeys(latestPrice) {
			rows = append(rows, commerce.BasePrice{SKU: sku, Price: *latestPrice[sku].ch.Price, StoreID: storeID})
		}
		rejected, err := w.writePrices(ctx, st.client, cfg.WriteMode, rows)
		if err != nil {
			return fmt.Errorf("store %s base-prices: %w", code, err)
		}
		w.settle(code, "base-prices", rejected, latestPrice)
	}
	if len(latestStock) > 0 {
		var rows []commerce.SourceItem
		for _, sku := range sortedKeys(latestStock) {
			for _, s := range latestStock[sku].ch.Sources {
				rows = append(rows, commerce.SourceItem{SKU: sku, SourceCode: s.SourceCode, Quantity: s.Quantity, InStock: s.InStock})
			}
		}
		rejected, err := w.writeStock(ctx, st.client, cfg.WriteMode, rows)
		if err != nil {
			return fmt.Errorf("store %s source-items: %w", code, err)
		}
		w.settle(code, "source-items", rejected, latestStock)
	}
	return nil
}

// dropSuperseded clears the parts of redelivered changes that a newer,
// already published change of the same SKU replaced: writing them would
// put old values back. First deliveries come in stream order and skip the
// lookup.
func (w *Writer) dropSuperseded(ctx context.Context, code string, cs []*change) error {
	for _, c := range cs {
		if c.attempt <= 1 {
			continue
		}
		e, ok, err := w.snap.Get(ctx, code, c.ch.SKU)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if c.price && e.PriceSeq > c.seq {
			c.price = false
		}
		if c.stock && e.StockSeq > c.seq {
			c.stock = false
		}
	}
	return nil
}

// settle records what Commerce rejected on the changes that carried it.
func (w *Writer) settle(store, endpoint string, rejected []commerce.ItemFailure, by map[string]*change) {
	failed := 0
	for _, f := range rejected {
		c := by[f.SKU]
		if c == nil {
			// A failure naming no submitted SKU: nothing to pin it on.
			w.log.Warn().Str("store", store).Str("endpoint", endpoint).Str("failure", f.Rendered).Msg("Commerce rejected a row it did not name")
			continue
		}
		if c.status != event.StatusFailed {
			failed++
		}
		c.status = event.StatusFailed
		c.failures = append(c.failures, endpoint+": "+f.Rendered)
		if unknownProduct(f) {
			if c.code != "unknown_sku" {
				w.m.UnknownSKUs.WithLabelValues(store).Inc()
			}
			c.code = "unknown_sku"
		} else if c.code == "" {
			c.code = "rejected"
		}
	}
	w.m.Writes.WithLabelValues(store, endpoint, "rejected").Add(float64(failed))
	w.m.Writes.WithLabelValues(store, endpoint, "ok").Add(float64(len(by) - failed))
}

// unknownProduct recognises Commerce's "no such product" templates
// (base-prices: "Requested product doesn't exist: %sku"; source-items:
// `Product with SKU "%sku" does not exist.`).
func unknownProduct(f commerce.ItemFailure) bool {
	m := strings.ToLower(f.Message)
	return strings.Contains(m, "product") && (strings.Contains(m, "doesn't exist") || strings.Contains(m, "does not exist"))
}

func (w *Writer) writePrices(ctx context.Context, c *commerce.Client, mode string, rows []commerce.BasePrice) ([]commerce.ItemFailure, error) {
	if mode == WriteBulk {
		acc, err := c.BulkUpdateBasePrices(ctx, rows)
		if err != nil {
			return nil, err
		}
		return w.followBulk(ctx, c, acc, len(rows), func(op int) []string {
			var skus []string
			for _, r := range rows[op*c.BatchSize() : min((op+1)*c.BatchSize(), len(rows))] {
				skus = append(skus, r.SKU)
			}
			return skus
		}, func(op int) error {
			return c.UpdateBasePrices(ctx, rows[op*c.BatchSize():min((op+1)*c.BatchSize(), len(rows))])
		})
	}
	return rejectedRows(c.UpdateBasePrices(ctx, rows))
}

func (w *Writer) writeStock(ctx context.Context, c *commerce.Client, mode string, rows []commerce.SourceItem) ([]commerce.ItemFailure, error) {
	if mode == WriteBulk {
		acc, err := c.BulkUpdateSourceItems(ctx, rows)
		if err != nil {
			return nil, err
		}
		return w.followBulk(ctx, c, acc, len(rows), func(op int) []string {
			var skus []string
			for _, r := range rows[op*c.BatchSize() : min((op+1)*c.BatchSize(), len(rows))] {
				skus = append(skus, r.SKU)
			}
			return skus
		}, func(op int) error {
			return c.UpdateSourceItems(ctx, rows[op*c.BatchSize():min((op+1)*c.BatchSize(), len(rows))])
		})
	}
	return rejectedRows(c.UpdateSourceItems(ctx, rows))
}

// followBulk waits for a bulk to finish and collects its rejected rows:
// those a completed operation lists in its result, and for an operation
// that failed as a whole (Commerce names no row) the outcome of sending
// its rows again synchronously, which isolates the bad ones.
func (w *Writer) followBulk(ctx context.Context, c *commerce.Client, acc commerce.BulkAccepted, n int, skus func(op int) []string, resend func(op int) error) ([]commerce.ItemFailure, error) {
	st, err := c.WaitBulk(ctx, acc.BulkUUID)
	var be *commerce.BulkError
	if err != nil && !errors.As(err, &be) {
		return nil, err
	}
	ops := (n + c.BatchSize() - 1) / c.BatchSize()
	var out []commerce.ItemFailure
	for _, op := range st.Operations {
		i := int(op.ID)
		if i < 0 || i >= ops {
			return nil, fmt.Errorf("commerce: bulk %s: operation %d of %d", acc.BulkUUID, i, ops)
		}
		if op.Status == commerce.OpComplete {
			f, err := op.RejectedRows(skus(i))
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
			continue
		}
		if op.Status == commerce.OpFailedRetriable {
			return nil, fmt.Errorf("commerce: bulk %s operation %d failed (retriable): %s", acc.BulkUUID, i, op.ResultMessage)
		}
		f, err := rejectedRows(resend(i))
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// rejectedRows splits a batch call's error into the rows Commerce
// rejected and a real error.
func rejectedRows(err error) ([]commerce.ItemFailure, error) {
	var pf *commerce.PartialFailureError
	if errors.As(err, &pf) {
		return pf.Failures, nil
	}
	return nil, err
}

func sortedKeys(m map[string]*change) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// deadLetter copies the message to the DLQ with reason; the consume loop
// then acks it with the rest of the batch. The DLQ message id (stream and
// sequence) makes a repeat after a redelivery harmless.
func (w *Writer) deadLetter(ctx context.Context, c *change, reason string) error {
	d := event.DeadLetter{Reason: reason, Attempts: c.attempt, Subject: c.msg.Subject(), Stream: event.StreamInventory,
		Seq: c.seq, Consumer: event.DurableCommerceWriter, At: w.now(), Header: c.msg.Headers(), Data: c.msg.Data()}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.js.PublishMsg(pctx, d.Msg()); err != nil {
		return fmt.Errorf("inventory: dead-letter %s: %w", c.ch.SKU, err)
	}
	w.log.Warn().Str("store", c.ch.Store).Str("sku", c.ch.SKU).Str("reason", reason).Msg("dead-lettered")
	return nil
}

// outcomes publishes one SYNC outcome per change and waits for the acks.
func (w *Writer) outcomes(ctx context.Context, batch []*change, start time.Time) error {
	dur := w.now().Sub(start).Milliseconds()
	var futures []jetstream.PubAckFuture
	for _, c := range batch {
		o := event.SyncOutcome{Kind: event.KindInventory, Status: c.status, BusinessKey: c.ch.Key(), Store: c.ch.Store,
			ExternalID: c.ch.SKU, InternalID: c.ch.ItemID, ContentHash: c.ch.MsgID(), Attempts: c.attempt, DurationMS: dur,
			ErrorCode: c.code, CommandID: c.env.ID, At: w.now(), Producer: Name}
		if c.status == event.StatusFailed {
			o.Error, o.ErrorDetail = c.detail, strings.Join(c.failures, "; ")
		}
		if c.status == event.StatusUnchanged {
			o.ErrorDetail = "superseded by a newer change of the same SKU"
		}
		msg, _, err := w.pub.Build(o, stream.CausedBy(stream.ParentOf(c.env, c.msg.Headers())))
		if err != nil {
			return err
		}
		f, err := w.js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("inventory: outcome of %s: %w", c.ch.SKU, err)
		}
		futures = append(futures, f)
	}
	timeout := time.After(30 * time.Second)
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("inventory: outcome: %w", err)
		case <-timeout:
			return errors.New("inventory: outcomes not acknowledged within 30s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// reportLastAttempt publishes sync.failed for the changes whose delivery
// was the last the consumer allows: the consume loop dead-letters them
// after this error, and without an outcome nobody would hear of it.
func (w *Writer) reportLastAttempt(ctx context.Context, batch []*change, err error, start time.Time) {
	if w.maxDeliver <= 0 {
		return
	}
	var last []*change
	for _, c := range batch {
		if c.attempt >= w.maxDeliver {
			c.status, c.code, c.detail = event.StatusFailed, "gave_up", err.Error()
			c.failures = []string{err.Error()}
			last = append(last, c)
		}
	}
	if len(last) == 0 {
		return
	}
	if err := w.outcomes(ctx, last, start); err != nil {
		w.log.Warn().Err(err).Msg("could not report the last attempt on SYNC")
	}
}
