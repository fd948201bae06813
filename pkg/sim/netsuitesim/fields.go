package netsuitesim

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Known body fields per writable record type (REST API Browser names, ref §5-§7).
// Only these, the custom prefixes and id/externalId pass
// X-NetSuite-PropertyNameValidation: Error.
var knownFields = map[string][]string{
	"customer": {
		"isPerson", "firstName", "middleName", "lastName", "salutation", "companyName", "email", "phone", "altPhone",
		"mobilePhone", "homePhone", "fax", "subsidiary", "entityId", "currency", "terms", "category", "comments",
		"isInactive", "addressbook", "priceLevel", "taxable", "url", "defaultAddress", "emailPreference",
		"globalSubscriptionStatus", "language", "title", "parent", "salesRep", "entityStatus", "creditLimit",
		"dateCreated", "lastModifiedDate",
	},
	"salesOrder": {
		"entity", "subsidiary", "tranDate", "otherRefNum", "memo", "location", "currency", "terms", "shipMethod",
		"shippingCost", "orderStatus", "customForm", "email", "discountItem", "discountRate", "isTaxable",
		"toBeEmailed", "tranId", "shippingAddress", "billingAddress", "shipAddress", "billAddress", "shipAddressList",
		"billAddressList", "shippingAddress_text", "billingAddress_text", "item", "department", "class", "salesRep",
		"source", "shipDate", "startDate", "endDate", "exchangeRate", "status", "total", "subtotal", "taxTotal",
		"createdDate", "lastModifiedDate", "shipComplete", "promoCode", "partner", "leadSource", "opportunity",
	},
	"invoice": {
		"entity", "subsidiary", "tranDate", "otherRefNum", "memo", "location", "currency", "terms", "dueDate",
		"shipMethod", "shippingCost", "customForm", "email", "discountItem", "discountRate", "isTaxable",
		"toBeEmailed", "tranId", "createdFrom", "shippingAddress", "billingAddress", "shipAddress", "billAddress",
		"shipAddressList", "billAddressList", "item", "account", "postingPeriod", "department", "class", "salesRep",
		"approvalStatus", "exchangeRate", "status", "total", "subtotal", "taxTotal", "createdDate", "lastModifiedDate",
		"shipDate", "source",
	},
}

var knownLineFields = []string{
	"item", "quantity", "rate", "amount", "price", "taxCode", "description", "location", "units", "isClosed", "line",
	"lineUniqueKey", "itemType", "inventoryDetail", "quantityAvailable", "quantityOnHand", "orderLine", "department",
	"class", "isTaxable", "taxRate1", "grossAmt", "createdFrom",
}

var knownAddressFields = []string{
	"addressee", "attention", "addr1", "addr2", "addr3", "addrPhone", "city", "state", "zip", "country", "override",
	"addrText",
}

var knownAddressbookFields = []string{
	"label", "defaultBilling", "defaultShipping", "isResidential", "addressbookaddress", "addressBookAddress",
	"addressbookaddress_text", "internalId", "id",
}

// readOnlyFields are computed by the simulator; written values are dropped.
var readOnlyFields = map[string]bool{
	"status": true, "total": true, "subtotal": true, "taxTotal": true, "createdDate": true,
	"lastModifiedDate": true, "dateCreated": true,
}

// refFields are reference fields and the record type they point to ("" = not validated).
var refFields = map[string]string{
	"entity": "customer", "subsidiary": "subsidiary", "currency": "currency", "location": "location",
	"createdFrom": "salesOrder", "discountItem": "item", "terms": "", "shipMethod": "", "customForm": "",
	"department": "", "class": "", "salesRep": "", "priceLevel": "", "category": "", "parent": "customer",
	"account": "", "postingPeriod": "", "partner": "", "leadSource": "", "entityStatus": "", "language": "",
	"shipAddressList": "", "billAddressList": "", "promoCode": "", "opportunity": "", "approvalStatus": "",
	// line fields
	"item": "item", "price": "", "taxCode": "", "units": "",
	// address
	"country": "",
}

var customPrefixes = map[string]string{"customer": "custentity_", "salesOrder": "custbody_", "invoice": "custbody_"}

func knownField(list []string, name string) bool {
	for _, f := range list {
		if f == name {
			return true
		}
	}
	return false
}

// checkPropertyNames walks a write body and returns the unknown field paths.
func checkPropertyNames(typ string, body map[string]any) []string {
	var unknown []string
	top := knownFields[typ]
	for _, k := range sortedKeys(body) {
		v := body[k]
		switch {
		case k == "id" || k == "externalId" || k == "links" || k == "refName":
			continue
		case strings.HasPrefix(k, customPrefixes[typ]):
			continue
		case !knownField(top, k):
			unknown = append(unknown, k)
			continue
		}
		switch k {
		case "shippingAddress", "billingAddress":
			unknown = append(unknown, unknownIn(k, v, knownAddressFields, "")...)
		case "item", "addressbook":
			m, _ := v.(map[string]any)
			items, _ := m["items"].([]any)
			fields := knownLineFields
			custom := "custcol_"
			if k == "addressbook" {
				fields, custom = knownAddressbookFields, ""
			}
			for i, line := range items {
				p := k + ".items[" + strconv.Itoa(i) + "]"
				unknown = append(unknown, unknownIn(p, line, fields, custom)...)
				if lm, ok := line.(map[string]any); ok && k == "addressbook" {
					for _, sub := range []string{"addressbookaddress", "addressBookAddress"} {
						if a, ok := lm[sub]; ok {
							unknown = append(unknown, unknownIn(p+"."+sub, a, knownAddressFields, "")...)
						}
					}
				}
			}
		}
	}
	return unknown
}

func unknownIn(path string, v any, known []string, customPrefix string) []string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for _, k := range sortedKeys(m) {
		if k == "links" || k == "refName" || (customPrefix != "" && strings.HasPrefix(k, customPrefix)) {
			continue
		}
		if !knownField(known, k) {
			out = append(out, path+"."+k)
		}
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// propertyValidation applies X-NetSuite-PropertyNameValidation (default
// Warning): Error fails the request, Warning and Ignore drop unknown fields,
// Warning also reports them in a response header.
func propertyValidation(w http.ResponseWriter, r *http.Request, typ string, body map[string]any) *apiError {
	unknown := checkPropertyNames(typ, body)
	if len(unknown) == 0 {
		return nil
	}
	mode := strings.ToLower(strings.TrimSpace(r.Header.Get("X-NetSuite-PropertyNameValidation")))
	if mode == "error" {
		e := &apiError{Status: http.StatusBadRequest}
		for _, p := range unknown {
			e.Details = append(e.Details, ErrorDetail{
				Code:   "NONEXISTENT_FIELD",
				Path:   p,
				Detail: "Invalid field name '" + lastSegment(p) + "' for record type " + typ + ".",
			})
		}
		return e
	}
	for _, p := range unknown {
		dropPath(body, p)
		if mode != "ignore" {
			w.Header().Add("X-NetSuite-Warning", "Unknown field '"+p+"' ignored.")
		}
	}
	return nil
}

func lastSegment(p string) string {
	if i := strings.LastIndex(p, "."); i >= 0 {
		return p[i+1:]
	}
	return p
}

// dropPath deletes a field addressed like "item.items[2].foo" from body.
func dropPath(body map[string]any, p string) {
	segs := strings.Split(p, ".")
	var cur any = body
	for i, seg := range segs {
		idx := -1
		if b := strings.IndexByte(seg, '['); b >= 0 {
			idx, _ = strconv.Atoi(strings.TrimSuffix(seg[b+1:], "]"))
			seg = seg[:b]
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return
		}
		if i == len(segs)-1 {
			delete(m, seg)
			return
		}
		cur = m[seg]
		if idx >= 0 {
			list, ok := cur.([]any)
			if !ok || idx >= len(list) {
				return
			}
			cur = list[idx]
		}
	}
}
