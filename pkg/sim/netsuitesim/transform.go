package netsuitesim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// headerFieldsCopied are copied from a sales order onto the invoice it is
// transformed into.
var headerFieldsCopied = []string{
	"entity", "subsidiary", "currency", "location", "otherRefNum", "memo", "shipMethod", "shippingCost",
	"shippingAddress", "billingAddress", "terms", "email", "department", "class", "salesRep", "discountItem", "discountRate",
}

// transform handles POST salesOrder/{id}/!transform/invoice: 204 + Location
// of a NEW invoice on every call (not idempotent), createdFrom set, lines
// copied with optional {orderLine, quantity} overrides (ref §7).
func (s *Server) transform(w http.ResponseWriter, r *http.Request, typ, idSeg, target string, body []byte) *apiError {
	if typ != "salesOrder" || target != "invoice" {
		return newErr(http.StatusBadRequest, "INVALID_PARAMETER", "The simulator transforms only salesOrder into invoice, not "+typ+" into "+target+".")
	}
	m := map[string]any{}
	if len(body) > 0 {
		if e := requireJSON(r); e != nil {
			return e
		}
		var e *apiError
		if m, e = decodeBody(body); e != nil {
			return e
		}
		if e := propertyValidation(w, r, "invoice", m); e != nil {
			return e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	so, e := s.lookupLocked("salesOrder", idSeg)
	if e != nil {
		return e
	}
	if so == nil {
		return errNotFound()
	}
	if str(so.Fields["orderStatus"]) != "B" {
		return newErr(http.StatusBadRequest, "USER_ERROR",
			"You can not bill sales order "+so.ID+": it is not approved (orderStatus must be B, Pending Fulfillment).")
	}
	overrides := map[string]map[string]any{}
	for i, l := range sublistItems(m["item"]) {
		lm, ok := l.(map[string]any)
		path := "item.items[" + strconv.Itoa(i) + "]"
		if !ok {
			return errAt(http.StatusBadRequest, "INVALID_CONTENT", path, "A sublist line must be an object.")
		}
		ol := str(lm["orderLine"])
		if ol == "" {
			return errAt(http.StatusBadRequest, "INVALID_CONTENT", path+".orderLine", "Please enter value(s) for: orderLine")
		}
		overrides[ol] = lm
	}
	var lines []any
	matched := 0
	for _, l := range sublistItems(so.Fields["item"]) {
		sl := l.(map[string]any)
		lineNo := str(sl["line"])
		inv := map[string]any{"item": deepCopy(sl["item"]), "quantity": sl["quantity"], "orderLine": json.Number(lineNo)}
		for _, k := range []string{"rate", "description", "price", "taxCode", "location", "units"} {
			if v, ok := sl[k]; ok {
				inv[k] = deepCopy(v)
			}
		}
		if o, ok := overrides[lineNo]; ok {
			matched++
			if q, ok := o["quantity"]; ok {
				qn, isNum := q.(json.Number)
				if !isNum {
					return errInvalidValue("item.items.quantity", "quantity", jsonText(q))
				}
				qf, _ := qn.Float64()
				ordered, _ := sl["quantity"].(json.Number).Float64()
				if qf < 0 || qf > ordered {
					return errInvalidValue("item.items.quantity", "quantity", qn.String())
				}
				if qf == 0 {
					continue
				}
				inv["quantity"] = qn
			}
			if rate, ok := o["rate"]; ok {
				inv["rate"] = rate
			}
		}
		lines = append(lines, inv)
	}
	if matched != len(overrides) {
		return errInvalidValue("item.items.orderLine", "orderLine", "(no such line on sales order "+so.ID+")")
	}
	if len(lines) == 0 {
		return errAt(http.StatusBadRequest, "USER_ERROR", "item", "You must enter at least one line item for this transaction.")
	}
	inv := map[string]any{}
	for _, k := range headerFieldsCopied {
		if v, ok := so.Fields[k]; ok {
			inv[k] = deepCopy(v)
		}
	}
	for k, v := range m {
		if k != "item" {
			inv[k] = v
		}
	}
	if _, ok := inv["tranDate"]; !ok {
		inv["tranDate"] = time.Now().UTC().Format("2006-01-02")
	}
	inv["item"] = map[string]any{"items": lines}
	rec, e := s.applyWriteLocked("invoice", nil, inv, so.ID, true)
	if e != nil {
		return e
	}
	w.Header().Set("Location", s.recordURLLocked("invoice", rec.ID))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
