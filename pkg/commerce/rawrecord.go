package commerce

import (
	"context"
	"encoding/json"
	"time"
)

// Raw is a record decoded into T together with the exact bytes Commerce sent,
// so that an event can carry the evidence byte-for-byte (DESIGN.md §3).
type Raw[T any] struct {
	Value T
	Bytes json.RawMessage
}

// UnmarshalJSON keeps a copy of b and decodes it into Value.
func (r *Raw[T]) UnmarshalJSON(b []byte) error {
	r.Bytes = append(r.Bytes[:0], b...)
	return json.Unmarshal(b, &r.Value)
}

// PollOrdersRaw is PollOrders handing each order with its raw JSON.
func (c *Client) PollOrdersRaw(ctx context.Context, cur Cursor, opt PollOptions,
	fn func(ctx context.Context, page []Raw[Order], next Cursor) error) (Cursor, error) {
	return pollKeyset(ctx, c, "V1/orders", cur, opt,
		func(r Raw[Order]) (time.Time, int64) { return orderKey(r.Value) }, fn)
}

// PollInvoicesRaw is PollInvoices handing each invoice with its raw JSON.
func (c *Client) PollInvoicesRaw(ctx context.Context, cur Cursor, opt PollOptions,
	fn func(ctx context.Context, page []Raw[Invoice], next Cursor) error) (Cursor, error) {
	return pollKeyset(ctx, c, "V1/invoices", cur, opt,
		func(r Raw[Invoice]) (time.Time, int64) { return invoiceKey(r.Value) }, fn)
}
