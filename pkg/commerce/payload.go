package commerce

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Invoice states (ref §9).
const (
	InvoiceStateOpen     = 1
	InvoiceStatePaid     = 2
	InvoiceStateCanceled = 3
)

// malformed is a decoder rejection: its text says what is wrong and where,
// and errors.Is(err, ErrMalformed) holds.
type malformed struct{ msg string }

func (e *malformed) Error() string        { return e.msg }
func (e *malformed) Is(target error) bool { return target == ErrMalformed }

func malformedf(what, path, problem string) error {
	if path == "" {
		return &malformed{msg: what + ": " + problem}
	}
	return &malformed{msg: what + ": " + path + " " + problem}
}

// OrderPlaced is what the pipeline needs from an order webhook; the raw body
// is kept by the caller as evidence.
type OrderPlaced struct {
	EventName       string // "sales_order_place_after" for observer hooks, "" for plugin hooks
	IncrementID     string // business key, never empty
	EntityID        int64  // 0 when the order is not saved yet (ref §3)
	StoreID         int64
	CustomerID      int64 // 0 for guests
	CustomerEmail   string
	CustomerIsGuest bool
	State, Status   string
	CurrencyCode    string // order_currency_code
	GrandTotal      decimal.Decimal
	CreatedAt       time.Time // zero when absent
	UpdatedAt       time.Time // zero when absent
}

// InvoiceSaved is what the pipeline needs from an invoice webhook.
type InvoiceSaved struct {
	EventName        string
	IncrementID      string // business key, never empty
	EntityID         int64
	OrderID          int64  // the order's entity_id
	OrderIncrementID string // when the payload carries it
	State            int    // 1 open, 2 paid, 3 canceled
	StoreID          int64
	CurrencyCode     string
	GrandTotal       decimal.Decimal
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Captured reports a paid invoice, the only state the connector acts on.
func (i InvoiceSaved) Captured() bool { return i.State == InvoiceStatePaid }

// CustomerCreated is what the pipeline needs from a customer webhook.
type CustomerCreated struct {
	EventName string
	ID        int64 // 0 when only the e-mail is known
	Email     string
	Firstname string
	Lastname  string
	WebsiteID int64
	StoreID   int64
	GroupID   int64
	CreatedAt time.Time
}

// locate finds the record in either webhook shape: observer
// {"eventName","data":{<key>:{...}}} or plugin {<key>:{...}}.
func locate(raw []byte, what string, dataKeys, pluginKeys []string) (object, string, string, error) {
	o, _, path, event, err := locateRaw(raw, what, dataKeys, pluginKeys)
	return o, path, event, err
}

// locateRaw is locate also returning the record's bytes.
func locateRaw(raw []byte, what string, dataKeys, pluginKeys []string) (object, json.RawMessage, string, string, error) {
	top, ok := asObject(raw)
	if !ok {
		return nil, nil, "", "", malformedf(what, "", "body is not a JSON object")
	}
	event := top.str("eventName")
	if data, ok := top.obj("data"); ok {
		for _, k := range dataKeys {
			if o, ok := data.obj(k); ok {
				return o, data[k], "data." + k, event, nil
			}
		}
	}
	for _, k := range pluginKeys {
		if o, ok := top.obj(k); ok {
			return o, top[k], k, event, nil
		}
	}
	var want []string
	for _, k := range dataKeys {
		want = append(want, "data."+k)
	}
	want = append(want, pluginKeys...)
	return nil, nil, "", "", malformedf(what, "", "no record object (want one of "+strings.Join(want, ", ")+")")
}

// Where each webhook keeps its record: observer data.<key>, plugin <key>.
func orderKeys() (data, plugin []string) { return []string{"order"}, []string{"order", "result"} }
func invoiceKeys() (data, plugin []string) {
	return []string{"invoice", "data_object"}, []string{"invoice", "entity", "result"}
}
func customerKeys() (data, plugin []string) {
	return []string{"customer", "data_object"}, []string{"customer", "result"}
}

// OrderRecord returns the order object of an order webhook body, found as
// DecodeOrderPlaced finds it, its path (e.g. "data.order") and the
// observer's eventName, for readers that need more of the record than
// OrderPlaced holds. The bytes alias raw.
func OrderRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	dk, pk := orderKeys()
	_, rec, path, event, err := locateRaw(raw, "order webhook", dk, pk)
	return rec, path, event, err
}

// InvoiceRecord is OrderRecord for invoice webhooks (DecodeInvoiceSaved).
func InvoiceRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	dk, pk := invoiceKeys()
	_, rec, path, event, err := locateRaw(raw, "invoice webhook", dk, pk)
	return rec, path, event, err
}

// CustomerRecord is OrderRecord for customer webhooks (DecodeCustomerCreated).
func CustomerRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	dk, pk := customerKeys()
	_, rec, path, event, err := locateRaw(raw, "customer webhook", dk, pk)
	return rec, path, event, err
}

// requiredString reads a non-empty string identifier; a number is accepted and
// kept as its literal text.
func requiredString(o object, what, path, key string) (string, error) {
	s, ok, err := o.text(key)
	if err != nil {
		return "", malformedf(what, path+"."+key, err.Error())
	}
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return "", malformedf(what, path+"."+key, "missing")
	}
	return s, nil
}

// DecodeOrderPlaced decodes an order webhook body (observer
// sales_order_place_after or the order_management.place plugin).
func DecodeOrderPlaced(raw []byte) (OrderPlaced, error) {
	const what = "order webhook"
	dk, pk := orderKeys()
	o, path, event, err := locate(raw, what, dk, pk)
	if err != nil {
		return OrderPlaced{}, err
	}
	op, err := orderFromObject(o, what, path)
	op.EventName = event
	return op, err
}

func orderFromObject(o object, what, path string) (OrderPlaced, error) {
	inc, err := requiredString(o, what, path, "increment_id")
	if err != nil {
		return OrderPlaced{}, err
	}
	return OrderPlaced{
		IncrementID:     inc,
		EntityID:        o.int("entity_id"),
		StoreID:         o.int("store_id"),
		CustomerID:      o.int("customer_id"),
		CustomerEmail:   o.str("customer_email"),
		CustomerIsGuest: o.boolish("customer_is_guest"),
		State:           o.str("state"),
		Status:          o.str("status"),
		CurrencyCode:    o.str("order_currency_code"),
		GrandTotal:      o.decimal("grand_total"),
		CreatedAt:       o.time("created_at"),
		UpdatedAt:       o.time("updated_at"),
	}, nil
}

// DecodeInvoiceSaved decodes an invoice webhook body (observer
// sales_order_invoice_save_after / _pay with data.invoice or data.data_object,
// or an invoice plugin with invoice, entity or result).
func DecodeInvoiceSaved(raw []byte) (InvoiceSaved, error) {
	const what = "invoice webhook"
	dk, pk := invoiceKeys()
	o, path, event, err := locate(raw, what, dk, pk)
	if err != nil {
		return InvoiceSaved{}, err
	}
	inv, err := invoiceFromObject(o, what, path)
	inv.EventName = event
	return inv, err
}

func invoiceFromObject(o object, what, path string) (InvoiceSaved, error) {
	inc, err := requiredString(o, what, path, "increment_id")
	if err != nil {
		return InvoiceSaved{}, err
	}
	state, ok, err := o.integer("state")
	if err != nil {
		return InvoiceSaved{}, malformedf(what, path+".state", err.Error())
	}
	if !ok {
		return InvoiceSaved{}, malformedf(what, path+".state", "missing")
	}
	if state < 0 || state > 1000 {
		return InvoiceSaved{}, malformedf(what, path+".state", "is out of range")
	}
	orderInc := o.str("order_increment_id")
	if orderInc == "" {
		if ord, ok := o.obj("order"); ok {
			orderInc = ord.str("increment_id")
		}
	}
	return InvoiceSaved{
		IncrementID:      inc,
		EntityID:         o.int("entity_id"),
		OrderID:          o.int("order_id"),
		OrderIncrementID: orderInc,
		State:            int(state),
		StoreID:          o.int("store_id"),
		CurrencyCode:     o.str("order_currency_code"),
		GrandTotal:       o.decimal("grand_total"),
		CreatedAt:        o.time("created_at"),
		UpdatedAt:        o.time("updated_at"),
	}, nil
}

// DecodeCustomerCreated decodes a customer webhook body (observer
// customer_register_success with data.customer, customer_save_commit_after
// with data.customer or data.data_object, or a plugin with customer/result).
func DecodeCustomerCreated(raw []byte) (CustomerCreated, error) {
	const what = "customer webhook"
	dk, pk := customerKeys()
	o, path, event, err := locate(raw, what, dk, pk)
	if err != nil {
		return CustomerCreated{}, err
	}
	c, err := customerFromObject(o, what, path)
	c.EventName = event
	return c, err
}

func customerFromObject(o object, what, path string) (CustomerCreated, error) {
	id, _, err := o.integer("id")
	if err != nil {
		return CustomerCreated{}, malformedf(what, path+".id", err.Error())
	}
	if id == 0 {
		id, _, err = o.integer("entity_id")
		if err != nil {
			return CustomerCreated{}, malformedf(what, path+".entity_id", err.Error())
		}
	}
	if id < 0 {
		return CustomerCreated{}, malformedf(what, path+".id", "is negative")
	}
	email, _, err := o.text("email")
	if err != nil {
		return CustomerCreated{}, malformedf(what, path+".email", err.Error())
	}
	email = strings.TrimSpace(email)
	if id == 0 && email == "" {
		return CustomerCreated{}, malformedf(what, path, "has neither id nor email")
	}
	return CustomerCreated{
		ID:        id,
		Email:     email,
		Firstname: o.str("firstname"),
		Lastname:  o.str("lastname"),
		WebsiteID: o.int("website_id"),
		StoreID:   o.int("store_id"),
		GroupID:   o.int("group_id"),
		CreatedAt: o.time("created_at"),
	}, nil
}

// IOEvent is an Adobe I/O Events delivery (CloudEvents 1.0 envelope, ref §6).
type IOEvent struct {
	SpecVersion       string
	ID                string // CloudEvents id
	EventID           string // event_id, the dedup key (falls back to ID)
	Type              string // com.adobe.commerce.observer.<event>
	Source            string
	Time              string
	RecipientClientID string
	Key               string          // data.key
	Value             json.RawMessage // data.value, the subscribed fields
	DataSource        string          // data.source, "<merchant>.<env>"
	Metadata          IOEventMetadata // data._metadata
}

// IOEventMetadata is data._metadata.
type IOEventMetadata struct {
	CommerceEdition     string
	CommerceVersion     string
	EventsClientVersion string
	StoreID             int64
	WebsiteID           int64
	StoreGroupID        int64
}

// EventName is the Commerce event, e.g. "sales_order_invoice_save_after".
func (e IOEvent) EventName() string {
	if i := strings.LastIndex(e.Type, "observer."); i >= 0 {
		return e.Type[i+len("observer."):]
	}
	if i := strings.LastIndex(e.Type, "plugin."); i >= 0 {
		return e.Type[i+len("plugin."):]
	}
	return e.Type
}

// DecodeIOEvent decodes the envelope; data.value stays raw for Order,
// Invoice or Customer.
func DecodeIOEvent(raw []byte) (IOEvent, error) {
	const what = "io event"
	top, ok := asObject(raw)
	if !ok {
		return IOEvent{}, malformedf(what, "", "body is not a JSON object")
	}
	e := IOEvent{
		SpecVersion:       top.str("specversion"),
		ID:                top.str("id"),
		EventID:           top.str("event_id"),
		Type:              top.str("type"),
		Source:            top.str("source"),
		Time:              top.str("time"),
		RecipientClientID: top.str("recipient_client_id"),
	}
	if e.EventID == "" {
		e.EventID = e.ID
	}
	if e.EventID == "" {
		return IOEvent{}, malformedf(what, "event_id", "missing (and no id)")
	}
	if e.Type == "" {
		return IOEvent{}, malformedf(what, "type", "missing")
	}
	data, ok := top.obj("data")
	if !ok {
		return IOEvent{}, malformedf(what, "data", "missing or not an object")
	}
	if _, ok := data.obj("value"); !ok {
		return IOEvent{}, malformedf(what, "data.value", "missing or not an object")
	}
	e.Value = append(json.RawMessage(nil), data["value"]...)
	e.Key = data.str("key")
	e.DataSource = data.str("source")
	if md, ok := data.obj("_metadata"); ok {
		e.Metadata = IOEventMetadata{
			CommerceEdition:     md.str("commerceEdition"),
			CommerceVersion:     md.str("commerceVersion"),
			EventsClientVersion: md.str("eventsClientVersion"),
			StoreID:             md.int("storeId"),
			WebsiteID:           md.int("websiteId"),
			StoreGroupID:        md.int("storeGroupId"),
		}
	}
	return e, nil
}

// Order decodes data.value as an order.
func (e IOEvent) Order() (OrderPlaced, error) {
	o, _ := asObject(e.Value)
	op, err := orderFromObject(o, "io event", "data.value")
	op.EventName = e.EventName()
	return op, err
}

// Invoice decodes data.value as an invoice.
func (e IOEvent) Invoice() (InvoiceSaved, error) {
	o, _ := asObject(e.Value)
	inv, err := invoiceFromObject(o, "io event", "data.value")
	inv.EventName = e.EventName()
	return inv, err
}

// Customer decodes data.value as a customer.
func (e IOEvent) Customer() (CustomerCreated, error) {
	o, _ := asObject(e.Value)
	c, err := customerFromObject(o, "io event", "data.value")
	c.EventName = e.EventName()
	return c, err
}
