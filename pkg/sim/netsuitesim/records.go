package netsuitesim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

var (
	eidPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	datePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// writableTypes have full CRUD; the rest of recordTypes are read-only views.
var writableTypes = map[string]bool{"customer": true, "salesOrder": true, "invoice": true}

var readOnlyTypes = map[string]bool{
	"inventoryItem": true, "nonInventorySaleItem": true, "kitItem": true, "assemblyItem": true, "itemGroup": true,
	"serviceSaleItem": true, "otherChargeSaleItem": true, "discountItem": true,
	"subsidiary": true, "location": true, "currency": true,
}

// canonicalType maps a path segment to its camelCase record type; NetSuite
// samples also use lowercase segments.
func canonicalType(seg string) (string, bool) {
	for t := range writableTypes {
		if strings.EqualFold(t, seg) {
			return t, true
		}
	}
	for t := range readOnlyTypes {
		if strings.EqualFold(t, seg) {
			return t, true
		}
	}
	return "", false
}

func isTransaction(typ string) bool { return typ == "salesOrder" || typ == "invoice" }

// serveRecord handles /services/rest/record/v1/...
func (s *Server) serveRecord(w http.ResponseWriter, r *http.Request, body []byte) {
	rest := strings.TrimPrefix(r.URL.Path, recordPrefix)
	segs := strings.Split(strings.Trim(rest, "/"), "/")
	typ, ok := canonicalType(segs[0])
	if !ok {
		writeAPIError(w, newErr(http.StatusNotFound, "INVALID_RCRD_TYPE", "Record type '"+segs[0]+"' does not exist."))
		return
	}
	q := r.URL.Query()
	var e *apiError
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		e = s.listRecords(w, typ, q)
	case len(segs) == 1 && r.Method == http.MethodPost:
		e = s.createRecord(w, r, typ, body)
	case len(segs) == 2 && r.Method == http.MethodGet:
		e = s.getRecord(w, typ, segs[1], "", q)
	case len(segs) == 2 && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		e = s.updateRecord(w, r, typ, segs[1], body)
	case len(segs) == 2 && r.Method == http.MethodDelete:
		e = s.deleteRecord(w, typ, segs[1])
	case len(segs) == 3 && r.Method == http.MethodGet:
		e = s.getRecord(w, typ, segs[1], segs[2], q)
	case len(segs) == 4 && segs[2] == "!transform" && r.Method == http.MethodPost:
		e = s.transform(w, r, typ, segs[1], segs[3], body)
	default:
		e = newErr(http.StatusMethodNotAllowed, "INVALID_METHOD", "Method "+r.Method+" is not allowed on "+r.URL.Path+".")
	}
	if e != nil {
		writeAPIError(w, e)
	}
}

// parseID resolves "123" or "eid:EXT" to a stored record (nil if absent).
func (s *Server) lookupLocked(typ, idSeg string) (*Record, *apiError) {
	if ext, ok := strings.CutPrefix(idSeg, "eid:"); ok {
		if !eidPattern.MatchString(ext) {
			return nil, &apiError{Status: http.StatusBadRequest, Details: []ErrorDetail{{
				Code: "INVALID_PARAMETER", URLPath: idSeg,
				Detail: "Invalid external ID '" + ext + "'. External IDs may contain only letters, digits, '_' and '-'.",
			}}}
		}
		return s.db.byExternalID(typ, ext), nil
	}
	if _, err := strconv.Atoi(idSeg); err != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Details: []ErrorDetail{{
			Code: "INVALID_PARAMETER", URLPath: idSeg, Detail: "Invalid record id '" + idSeg + "'.",
		}}}
	}
	return s.db.records[typ][idSeg], nil
}

func requireJSON(r *http.Request) *apiError {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "application/json") ||
		(strings.HasPrefix(ct, "application/vnd.oracle.resource+json") && !strings.Contains(ct, "collection")) {
		return nil
	}
	e := newErr(http.StatusUnsupportedMediaType, "INVALID_REQUEST", "Content-Type must be application/json, got '"+ct+"'.")
	e.Details[0].Header = "Content-Type"
	return e
}

func decodeBody(body []byte) (map[string]any, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, newErr(http.StatusBadRequest, "INVALID_REQUEST", detailMalformed)
	}
	return m, nil
}

func (s *Server) parseWrite(w http.ResponseWriter, r *http.Request, typ string, body []byte) (map[string]any, *apiError) {
	if !writableTypes[typ] {
		return nil, newErr(http.StatusMethodNotAllowed, "INVALID_METHOD", "The simulator supports writes only to customer, salesOrder and invoice.")
	}
	if e := requireJSON(r); e != nil {
		return nil, e
	}
	m, e := decodeBody(body)
	if e != nil {
		return nil, e
	}
	if e := propertyValidation(w, r, typ, m); e != nil {
		return nil, e
	}
	return m, nil
}

func (s *Server) recordURLLocked(typ, id string) string {
	return s.baseURL + recordPrefix + typ + "/" + id
}

func (s *Server) createRecord(w http.ResponseWriter, r *http.Request, typ string, body []byte) *apiError {
	m, e := s.parseWrite(w, r, typ, body)
	if e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.applyWriteLocked(typ, nil, m, "", false)
	if e != nil {
		return e
	}
	w.Header().Set("Location", s.recordURLLocked(typ, rec.ID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) updateRecord(w http.ResponseWriter, r *http.Request, typ, idSeg string, body []byte) *apiError {
	upsert := r.Method == http.MethodPut
	ext, isEID := strings.CutPrefix(idSeg, "eid:")
	if upsert && !isEID {
		return newErr(http.StatusMethodNotAllowed, "INVALID_METHOD", "PUT (upsert) requires an external id in the URL: "+typ+"/eid:<externalId>.")
	}
	m, e := s.parseWrite(w, r, typ, body)
	if e != nil {
		return e
	}
	replace := strings.Split(r.URL.Query().Get("replace"), ",")
	replaceItems := contains(replace, "item")
	s.mu.Lock()
	defer s.mu.Unlock()
	existing, e := s.lookupLocked(typ, idSeg)
	if e != nil {
		return e
	}
	if upsert {
		if _, ok := m["id"]; ok {
			return errAt(http.StatusBadRequest, "INVALID_CONTENT", "id", "An internal id is not allowed in the body of an upsert.")
		}
		if be, ok := m["externalId"]; ok && be != ext {
			return errAt(http.StatusBadRequest, "INVALID_CONTENT", "externalId", "externalId in the body differs from the external id in the URL.")
		}
		m["externalId"] = ext
	} else if existing == nil {
		return errNotFound()
	}
	rec, e := s.applyWriteLocked(typ, existing, m, "", replaceItems)
	if e != nil {
		return e
	}
	if !upsert || s.cfg.UpsertSetsLocation {
		w.Header().Set("Location", s.recordURLLocked(typ, rec.ID))
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteRecord(w http.ResponseWriter, typ, idSeg string) *apiError {
	if !writableTypes[typ] {
		return newErr(http.StatusMethodNotAllowed, "INVALID_METHOD", "The simulator does not delete "+typ+" records.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.lookupLocked(typ, idSeg)
	if e != nil {
		return e
	}
	if rec == nil {
		return errNotFound()
	}
	delete(s.db.records[typ], rec.ID)
	s.db.recordDeletedLocked(rec)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyWriteLocked validates body against the account and merges it into
// existing (nil = create). createdFrom is set by transforms.
func (s *Server) applyWriteLocked(typ string, existing *Record, body map[string]any, createdFrom string, replaceItems bool) (*Record, *apiError) {
	fields := map[string]any{}
	if existing != nil {
		fields = deepCopy(existing.Fields).(map[string]any)
	}
	ext := ""
	if existing != nil {
		ext = existing.ExternalID
	}
	if v, ok := body["externalId"]; ok && v != nil {
		str, ok := v.(string)
		if !ok || !eidPattern.MatchString(str) {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", "externalId",
				"Invalid externalId "+jsonText(v)+". External IDs may contain only letters, digits, '_' and '-'.")
		}
		if other := s.db.byExternalID(typ, str); other != nil && (existing == nil || other.ID != existing.ID) {
			s.db.dupExt = append(s.db.dupExt, typ+"/"+str)
			return nil, errAt(http.StatusBadRequest, "DUP_RCRD", "externalId",
				"A record with externalId "+str+" already exists ("+typ+" "+other.ID+").")
		}
		ext = str
	}
	for _, k := range sortedKeys(body) {
		v := body[k]
		if k == "id" || k == "externalId" || k == "links" || readOnlyFields[k] {
			continue
		}
		if k == "createdFrom" && createdFrom == "" {
			continue // set only by a transform
		}
		if v == nil {
			delete(fields, k)
			continue
		}
		if k == "item" && isTransaction(typ) {
			lines, e := s.mergeLinesLocked(fields["item"], v, replaceItems || existing == nil)
			if e != nil {
				return nil, e
			}
			fields["item"] = map[string]any{"items": lines}
			continue
		}
		nv, e := s.normalizeField(k, k, v)
		if e != nil {
			return nil, e
		}
		fields[k] = nv
	}
	if createdFrom != "" {
		fields["createdFrom"] = map[string]any{"id": createdFrom}
	}
	if e := s.validateRecordLocked(typ, existing == nil, fields); e != nil {
		return nil, e
	}
	if isTransaction(typ) {
		s.computeTotalsLocked(fields)
	}
	rec := existing
	if rec == nil {
		space := "entity"
		if isTransaction(typ) {
			space = "transaction"
			if _, ok := fields["tranId"]; !ok {
				fields["tranId"] = strconv.Itoa(s.db.tranSeq[typ])
				s.db.tranSeq[typ]++
			}
		}
		rec = &Record{ID: s.db.allocID(space), Type: typ}
		fields["createdDate"] = time.Now().UTC().Format(time.RFC3339)
		s.db.records[typ][rec.ID] = rec
	}
	fields["lastModifiedDate"] = time.Now().UTC().Format(time.RFC3339)
	oldExt := rec.ExternalID
	rec.ExternalID = ext
	rec.Fields = fields
	s.db.recordWrittenLocked(rec, oldExt)
	return rec, nil
}

// normalizeField checks a body field's value syntax and resolves references.
func (s *Server) normalizeField(path, k string, v any) (any, *apiError) {
	if target, isRef := refFields[k]; isRef && k != "item" {
		id, e := s.resolveRefLocked(path, k, target, v)
		if e != nil {
			return nil, e
		}
		return map[string]any{"id": id}, nil
	}
	switch k {
	case "tranDate", "dueDate", "shipDate", "startDate", "endDate":
		str, ok := v.(string)
		if !ok || !datePattern.MatchString(str) {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "Invalid date value "+jsonText(v)+"; use YYYY-MM-DD.")
		}
		if _, err := time.Parse("2006-01-02", str); err != nil {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "Invalid date value "+jsonText(v)+".")
		}
	case "shippingCost", "discountRate", "exchangeRate", "quantity", "rate", "amount", "creditLimit":
		if _, ok := v.(json.Number); !ok {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "Invalid number "+jsonText(v)+" for field "+k+".")
		}
	case "isPerson", "isTaxable", "toBeEmailed", "isInactive", "isClosed", "taxable", "shipComplete":
		if _, ok := v.(bool); !ok {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "Invalid boolean "+jsonText(v)+" for field "+k+".")
		}
	case "orderStatus":
		id := enumID(v)
		if _, ok := orderStatusText[id]; !ok {
			return nil, errInvalidValue(path, k, jsonText(v))
		}
		return id, nil
	case "shippingAddress", "billingAddress":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "Subrecord "+k+" must be an object.")
		}
		out := map[string]any{}
		for ak, av := range m {
			if ak == "links" {
				continue
			}
			if ak == "country" {
				if cm, ok := av.(map[string]any); ok {
					out[ak] = map[string]any{"id": cm["id"]}
					continue
				}
			}
			out[ak] = av
		}
		return out, nil
	case "addressbook":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "Sublist addressbook must be an object with items.")
		}
		return deepCopy(m), nil
	}
	return v, nil
}

var orderStatusText = map[string]string{
	"A": "Pending Approval", "B": "Pending Fulfillment", "C": "Cancelled", "D": "Partially Fulfilled",
	"E": "Pending Billing/Partially Fulfilled", "F": "Pending Billing", "G": "Billed", "H": "Closed",
}

func enumID(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if id, ok := x["id"].(string); ok {
			return id
		}
	}
	return ""
}

func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// resolveRefLocked turns {"id":..} or {"externalId":..} into an internal id,
// checking that it exists when target is a known type.
func (s *Server) resolveRefLocked(path, field, target string, v any) (string, *apiError) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", errInvalidValue(path, field, jsonText(v))
	}
	var id, ext string
	switch x := m["id"].(type) {
	case string:
		id = x
	case json.Number:
		id = x.String()
	case nil:
	default:
		return "", errInvalidValue(path, field, jsonText(x))
	}
	if e, ok := m["externalId"].(string); ok {
		ext = e
	}
	if id == "" && ext == "" {
		return "", errInvalidValue(path, field, jsonText(v))
	}
	shown := id
	if shown == "" {
		shown = ext
	}
	switch target {
	case "":
		if id == "" {
			return ext, nil
		}
		return id, nil
	case "customer", "salesOrder":
		var rec *Record
		if id != "" {
			rec = s.db.records[target][id]
		} else {
			rec = s.db.byExternalID(target, ext)
		}
		if rec == nil {
			return "", errInvalidValue(path, field, shown)
		}
		return rec.ID, nil
	case "item":
		it := s.db.itemByRef(id, ext)
		if it == nil || it.Inactive {
			return "", errInvalidValue(path, field, shown)
		}
		return it.ID, nil
	case "subsidiary", "location", "currency":
		tbl := map[string]map[string]*named{"subsidiary": s.db.subsidiaries, "location": s.db.locations, "currency": s.db.currencies}[target]
		if _, ok := tbl[id]; !ok {
			return "", errInvalidValue(path, field, shown)
		}
		return id, nil
	}
	return id, nil
}

func (d *store) itemByRef(id, ext string) *Item {
	if id != "" {
		return d.items[id]
	}
	for _, it := range d.items {
		if it.ExternalID != "" && it.ExternalID == ext {
			return it
		}
	}
	return nil
}

// mergeLinesLocked applies request item lines to the stored ones. Without
// replace, lines without a matching "line" key are appended (the sublist
// hazard of ref §4.3); with replace, unmatched stored lines are dropped.
func (s *Server) mergeLinesLocked(stored, req any, replace bool) ([]any, *apiError) {
	rm, ok := req.(map[string]any)
	if !ok {
		return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", "item", "Sublist item must be an object with items.")
	}
	reqLines, ok := rm["items"].([]any)
	if !ok && rm["items"] != nil {
		return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", "item.items", "item.items must be an array.")
	}
	var old []any
	if sm, ok := stored.(map[string]any); ok {
		old, _ = sm["items"].([]any)
	}
	next := 1
	byLine := map[string]map[string]any{}
	for _, l := range old {
		lm := l.(map[string]any)
		n, _ := strconv.Atoi(jsonText(lm["line"]))
		next = max(next, n+1)
		byLine[jsonText(lm["line"])] = lm
	}
	var out []any
	if !replace {
		out = append(out, old...)
	}
	for i, l := range reqLines {
		path := "item.items[" + strconv.Itoa(i) + "]"
		lm, ok := l.(map[string]any)
		if !ok {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "A sublist line must be an object.")
		}
		if key, keyed := lm["line"]; keyed && key != nil {
			target, found := byLine[jsonText(key)]
			if !found {
				return nil, errInvalidValue(path+".line", "line", jsonText(key))
			}
			merged := deepCopy(target).(map[string]any)
			for k, v := range lm {
				if k == "line" {
					continue
				}
				nv, e := s.normalizeLineField(path, k, v)
				if e != nil {
					return nil, e
				}
				merged[k] = nv
			}
			if replace {
				out = append(out, merged)
			} else {
				for j, o := range out {
					if jsonText(o.(map[string]any)["line"]) == jsonText(key) {
						out[j] = merged
					}
				}
			}
			continue
		}
		nl := map[string]any{}
		for k, v := range lm {
			nv, e := s.normalizeLineField(path, k, v)
			if e != nil {
				return nil, e
			}
			if nv != nil {
				nl[k] = nv
			}
		}
		if _, ok := nl["item"]; !ok {
			return nil, errAt(http.StatusBadRequest, "INVALID_CONTENT", path+".item", "Please enter value(s) for: Item")
		}
		nl["line"] = json.Number(strconv.Itoa(next))
		next++
		out = append(out, nl)
	}
	return out, nil
}

func (s *Server) normalizeLineField(path, k string, v any) (any, *apiError) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case "item":
		id, e := s.resolveRefLocked(path+".item", "item", "item", v)
		if e != nil {
			return nil, e
		}
		return map[string]any{"id": id}, nil
	case "itemType", "quantityAvailable", "quantityOnHand", "links":
		return nil, nil // read-only
	}
	return s.normalizeField(path+"."+k, k, v)
}

// validateRecordLocked applies the account rules that span several fields.
func (s *Server) validateRecordLocked(typ string, create bool, f map[string]any) *apiError {
	subsidiary := refID(f["subsidiary"])
	switch typ {
	case "customer":
		if create && s.cfg.OneWorld && subsidiary == "" {
			return errAt(http.StatusBadRequest, "USER_ERROR", "subsidiary", "Please enter value(s) for: Primary Subsidiary")
		}
		isPerson, _ := f["isPerson"].(bool)
		if isPerson && (str(f["firstName"]) == "" || str(f["lastName"]) == "") {
			return newErr(http.StatusBadRequest, "USER_ERROR", "Please enter value(s) for: First Name, Last Name")
		}
		if !isPerson && str(f["companyName"]) == "" && (str(f["firstName"]) == "" || str(f["lastName"]) == "") {
			return newErr(http.StatusBadRequest, "USER_ERROR", "Please enter value(s) for: Company Name")
		}
		if _, ok := f["entityId"]; !ok {
			name := str(f["companyName"])
			if isPerson || name == "" {
				name = strings.TrimSpace(str(f["firstName"]) + " " + str(f["lastName"]))
			}
			f["entityId"] = name
		}
		return nil
	case "salesOrder", "invoice":
		cust := s.db.records["customer"][refID(f["entity"])]
		if cust == nil {
			return errAt(http.StatusBadRequest, "USER_ERROR", "entity", "Please enter value(s) for: Customer")
		}
		custSub := refID(cust.Fields["subsidiary"])
		if subsidiary == "" && custSub != "" {
			subsidiary = custSub
			f["subsidiary"] = map[string]any{"id": custSub}
		}
		if s.cfg.OneWorld {
			if subsidiary == "" {
				return errAt(http.StatusBadRequest, "USER_ERROR", "subsidiary", "Please enter value(s) for: Subsidiary")
			}
			if custSub != "" && custSub != subsidiary {
				return errInvalidValue("subsidiary", "subsidiary", subsidiary)
			}
			if loc := s.db.locations[refID(f["location"])]; loc != nil && !availableTo(loc.Subsidiaries, subsidiary) {
				return errInvalidValue("location", "location", loc.ID)
			}
		}
		lines := sublistItems(f["item"])
		if len(lines) == 0 {
			return errAt(http.StatusBadRequest, "USER_ERROR", "item", "You must enter at least one line item for this transaction.")
		}
		for i, l := range lines {
			lm := l.(map[string]any)
			it := s.db.items[refID(lm["item"])]
			if it == nil {
				continue
			}
			if s.cfg.OneWorld && !availableTo(it.Subsidiaries, subsidiary) {
				return errInvalidValue("item.items["+strconv.Itoa(i)+"].item", "item", it.ID)
			}
			if loc := s.db.locations[refID(lm["location"])]; s.cfg.OneWorld && loc != nil && !availableTo(loc.Subsidiaries, subsidiary) {
				return errInvalidValue("item.items["+strconv.Itoa(i)+"].location", "location", loc.ID)
			}
		}
	}
	return nil
}

// computeTotalsLocked fills rate (from the base price), amount and total.
func (s *Server) computeTotalsLocked(f map[string]any) {
	total := decimal.Zero
	currency := refID(f["currency"])
	if currency == "" {
		currency = "1"
	}
	for _, l := range sublistItems(f["item"]) {
		lm := l.(map[string]any)
		it := s.db.items[refID(lm["item"])]
		if it != nil {
			lm["itemType"] = it.Type
		}
		qty := decimal.NewFromInt(1)
		if q, ok := lm["quantity"].(json.Number); ok {
			qty, _ = decimal.NewFromString(q.String())
		} else {
			lm["quantity"] = json.Number("1")
		}
		rate, hasRate := decimal.Zero, false
		if rv, ok := lm["rate"].(json.Number); ok {
			rate, _ = decimal.NewFromString(rv.String())
			hasRate = true
		} else if it != nil {
			// setPrice keeps one row per key, so this is the only candidate.
			if i, ok := s.db.priceIdx[it.ID+"|1|"+currency]; ok {
				if p := s.db.prices[i]; p.Item == it.ID && p.PriceLevel == "1" && p.Currency == currency && p.Quantity == 0 {
					rate, hasRate = p.Price, true
				}
			}
			if hasRate {
				lm["rate"] = json.Number(rate.String())
			}
		}
		amount := qty.Mul(rate)
		if av, ok := lm["amount"].(json.Number); ok && !hasRate {
			amount, _ = decimal.NewFromString(av.String())
		}
		lm["amount"] = json.Number(amount.String())
		total = total.Add(amount)
	}
	if sc, ok := f["shippingCost"].(json.Number); ok {
		d, _ := decimal.NewFromString(sc.String())
		total = total.Add(d)
	}
	f["total"] = json.Number(total.String())
}

func sublistItems(v any) []any {
	m, _ := v.(map[string]any)
	items, _ := m["items"].([]any)
	return items
}

func refID(v any) string {
	m, _ := v.(map[string]any)
	return str(m["id"])
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopy(v)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = deepCopy(v)
		}
		return l
	}
	return v
}
