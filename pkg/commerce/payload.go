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

// The fields the decoders read from a record object (an order, invoice or
// customer), by name.
const (
	fIncrementID = iota
	fEntityID
	fStoreID
	fCustomerID
	fCustomerEmail
	fCustomerIsGuest
	fState
	fStatus
	fCurrencyCode // order_currency_code
	fGrandTotal
	fCreatedAt
	fUpdatedAt
	fOrderID
	fOrderIncrementID
	fID
	fEmail
	fFirstname
	fLastname
	fWebsiteID
	fGroupID
	nFields
)

func recordField(key []byte) int {
	switch string(key) {
	case "increment_id":
		return fIncrementID
	case "entity_id":
		return fEntityID
	case "store_id":
		return fStoreID
	case "customer_id":
		return fCustomerID
	case "customer_email":
		return fCustomerEmail
	case "customer_is_guest":
		return fCustomerIsGuest
	case "state":
		return fState
	case "status":
		return fStatus
	case "order_currency_code":
		return fCurrencyCode
	case "grand_total":
		return fGrandTotal
	case "created_at":
		return fCreatedAt
	case "updated_at":
		return fUpdatedAt
	case "order_id":
		return fOrderID
	case "order_increment_id":
		return fOrderIncrementID
	case "id":
		return fID
	case "email":
		return fEmail
	case "firstname":
		return fFirstname
	case "lastname":
		return fLastname
	case "website_id":
		return fWebsiteID
	case "group_id":
		return fGroupID
	}
	return -1
}

// record is a record object as the scanner found it: its bytes and the
// members the decoders read. A member that appears twice is the last one,
// as encoding/json (and so the decoder before this scanner) takes it.
type record struct {
	isObj    bool   // an object or []; false: absent, null or another type
	raw      []byte // the value's bytes, aliasing the body
	f        [nFields]value
	orderObj bool  // "order" is an object (invoices may nest their order)
	orderInc value // order.increment_id
}

// member reads one member of the record whose value starts at b[v]
// (depth containers around it).
func (r *record) member(b []byte, depth int, key []byte, v int) int {
	if string(key) == "order" {
		inc := value(nil)
		end, isObj := walkObject(b, v, depth, func(k []byte, w int) int {
			end := skipValue(b, w, depth+1)
			if end > 0 && string(k) == "increment_id" {
				inc = b[w:end]
			}
			return end
		})
		r.orderObj, r.orderInc = isObj, inc
		return end
	}
	end := skipValue(b, v, depth)
	if f := recordField(key); f >= 0 && end > 0 {
		r.f[f] = b[v:end]
	}
	return end
}

// at walks the record at b[v] into r, replacing what r held (a duplicate
// key's value replaces the earlier one).
func (r *record) at(b []byte, v, depth int) int {
	*r = record{}
	end, isObj := walkObject(b, v, depth, func(k []byte, w int) int { return r.member(b, depth+1, k, w) })
	if end > 0 {
		r.isObj, r.raw = isObj, b[v:end]
	}
	return end
}

// scanRecord is a record that is the whole document (an I/O event's
// data.value); one that is not valid JSON is empty, as before.
func scanRecord(b []byte) record {
	var r record
	end := r.at(b, skipSpace(b, 0), 0)
	if end < 0 || skipSpace(b, end) != len(b) {
		return record{}
	}
	return r
}

// places says where a webhook keeps its record: observer data.<key>, plugin
// <key>, each in order of preference ("" ends a list). Arrays, not slices:
// the tables stay on the stack.
type places struct {
	what      string
	data      [2]string // keys in data
	dataPaths [2]string // "data." + key
	plugin    [3]string // keys at the top
}

func orderPlaces() places {
	return places{"order webhook", [2]string{"order"}, [2]string{"data.order"}, [3]string{"order", "result"}}
}

func invoicePlaces() places {
	return places{"invoice webhook", [2]string{"invoice", "data_object"}, [2]string{"data.invoice", "data.data_object"},
		[3]string{"invoice", "entity", "result"}}
}

func customerPlaces() places {
	return places{"customer webhook", [2]string{"customer", "data_object"}, [2]string{"data.customer", "data.data_object"},
		[3]string{"customer", "result"}}
}

// indexOf is key's place in keys, or -1.
func indexOf(keys []string, key []byte) int {
	for i, k := range keys {
		if k != "" && k == string(key) {
			return i
		}
	}
	return -1
}

// webhook is what one pass over a webhook body finds: the observer's
// eventName and every candidate record.
type webhook struct {
	eventName value
	dataObj   bool      // data is an object
	data      [2]record // data.<places.data[i]>
	plugin    [3]record // <places.plugin[i]>
}

// locate finds the record in either webhook shape, observer
// {"eventName","data":{<key>:{...}}} or plugin {<key>:{...}}, validating
// the whole body on the way, into w (the caller's, so it stays on the
// stack). It returns the record, its path and the eventName.
func locate(raw []byte, p *places, w *webhook) (*record, string, string, error) {
	end, isObj := walkObject(raw, skipSpace(raw, 0), 0, func(k []byte, v int) int {
		switch string(k) {
		case "eventName":
			end := skipValue(raw, v, 1)
			if end > 0 {
				w.eventName = raw[v:end]
			}
			return end
		case "data":
			w.dataObj, w.data = false, [2]record{}
			end, isObj := walkObject(raw, v, 1, func(k []byte, v int) int {
				if i := indexOf(p.data[:], k); i >= 0 {
					return w.data[i].at(raw, v, 2)
				}
				return skipValue(raw, v, 2)
			})
			w.dataObj = isObj
			return end
		}
		if i := indexOf(p.plugin[:], k); i >= 0 {
			return w.plugin[i].at(raw, v, 1)
		}
		return skipValue(raw, v, 1)
	})
	if end < 0 || !isObj || skipSpace(raw, end) != len(raw) {
		return nil, "", "", malformedf(p.what, "", "body is not a JSON object")
	}
	event := w.eventName.str()
	if w.dataObj {
		for i, k := range p.data {
			if k != "" && w.data[i].isObj {
				return &w.data[i], p.dataPaths[i], event, nil
			}
		}
	}
	for i, k := range p.plugin {
		if k != "" && w.plugin[i].isObj {
			return &w.plugin[i], k, event, nil
		}
	}
	var want []string
	for _, k := range p.dataPaths {
		if k != "" {
			want = append(want, k)
		}
	}
	for _, k := range p.plugin {
		if k != "" {
			want = append(want, k)
		}
	}
	return nil, "", "", malformedf(p.what, "", "no record object (want one of "+strings.Join(want, ", ")+")")
}

// OrderRecord returns the order object of an order webhook body, found as
// DecodeOrderPlaced finds it, its path (e.g. "data.order") and the
// observer's eventName, for readers that need more of the record than
// OrderPlaced holds. The bytes alias raw.
func OrderRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	return recordOf(raw, orderPlaces())
}

// InvoiceRecord is OrderRecord for invoice webhooks (DecodeInvoiceSaved).
func InvoiceRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	return recordOf(raw, invoicePlaces())
}

// CustomerRecord is OrderRecord for customer webhooks (DecodeCustomerCreated).
func CustomerRecord(raw []byte) (record json.RawMessage, path, eventName string, err error) {
	return recordOf(raw, customerPlaces())
}

func recordOf(raw []byte, p places) (json.RawMessage, string, string, error) {
	var w webhook
	r, path, event, err := locate(raw, &p, &w)
	if err != nil {
		return nil, "", "", err
	}
	return r.raw, path, event, nil
}

// requiredString reads a non-empty string identifier; a number is accepted and
// kept as its literal text.
func requiredString(v value, what, path, key string) (string, error) {
	s, ok, err := v.text()
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
	p := orderPlaces()
	var w webhook
	r, path, event, err := locate(raw, &p, &w)
	if err != nil {
		return OrderPlaced{}, err
	}
	op, err := orderFromRecord(r, p.what, path)
	op.EventName = event
	return op, err
}

func orderFromRecord(r *record, what, path string) (OrderPlaced, error) {
	inc, err := requiredString(r.f[fIncrementID], what, path, "increment_id")
	if err != nil {
		return OrderPlaced{}, err
	}
	return OrderPlaced{
		IncrementID:     inc,
		EntityID:        r.f[fEntityID].int(),
		StoreID:         r.f[fStoreID].int(),
		CustomerID:      r.f[fCustomerID].int(),
		CustomerEmail:   r.f[fCustomerEmail].str(),
		CustomerIsGuest: r.f[fCustomerIsGuest].boolish(),
		State:           r.f[fState].str(),
		Status:          r.f[fStatus].str(),
		CurrencyCode:    r.f[fCurrencyCode].str(),
		GrandTotal:      r.f[fGrandTotal].decimal(),
		CreatedAt:       r.f[fCreatedAt].time(),
		UpdatedAt:       r.f[fUpdatedAt].time(),
	}, nil
}

// DecodeInvoiceSaved decodes an invoice webhook body (observer
// sales_order_invoice_save_after / _pay with data.invoice or data.data_object,
// or an invoice plugin with invoice, entity or result).
func DecodeInvoiceSaved(raw []byte) (InvoiceSaved, error) {
	p := invoicePlaces()
	var w webhook
	r, path, event, err := locate(raw, &p, &w)
	if err != nil {
		return InvoiceSaved{}, err
	}
	inv, err := invoiceFromRecord(r, p.what, path)
	inv.EventName = event
	return inv, err
}

func invoiceFromRecord(r *record, what, path string) (InvoiceSaved, error) {
	inc, err := requiredString(r.f[fIncrementID], what, path, "increment_id")
	if err != nil {
		return InvoiceSaved{}, err
	}
	state, ok, err := r.f[fState].integer()
	if err != nil {
		return InvoiceSaved{}, malformedf(what, path+".state", err.Error())
	}
	if !ok {
		return InvoiceSaved{}, malformedf(what, path+".state", "missing")
	}
	if state < 0 || state > 1000 {
		return InvoiceSaved{}, malformedf(what, path+".state", "is out of range")
	}
	orderInc := r.f[fOrderIncrementID].str()
	if orderInc == "" && r.orderObj {
		orderInc = r.orderInc.str()
	}
	return InvoiceSaved{
		IncrementID:      inc,
		EntityID:         r.f[fEntityID].int(),
		OrderID:          r.f[fOrderID].int(),
		OrderIncrementID: orderInc,
		State:            int(state),
		StoreID:          r.f[fStoreID].int(),
		CurrencyCode:     r.f[fCurrencyCode].str(),
		GrandTotal:       r.f[fGrandTotal].decimal(),
		CreatedAt:        r.f[fCreatedAt].time(),
		UpdatedAt:        r.f[fUpdatedAt].time(),
	}, nil
}

// DecodeCustomerCreated decodes a customer webhook body (observer
// customer_register_success with data.customer, customer_save_commit_after
// with data.customer or data.data_object, or a plugin with customer/result).
func DecodeCustomerCreated(raw []byte) (CustomerCreated, error) {
	p := customerPlaces()
	var w webhook
	r, path, event, err := locate(raw, &p, &w)
	if err != nil {
		return CustomerCreated{}, err
	}
	c, err := customerFromRecord(r, p.what, path)
	c.EventName = event
	return c, err
}

func customerFromRecord(r *record, what, path string) (CustomerCreated, error) {
	id, _, err := r.f[fID].integer()
	if err != nil {
		return CustomerCreated{}, malformedf(what, path+".id", err.Error())
	}
	if id == 0 {
		id, _, err = r.f[fEntityID].integer()
		if err != nil {
			return CustomerCreated{}, malformedf(what, path+".entity_id", err.Error())
		}
	}
	if id < 0 {
		return CustomerCreated{}, malformedf(what, path+".id", "is negative")
	}
	email, _, err := r.f[fEmail].text()
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
		Firstname: r.f[fFirstname].str(),
		Lastname:  r.f[fLastname].str(),
		WebsiteID: r.f[fWebsiteID].int(),
		StoreID:   r.f[fStoreID].int(),
		GroupID:   r.f[fGroupID].int(),
		CreatedAt: r.f[fCreatedAt].time(),
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
// Invoice or Customer. Value aliases raw.
func DecodeIOEvent(raw []byte) (IOEvent, error) {
	const what = "io event"
	// The members read, by name; a repeated key's last value counts.
	var top struct {
		specVersion, id, eventID, typ, source, time, recipient value
		dataObj, valueObj                                      bool
		key, value, dataSource                                 value
		mdObj                                                  bool
		md                                                     [6]value // as mdKeys
	}
	mdKeys := [6]string{"commerceEdition", "commerceVersion", "eventsClientVersion", "storeId", "websiteId", "storeGroupId"}
	end, isObj := walkObject(raw, skipSpace(raw, 0), 0, func(k []byte, v int) int {
		if string(k) == "data" {
			top.dataObj, top.valueObj, top.key, top.value, top.dataSource = false, false, nil, nil, nil
			top.mdObj, top.md = false, [6]value{}
			end, isObj := walkObject(raw, v, 1, func(k []byte, v int) int {
				if string(k) == "_metadata" {
					var md [6]value
					end, isObj := walkObject(raw, v, 2, func(k []byte, v int) int {
						end := skipValue(raw, v, 3)
						if i := indexOf(mdKeys[:], k); i >= 0 && end > 0 {
							md[i] = raw[v:end]
						}
						return end
					})
					top.mdObj, top.md = isObj, md
					return end
				}
				end := skipValue(raw, v, 2)
				if end < 0 {
					return end
				}
				switch string(k) {
				case "key":
					top.key = raw[v:end]
				case "source":
					top.dataSource = raw[v:end]
				case "value":
					top.value = raw[v:end]
					top.valueObj = top.value.isObject()
				}
				return end
			})
			top.dataObj = isObj
			return end
		}
		end := skipValue(raw, v, 1)
		if end < 0 {
			return end
		}
		s := raw[v:end]
		switch string(k) {
		case "specversion":
			top.specVersion = s
		case "id":
			top.id = s
		case "event_id":
			top.eventID = s
		case "type":
			top.typ = s
		case "source":
			top.source = s
		case "time":
			top.time = s
		case "recipient_client_id":
			top.recipient = s
		}
		return end
	})
	if end < 0 || !isObj || skipSpace(raw, end) != len(raw) {
		return IOEvent{}, malformedf(what, "", "body is not a JSON object")
	}
	e := IOEvent{
		SpecVersion:       top.specVersion.str(),
		ID:                top.id.str(),
		EventID:           top.eventID.str(),
		Type:              top.typ.str(),
		Source:            top.source.str(),
		Time:              top.time.str(),
		RecipientClientID: top.recipient.str(),
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
	if !top.dataObj {
		return IOEvent{}, malformedf(what, "data", "missing or not an object")
	}
	if !top.valueObj {
		return IOEvent{}, malformedf(what, "data.value", "missing or not an object")
	}
	e.Value = json.RawMessage(top.value)
	e.Key = top.key.str()
	e.DataSource = top.dataSource.str()
	if top.mdObj {
		md := top.md
		e.Metadata = IOEventMetadata{
			CommerceEdition:     md[0].str(),
			CommerceVersion:     md[1].str(),
			EventsClientVersion: md[2].str(),
			StoreID:             md[3].int(),
			WebsiteID:           md[4].int(),
			StoreGroupID:        md[5].int(),
		}
	}
	return e, nil
}

// Order decodes data.value as an order.
func (e IOEvent) Order() (OrderPlaced, error) {
	r := scanRecord(e.Value)
	op, err := orderFromRecord(&r, "io event", "data.value")
	op.EventName = e.EventName()
	return op, err
}

// Invoice decodes data.value as an invoice.
func (e IOEvent) Invoice() (InvoiceSaved, error) {
	r := scanRecord(e.Value)
	inv, err := invoiceFromRecord(&r, "io event", "data.value")
	inv.EventName = e.EventName()
	return inv, err
}

// Customer decodes data.value as a customer.
func (e IOEvent) Customer() (CustomerCreated, error) {
	r := scanRecord(e.Value)
	c, err := customerFromRecord(&r, "io event", "data.value")
	c.EventName = e.EventName()
	return c, err
}
