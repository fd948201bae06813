package event

import (
	"fmt"
	"strings"
)

// Kinds of Commerce facts, as used in subjects, message ids and event types.
const (
	OrderPlaced      = "order.placed"
	InvoiceCaptured  = "invoice.captured"
	CustomerCreated  = "customer.created"
	commercePrefix   = "commerce."
	netsuitePrefix   = "netsuite.upsert."
	syncPrefix       = "sync."
	dlqPrefix        = "dlq."
	inventoryChanged = "inventory.item.changed"
)

// NetSuite record kinds carried on NETSUITE and SYNC subjects.
const (
	KindSalesOrder = "salesorder"
	KindInvoice    = "invoice"
	KindCustomer   = "customer"
)

// Headers every message carries (DESIGN.md §3).
const (
	HeaderMsgID       = "Nats-Msg-Id"
	HeaderKey         = "Mlc-Key"
	HeaderOrigin      = "Mlc-Origin"
	HeaderCausation   = "Mlc-Causation"
	HeaderTraceparent = "traceparent"
)

// Origins say how a fact entered the system.
const (
	OriginWebhook  = "webhook"
	OriginPoll     = "poll"
	OriginIOEvents = "io-events"
	OriginSchedule = "schedule"
	OriginReplay   = "replay"
	// OriginManual: an operator asked for it (`mlc sync inventory`).
	OriginManual = "manual"
)

// CommerceSubject is the COMMERCE stream subject of a fact for a store,
// e.g. commerce.order.placed.default. The store code is made subject-safe
// with SubjectToken.
func CommerceSubject(kind, store string) string {
	return commercePrefix + kind + "." + SubjectToken(store)
}

// CommerceType is the CloudEvents type of a Commerce fact, e.g. commerce.order.placed.
func CommerceType(kind string) string { return commercePrefix + kind }

// CommerceSource is the CloudEvents source of a store's facts.
func CommerceSource(store string) string { return "commerce://" + store }

// NetSuiteSubject is the NETSUITE stream subject for a record kind.
func NetSuiteSubject(kind string) string { return netsuitePrefix + kind }

// SyncSubject is the SYNC stream subject for an outcome.
func SyncSubject(ok bool, kind string) string {
	if ok {
		return syncPrefix + "ok." + kind
	}
	return syncPrefix + "failed." + kind
}

// InventorySubject is the INVENTORY stream subject.
func InventorySubject() string { return inventoryChanged }

// DLQSubject is the dead-letter subject of a message originally on subject.
func DLQSubject(subject string) string { return dlqPrefix + subject }

// OriginalSubject reverses DLQSubject; ok is false when subject is not a DLQ subject.
func OriginalSubject(dlq string) (string, bool) {
	return strings.CutPrefix(dlq, dlqPrefix)
}

// MsgID is the JetStream dedup id of a Commerce fact, e.g.
// order.placed:default:000000042. A webhook and the backfill poll build the
// same id for the same fact, which is what makes their overlap harmless.
func MsgID(kind, store, incrementID string) string {
	return fmt.Sprintf("%s:%s:%s", kind, store, incrementID)
}

// Key is the business key the audit trail groups by, e.g. order:default:000000042.
func Key(entity, store, id string) string {
	return fmt.Sprintf("%s:%s:%s", entity, store, id)
}

// SubjectToken makes s usable as one NATS subject token: NATS forbids
// '.', '*', '>' and whitespace in tokens. The encoding is injective (the
// escape byte '%' is itself escaped) so two stores never share a subject.
func SubjectToken(s string) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' || c == '*' || c == '>' || c == '%' || c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
