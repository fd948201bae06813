package commerce

// The decoder as it was before the single-pass scanner (commit 7b59cc1):
// json.Valid over the body, then a map per object level. Kept, renamed, as
// the reference the differential fuzz (decode_diff_test.go) holds the
// scanner to. Do not "improve" it: its behaviour is the specification.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// locate finds the record in either webhook shape: observer
// {"eventName","data":{<key>:{...}}} or plugin {<key>:{...}}.
func refLocate(raw []byte, what string, dataKeys, pluginKeys []string) (refObject, string, string, error) {
	o, _, path, event, err := refLocateRaw(raw, what, dataKeys, pluginKeys)
	return o, path, event, err
}

// locateRaw is locate also returning the record's bytes.
func refLocateRaw(raw []byte, what string, dataKeys, pluginKeys []string) (refObject, json.RawMessage, string, string, error) {
	top, ok := refAsObject(raw)
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
func refOrderKeys() (data, plugin []string) { return []string{"order"}, []string{"order", "result"} }
func refInvoiceKeys() (data, plugin []string) {
	return []string{"invoice", "data_object"}, []string{"invoice", "entity", "result"}
}
func refCustomerKeys() (data, plugin []string) {
	return []string{"customer", "data_object"}, []string{"customer", "result"}
}

// OrderRecord returns the order object of an order webhook body, found as
// DecodeOrderPlaced finds it, its path (e.g. "data.order") and the
// observer's eventName, for readers that need more of the record than
// OrderPlaced holds. The bytes alias raw.
func refOrderRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	dk, pk := refOrderKeys()
	_, rec, path, event, err := refLocateRaw(raw, "order webhook", dk, pk)
	return rec, path, event, err
}

// InvoiceRecord is OrderRecord for invoice webhooks (DecodeInvoiceSaved).
func refInvoiceRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	dk, pk := refInvoiceKeys()
	_, rec, path, event, err := refLocateRaw(raw, "invoice webhook", dk, pk)
	return rec, path, event, err
}

// CustomerRecord is OrderRecord for customer webhooks (DecodeCustomerCreated).
func refCustomerRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	dk, pk := refCustomerKeys()
	_, rec, path, event, err := refLocateRaw(raw, "customer webhook", dk, pk)
	return rec, path, event, err
}

// requiredString reads a non-empty string identifier; a number is accepted and
// kept as its literal text.
func refRequiredString(o refObject, what, path, key string) (string, error) {
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
func refDecodeOrderPlaced(raw []byte) (OrderPlaced, error) {
	const what = "order webhook"
	dk, pk := refOrderKeys()
	o, path, event, err := refLocate(raw, what, dk, pk)
	if err != nil {
		return OrderPlaced{}, err
	}
	op, err := refOrderFromObject(o, what, path)
	op.EventName = event
	return op, err
}

func refOrderFromObject(o refObject, what, path string) (OrderPlaced, error) {
	inc, err := refRequiredString(o, what, path, "increment_id")
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
func refDecodeInvoiceSaved(raw []byte) (InvoiceSaved, error) {
	const what = "invoice webhook"
	dk, pk := refInvoiceKeys()
	o, path, event, err := refLocate(raw, what, dk, pk)
	if err != nil {
		return InvoiceSaved{}, err
	}
	inv, err := refInvoiceFromObject(o, what, path)
	inv.EventName = event
	return inv, err
}

func refInvoiceFromObject(o refObject, what, path string) (InvoiceSaved, error) {
	inc, err := refRequiredString(o, what, path, "increment_id")
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
func refDecodeCustomerCreated(raw []byte) (CustomerCreated, error) {
	const what = "customer webhook"
	dk, pk := refCustomerKeys()
	o, path, event, err := refLocate(raw, what, dk, pk)
	if err != nil {
		return CustomerCreated{}, err
	}
	c, err := refCustomerFromObject(o, what, path)
	c.EventName = event
	return c, err
}

func refCustomerFromObject(o refObject, what, path string) (CustomerCreated, error) {
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

// DecodeIOEvent decodes the envelope; data.value stays raw for Order,
// Invoice or Customer.
func refDecodeIOEvent(raw []byte) (IOEvent, error) {
	const what = "io event"
	top, ok := refAsObject(raw)
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
func refIOOrder(e IOEvent) (OrderPlaced, error) {
	o, _ := refAsObject(e.Value)
	op, err := refOrderFromObject(o, "io event", "data.value")
	op.EventName = e.EventName()
	return op, err
}

// Invoice decodes data.value as an invoice.
func refIOInvoice(e IOEvent) (InvoiceSaved, error) {
	o, _ := refAsObject(e.Value)
	inv, err := refInvoiceFromObject(o, "io event", "data.value")
	inv.EventName = e.EventName()
	return inv, err
}

// Customer decodes data.value as a customer.
func refIOCustomer(e IOEvent) (CustomerCreated, error) {
	o, _ := refAsObject(e.Value)
	c, err := refCustomerFromObject(o, "io event", "data.value")
	c.EventName = e.EventName()
	return c, err
}

// object is a JSON object decoded one level deep. PHP's json_encode writes an
// empty associative array as [], so [] is accepted as an empty object.
type refObject map[string]json.RawMessage

func refAsObject(raw json.RawMessage) (refObject, bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	return refSplitObject(raw)
}

// splitObject is asObject for bytes already known to be valid JSON (the
// members of an object asObject returned): it splits one level of an
// object into its members in a single pass, without decoding or copying
// the values, the way json.Unmarshal into map[string]json.RawMessage would
// (keys unescaped, the last duplicate wins). Webhook decoding needs a few
// scalars from a document of nested arrays; unmarshalling every level
// cost a third of ingest's CPU.
func refSplitObject(raw []byte) (refObject, bool) {
	i := refSkipSpace(raw, 0)
	if i >= len(raw) {
		return nil, false
	}
	switch raw[i] {
	case '[':
		j := refSkipSpace(raw, i+1)
		if j < len(raw) && raw[j] == ']' {
			return refObject{}, true
		}
		return nil, false
	case '{':
	default:
		return nil, false
	}
	o := refObject{}
	i = refSkipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return o, true
	}
	for i < len(raw) {
		kEnd := refSkipString(raw, i)
		if kEnd < 0 {
			return nil, false
		}
		key, ok := refMemberKey(raw[i:kEnd])
		if !ok {
			return nil, false
		}
		i = refSkipSpace(raw, kEnd)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		vStart := refSkipSpace(raw, i+1)
		vEnd := refSkipValue(raw, vStart)
		if vEnd < 0 {
			return nil, false
		}
		o[key] = json.RawMessage(raw[vStart:vEnd])
		i = refSkipSpace(raw, vEnd)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = refSkipSpace(raw, i+1)
		case '}':
			return o, true
		default:
			return nil, false
		}
	}
	return nil, false
}

func refSkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i], or -1.
func refSkipString(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func refSkipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return refSkipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := refSkipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[j])) {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// memberKey unquotes an object key; plain ASCII keys (all of Commerce's)
// take the fast path, anything else goes through encoding/json so escapes
// and invalid UTF-8 come out exactly as json.Unmarshal would make them.
func refMemberKey(quoted []byte) (string, bool) {
	plain := true
	for _, c := range quoted[1 : len(quoted)-1] {
		if c == '\\' || c >= 0x80 || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(quoted[1 : len(quoted)-1]), true
	}
	var k string
	if err := json.Unmarshal(quoted, &k); err != nil {
		return "", false
	}
	return k, true
}

// present reports a key that exists and is not null.
func (o refObject) present(key string) bool {
	v, ok := o[key]
	return ok && string(bytes.TrimSpace(v)) != "null"
}

func (o refObject) obj(key string) (refObject, bool) {
	if !o.present(key) {
		return nil, false
	}
	return refSplitObject(o[key])
}

// text returns a string, or a number's literal text (PHP models often carry
// numbers where a string is documented and vice versa). ok is false for an
// absent or null key; err is set for other JSON types.
func (o refObject) text(key string) (s string, ok bool, err error) {
	if !o.present(key) {
		return "", false, nil
	}
	raw := bytes.TrimSpace(o[key])
	switch {
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false, err
		}
		return n.String(), true, nil
	}
	return "", false, fmt.Errorf("is not a string")
}

// str is text without the error: absent, null or non-scalar give "".
func (o refObject) str(key string) string {
	s, _, _ := o.text(key)
	return strings.TrimSpace(s)
}

// integer accepts an integral JSON number or a numeric string. An absent,
// null or empty-string value gives ok=false.
func (o refObject) integer(key string) (n int64, ok bool, err error) {
	s, ok, err := o.text(key)
	if err != nil {
		return 0, false, fmt.Errorf("is not an integer")
	}
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return 0, false, nil
	}
	n, err = parseInteger(s)
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

// int is integer without the error (lenient fields).
func (o refObject) int(key string) int64 {
	n, _, _ := o.integer(key)
	return n
}

func (o refObject) decimal(key string) decimal.Decimal {
	s, ok, err := o.text(key)
	if !ok || err != nil {
		return decimal.Decimal{}
	}
	d, err := decimal.NewFromString(strings.TrimSpace(s))
	if err != nil {
		return decimal.Decimal{}
	}
	return d
}

func (o refObject) time(key string) time.Time {
	s := o.str(key)
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (o refObject) boolish(key string) bool {
	if !o.present(key) {
		return false
	}
	var b bool
	if json.Unmarshal(o[key], &b) == nil {
		return b
	}
	switch o.str(key) {
	case "1", "true":
		return true
	}
	return false
}

// Flexible scalar types for REST and webhook structs: Commerce sends numbers
