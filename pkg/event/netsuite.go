package event

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// NetSuiteCommand asks netsuite-writer to upsert one NetSuite record
// (NETSUITE stream, subject netsuite.upsert.<kind>). transform builds it from
// a Commerce fact; the writer executes it without further mapping, so the
// command is everything the writer needs.
type NetSuiteCommand struct {
	// Kind is KindSalesOrder, KindInvoice or KindCustomer.
	Kind string `json:"kind"`
	// Store is the Commerce store code the record came from.
	Store string `json:"store"`
	// SourceID is the Commerce key: increment_id for orders and invoices,
	// the buyer key (BuyerKey) for customers.
	SourceID string `json:"source_id"`
	// ExternalID is the NetSuite externalId to upsert (SalesOrderExternalID,
	// InvoiceExternalID, CustomerExternalID).
	ExternalID string `json:"external_id"`
	// Record is the NetSuite REST body for the record type of Kind, as PUT to
	// /record/v1/<type>/eid:<ExternalID>. For orders and invoices the
	// writer sets entity from Customer; for a transform-mode invoice it is
	// the body of the !transform/invoice request.
	Record json.RawMessage `json:"record"`
	// Subsidiary is the NetSuite subsidiary internal id ("" when the account
	// is not OneWorld).
	Subsidiary string `json:"subsidiary,omitempty"`
	// Customer is the buyer of an order or invoice, for the writer to resolve
	// to a NetSuite customer (nil for customer commands).
	Customer *CustomerRef `json:"customer,omitempty"`
	// Invoice says how to create an invoice (nil for other kinds).
	Invoice *InvoiceRef `json:"invoice,omitempty"`
	// Totals compare Commerce's total with what NetSuite will compute (nil
	// for customers).
	Totals *Totals `json:"totals,omitempty"`
	// Replay is set by `mlc replay --force`: the writer writes even when the
	// content is unchanged since the last successful write. It is not part
	// of the content hash.
	Replay string `json:"replay,omitempty"`
}

// CustomerRef is the buyer of an order or invoice.
type CustomerRef struct {
	// BuyerKey is the Commerce buyer key (BuyerKey): customer id or e<hash>.
	BuyerKey string `json:"buyer_key"`
	// ExternalID is the customer's NetSuite externalId.
	ExternalID string `json:"external_id"`
	// Email is used to match a customer created outside ml-connector.
	Email string `json:"email,omitempty"`
	// Record is the customer body to upsert when no customer is found.
	Record json.RawMessage `json:"record"`
}

// Invoice modes.
const (
	// InvoiceFromOrder creates the invoice with !transform/invoice from the
	// sales order (NetSuite copies lines, customer, subsidiary).
	InvoiceFromOrder = "transform"
	// InvoiceDirect upserts an invoice record by its own externalId.
	InvoiceDirect = "direct"
)

// InvoiceRef is how an invoice is created.
type InvoiceRef struct {
	// Mode is InvoiceFromOrder or InvoiceDirect.
	Mode string `json:"mode"`
	// SalesOrderExternalID is the sales order the invoice bills; the writer
	// waits (bounded) while it is not in NetSuite yet.
	SalesOrderExternalID string `json:"sales_order_external_id"`
	// OrderIncrementID is the Commerce order's increment_id.
	OrderIncrementID string `json:"order_increment_id"`
}

// Totals is the reconciliation of an order or invoice: Commerce's grand
// total, the total the NetSuite record will have, and their difference.
type Totals struct {
	Currency      string          `json:"currency"`
	CommerceTotal decimal.Decimal `json:"commerce_total"`
	NetSuiteTotal decimal.Decimal `json:"netsuite_total"`
	// Variance is NetSuiteTotal - CommerceTotal.
	Variance decimal.Decimal `json:"variance"`
	// OverTolerance is set when |Variance| exceeds the configured tolerance.
	OverTolerance bool `json:"over_tolerance,omitempty"`
}

// NetSuite record kinds' entities.
func kindEntity(kind string) string {
	switch kind {
	case KindInvoice:
		return EntityInvoice
	case KindCustomer:
		return EntityCustomer
	}
	return EntityOrder
}

// ContentHash identifies the command's effect on NetSuite: two commands
// with the same hash write the same record. Replay is left out, so a forced
// replay is recognised as unchanged content afterwards.
func (c NetSuiteCommand) ContentHash() string {
	cust, _ := json.Marshal(c.Customer)
	inv, _ := json.Marshal(c.Invoice)
	return hash16([]byte(c.Kind), []byte(c.ExternalID), []byte(c.Subsidiary), c.Record, cust, inv)
}

func (c NetSuiteCommand) Subject() string { return NetSuiteSubject(c.Kind) }

// MsgID is ns.<kind>:<externalId>:<content hash>: a re-transformed fact
// that maps to the same content is dropped by JetStream, a changed one is
// not. A replay adds its id so it is never dropped.
func (c NetSuiteCommand) MsgID() string {
	id := "ns." + c.Kind + ":" + c.ExternalID + ":" + c.ContentHash()
	if c.Replay != "" {
		id += ":replay:" + c.Replay
	}
	return id
}

func (c NetSuiteCommand) Key() string    { return Key(kindEntity(c.Kind), c.Store, c.SourceID) }
func (c NetSuiteCommand) Type() string   { return NetSuiteSubject(c.Kind) }
func (c NetSuiteCommand) Source() string { return ServiceSource("transform") }
func (c NetSuiteCommand) Schema() string { return "" }
func (c NetSuiteCommand) Data() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return jsonData(c)
}

func (c NetSuiteCommand) validate() error {
	switch {
	case c.Kind != KindSalesOrder && c.Kind != KindInvoice && c.Kind != KindCustomer:
		return fmt.Errorf("%w: netsuite command kind %q", ErrInvalidMessage, c.Kind)
	case c.ExternalID == "" || c.SourceID == "":
		return fmt.Errorf("%w: netsuite %s command without external or source id", ErrInvalidMessage, c.Kind)
	case !json.Valid(c.Record):
		return fmt.Errorf("%w: netsuite %s command %s: record is not JSON", ErrInvalidMessage, c.Kind, c.ExternalID)
	case c.Kind == KindInvoice && c.Invoice == nil:
		return fmt.Errorf("%w: invoice command %s without invoice mode", ErrInvalidMessage, c.ExternalID)
	case c.Kind != KindCustomer && c.Customer == nil:
		return fmt.Errorf("%w: %s command %s without a customer", ErrInvalidMessage, c.Kind, c.ExternalID)
	}
	return nil
}

// DecodeNetSuiteCommand reads a NETSUITE message body.
func DecodeNetSuiteCommand(body []byte) (NetSuiteCommand, Envelope, error) {
	c, env, err := decodeData[NetSuiteCommand](body, func(t string) bool { return strings.HasPrefix(t, netsuitePrefix) })
	if err != nil {
		return c, env, err
	}
	if env.Type != NetSuiteSubject(c.Kind) {
		return c, env, fmt.Errorf("%w: event type %q for a %s command", ErrInvalidMessage, env.Type, c.Kind)
	}
	return c, env, c.validate()
}

// Outcome statuses on SYNC.
const (
	// StatusOK: the record was written; InternalID is set.
	StatusOK = "ok"
	// StatusUnchanged: the content was already written; NetSuite not called.
	StatusUnchanged = "unchanged"
	// StatusFailed: the write failed for good (the command is in the DLQ).
	StatusFailed = "failed"
	// StatusPhantom: a webhook announced an order Commerce never committed.
	StatusPhantom = "phantom"
	// StatusVariance: the record was written but its total differs from
	// Commerce's beyond the tolerance.
	StatusVariance = "variance"
)

// KindInventory is the SYNC kind of a catalogue write to Commerce.
const KindInventory = "inventory"

// SyncOutcome is the result of one attempt to sync a record (SYNC stream,
// sync.ok.<kind> or sync.failed.<kind>). netsuite-writer publishes one per
// command it settles, inventory-publisher one per SKU it writes, transform
// one per phantom order.
type SyncOutcome struct {
	// Kind is KindSalesOrder, KindInvoice, KindCustomer or KindInventory.
	Kind string `json:"kind"`
	// Status is StatusOK, StatusUnchanged, StatusFailed, StatusPhantom or
	// StatusVariance.
	Status string `json:"status"`
	// BusinessKey is the record's business key (the command's Mlc-Key).
	BusinessKey string `json:"key"`
	// Store is the Commerce store code.
	Store string `json:"store"`
	// ExternalID is the NetSuite externalId (or the SKU for inventory).
	ExternalID string `json:"external_id,omitempty"`
	// InternalID is NetSuite's internal id of the record, when known.
	InternalID string `json:"internal_id,omitempty"`
	// ContentHash is the command's ContentHash that was written.
	ContentHash string `json:"content_hash,omitempty"`
	// Attempts is the delivery attempt of the command that settled it.
	Attempts int `json:"attempts"`
	// NetSuiteCalls is how many API requests the attempt used.
	NetSuiteCalls int `json:"netsuite_calls,omitempty"`
	// DurationMS is the attempt's duration in milliseconds.
	DurationMS int64 `json:"duration_ms"`
	// Error is what went wrong, for a person ("" on success).
	Error string `json:"error,omitempty"`
	// ErrorCode, ErrorPath and ErrorDetail are NetSuite's o:errorCode,
	// o:errorPath and detail, or Commerce's equivalent.
	ErrorCode   string `json:"error_code,omitempty"`
	ErrorPath   string `json:"error_path,omitempty"`
	ErrorDetail string `json:"error_detail,omitempty"`
	// CommandID is the CloudEvents id of the command (also Mlc-Causation).
	CommandID string `json:"command_id"`
	// At is when the outcome was decided.
	At time.Time `json:"at"`
	// Producer is the service that decided it, e.g. "netsuite-writer".
	Producer string `json:"producer"`
}

// DecodeSyncOutcome reads a SYNC message body.
func DecodeSyncOutcome(body []byte) (SyncOutcome, Envelope, error) {
	env, err := Decode(body)
	if err != nil {
		return SyncOutcome{}, Envelope{}, err
	}
	o, err := SyncOutcomeOf(env.Type, env.Data)
	return o, env, err
}

// SyncOutcomeOf is DecodeSyncOutcome after the envelope: the outcome in
// the data of an envelope of eventType, for a reader that has decoded and
// validated the envelope already (the audit mirror reads it in one pass
// and would otherwise decode it twice).
func SyncOutcomeOf(eventType string, data []byte) (SyncOutcome, error) {
	o, err := dataAs[SyncOutcome](eventType, data, func(t string) bool { return strings.HasPrefix(t, syncPrefix) })
	if err != nil {
		return o, err
	}
	if eventType != o.Type() {
		return o, fmt.Errorf("%w: event type %q for a %s %s outcome", ErrInvalidMessage, eventType, o.Status, o.Kind)
	}
	return o, nil
}

// OK reports whether the outcome is a success (published on sync.ok.*).
func (o SyncOutcome) OK() bool {
	return o.Status == StatusOK || o.Status == StatusUnchanged || o.Status == StatusVariance
}

func (o SyncOutcome) Subject() string { return SyncSubject(o.OK(), o.Kind) }

// MsgID is sync:<kind>:<key>:<command>:<status>:<attempt>: the same
// outcome published twice (a crash before the ack) is dropped.
func (o SyncOutcome) MsgID() string {
	return "sync:" + o.Kind + ":" + o.BusinessKey + ":" + o.CommandID + ":" + o.Status + ":" + strconv.Itoa(o.Attempts)
}
func (o SyncOutcome) Key() string    { return o.BusinessKey }
func (o SyncOutcome) Type() string   { return SyncSubject(o.OK(), o.Kind) }
func (o SyncOutcome) Source() string { return ServiceSource(o.Producer) }
func (o SyncOutcome) Schema() string { return "" }
func (o SyncOutcome) Data() ([]byte, error) {
	if o.Kind == "" || o.Status == "" || o.BusinessKey == "" {
		return nil, fmt.Errorf("%w: sync outcome without kind, status or key", ErrInvalidMessage)
	}
	return jsonData(o)
}
