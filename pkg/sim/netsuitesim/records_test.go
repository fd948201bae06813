package netsuitesim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const rec = "/services/rest/record/v1/"

func TestCreateGetAndLocation(t *testing.T) {
	e := newEnv(t, Config{})
	r := e.mustStatus(e.do("POST", rec+"customer", map[string]any{
		"externalId": "mlc-cust-default-1", "isPerson": true, "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com",
		"subsidiary": map[string]any{"id": "2"},
	}), http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("204 with body %q", r.body)
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, e.s.URL()+rec+"customer/") {
		t.Fatalf("Location %q", loc)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	got := e.mustStatus(e.do("GET", rec+"customer/"+id, nil), http.StatusOK)
	if ct := got.header.Get("Content-Type"); ct != mediaSingular {
		t.Fatalf("content type %q", ct)
	}
	m := got.json(t)
	sub := m["subsidiary"].(map[string]any)
	if sub["id"] != "2" || sub["refName"] != "US Store" || sub["links"] == nil {
		t.Fatalf("subsidiary ref %v", sub)
	}
	if m["externalId"] != "mlc-cust-default-1" || m["email"] != "ann@example.com" {
		t.Fatalf("body %v", m)
	}
	byEID := e.mustStatus(e.do("GET", rec+"customer/eid:mlc-cust-default-1?fields=email", nil), http.StatusOK).json(t)
	if byEID["id"] != id || byEID["email"] != "ann@example.com" || byEID["firstName"] != nil {
		t.Fatalf("fields= not honoured: %v", byEID)
	}
	nf := e.mustStatus(e.do("GET", rec+"customer/eid:missing", nil), http.StatusNotFound)
	if nf.errorCode(t) != "NONEXISTENT_ID" || nf.errorDetail(t)["detail"] != "Record does not exist." {
		t.Fatalf("404 body %s", nf.body)
	}
	if ct := nf.header.Get("Content-Type"); ct != mediaError {
		t.Fatalf("error content type %q", ct)
	}
	bad := e.mustStatus(e.do("GET", rec+"customer/eid:a.b", nil), http.StatusBadRequest)
	if bad.errorCode(t) != "INVALID_PARAMETER" {
		t.Fatalf("eid charset: %s", bad.body)
	}
	e.mustStatus(e.do("PUT", rec+"customer/eid:has%7Cpipe", map[string]any{"companyName": "X"}), http.StatusBadRequest)
	e.mustStatus(e.do("POST", rec+"customer", map[string]any{"externalId": "has space", "companyName": "X"}), http.StatusBadRequest)
	// PATCH sets Location, null clears.
	p := e.mustStatus(e.do("PATCH", rec+"customer/"+id, map[string]any{"phone": "555", "email": nil}), http.StatusNoContent)
	if p.header.Get("Location") != loc {
		t.Fatalf("PATCH Location %q", p.header.Get("Location"))
	}
	after := e.mustStatus(e.do("GET", rec+"customer/"+id, nil), http.StatusOK).json(t)
	if after["phone"] != "555" || after["email"] != nil || after["firstName"] != "Ann" {
		t.Fatalf("after patch %v", after)
	}
	// Writes need JSON.
	e.mustStatus(e.do("POST", rec+"customer", "companyName=x", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
	e.mustStatus(e.do("POST", rec+"customer", "{not json"), http.StatusBadRequest)
}

func TestPostDuplicateExternalIDRejected(t *testing.T) {
	e := newEnv(t, Config{})
	body := map[string]any{"externalId": "mlc-cust-x-1", "companyName": "Acme"}
	e.mustStatus(e.do("POST", rec+"customer", body), http.StatusNoContent)
	r := e.mustStatus(e.do("POST", rec+"customer", body), http.StatusBadRequest)
	if len(r.json(t)["o:errorDetails"].([]any)) == 0 {
		t.Fatalf("no o:errorDetails: %s", r.body)
	}
	if n := len(e.s.Records("customer")); n != 1 {
		t.Fatalf("%d customers", n)
	}
	if d := e.s.Stats().DuplicateExternalIDs; len(d) != 1 || d[0] != "customer/mlc-cust-x-1" {
		t.Fatalf("DuplicateExternalIDs %v", d)
	}
	// Upsert never duplicates.
	e.mustStatus(e.do("PUT", rec+"customer/eid:mlc-cust-x-1", map[string]any{"companyName": "Acme 2"}), http.StatusNoContent)
	if recs := e.s.Records("customer"); len(recs) != 1 || recs[0].Fields["companyName"] != "Acme 2" {
		t.Fatalf("records %+v", recs)
	}
}

func TestUpsertAppendsLinesUnlessReplace(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("mlc-cust-d-1", "")
	body := orderBody(cust, line("101", 2, "32"), line("104", 1, "45"))
	for i := 0; i < 2; i++ {
		r := e.mustStatus(e.do("PUT", rec+"salesOrder/eid:mlc-so-d-1", body), http.StatusNoContent)
		if r.header.Get("Location") != "" {
			t.Fatal("PUT upsert must not set Location by default")
		}
	}
	sos := e.s.Records("salesOrder")
	if len(sos) != 1 {
		t.Fatalf("%d orders", len(sos))
	}
	if n := len(sublistItems(sos[0].Fields["item"])); n != 4 {
		t.Fatalf("retried upsert without replace=item: %d lines, want 4 (hazard)", n)
	}
	for i := 0; i < 2; i++ {
		e.mustStatus(e.do("PUT", rec+"salesOrder/eid:mlc-so-d-2?replace=item", body), http.StatusNoContent)
	}
	so := e.mustStatus(e.do("GET", rec+"salesOrder/eid:mlc-so-d-2?expandSubResources=true", nil), http.StatusOK).json(t)
	items := so["item"].(map[string]any)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("with replace=item: %d lines, want 2", len(items))
	}
	first := items[0].(map[string]any)
	if ref := first["item"].(map[string]any); ref["id"] != "101" || ref["refName"] != "MS09-M-Red" {
		t.Fatalf("line item ref %v", ref)
	}
	if so["total"] != float64(109) {
		t.Fatalf("total %v", so["total"])
	}
	// The existence check of ref §4.3 step 1.
	check := e.mustStatus(e.do("GET", rec+"salesOrder/eid:mlc-so-d-2?fields=id,status", nil), http.StatusOK).json(t)
	if check["id"] == nil || check["status"] != "Pending Fulfillment" || check["entity"] != nil {
		t.Fatalf("fields=id,status: %v", check)
	}
	// PATCH with a keyed line updates in place.
	e.mustStatus(e.do("PATCH", rec+"salesOrder/eid:mlc-so-d-2", map[string]any{
		"item": map[string]any{"items": []any{map[string]any{"line": first["line"], "quantity": 5}}},
	}), http.StatusNoContent)
	so = e.mustStatus(e.do("GET", rec+"salesOrder/eid:mlc-so-d-2?expandSubResources=true", nil), http.StatusOK).json(t)
	items = so["item"].(map[string]any)["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["quantity"] != float64(5) {
		t.Fatalf("keyed PATCH: %v", items)
	}
	// UpsertSetsLocation switch.
	e2 := newEnv(t, Config{UpsertSetsLocation: true})
	c2 := e2.createCustomer("c", "")
	r := e2.mustStatus(e2.do("PUT", rec+"salesOrder/eid:so", orderBody(c2, line("101", 1, "1"))), http.StatusNoContent)
	if !strings.Contains(r.header.Get("Location"), "/salesOrder/") {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
}

func TestUpsertRules(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	body := orderBody(cust, line("101", 1, "1"))
	body["id"] = "5"
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", body), http.StatusBadRequest)
	delete(body, "id")
	body["externalId"] = "other"
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", body), http.StatusBadRequest)
	delete(body, "externalId")
	e.mustStatus(e.do("PUT", rec+"salesOrder/5000", body), http.StatusMethodNotAllowed)
	e.mustStatus(e.do("PATCH", rec+"salesOrder/eid:nope", body), http.StatusNotFound)
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", body), http.StatusNoContent)
}

func TestInvalidReferences(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	r := e.mustStatus(e.do("POST", rec+"salesOrder", orderBody(cust, line("101", 1, "1"), line("9999", 1, "1"))), http.StatusBadRequest)
	d := r.errorDetail(t)
	if d["o:errorCode"] != "INVALID_CONTENT" || d["o:errorPath"] != "item.items[1].item" ||
		d["detail"] != "Error while accessing resource: You have entered an Invalid Field Value 9999 for the following field: item" {
		t.Fatalf("detail %v", d)
	}
	r = e.mustStatus(e.do("POST", rec+"salesOrder", orderBody("424242", line("101", 1, "1"))), http.StatusBadRequest)
	if d := r.errorDetail(t); d["o:errorPath"] != "entity" || d["o:errorCode"] != "INVALID_CONTENT" {
		t.Fatalf("entity detail %v", d)
	}
	// References by externalId resolve like ids.
	e.s.AddItem(Item{ID: "900", ItemID: "EXT-SKU", ExternalID: "item-ext-1"})
	b := orderBody(cust)
	b["entity"] = map[string]any{"externalId": "c1"}
	b["item"] = map[string]any{"items": []any{map[string]any{"item": map[string]any{"externalId": "item-ext-1"}, "quantity": 1}}}
	e.mustStatus(e.do("POST", rec+"salesOrder", b), http.StatusNoContent)
	// Inactive items cannot be sold.
	e.s.AddItem(Item{ID: "901", ItemID: "OLD", Inactive: true})
	e.mustStatus(e.do("POST", rec+"salesOrder", orderBody(cust, line("901", 1, "1"))), http.StatusBadRequest)
	// No lines.
	e.mustStatus(e.do("POST", rec+"salesOrder", orderBody(cust)), http.StatusBadRequest)
	// Bad value syntax.
	bad := orderBody(cust, line("101", 1, "1"))
	bad["tranDate"] = "1/5/2024"
	e.mustStatus(e.do("POST", rec+"salesOrder", bad), http.StatusBadRequest)
}

func TestOneWorld(t *testing.T) {
	e := newEnv(t, Config{OneWorld: true})
	r := e.mustStatus(e.do("POST", rec+"customer", map[string]any{"companyName": "Acme"}), http.StatusBadRequest)
	if r.errorDetail(t)["o:errorPath"] != "subsidiary" {
		t.Fatalf("%s", r.body)
	}
	e.mustStatus(e.do("PUT", rec+"customer/eid:c-none", map[string]any{"companyName": "Acme"}), http.StatusBadRequest)
	uk := e.createCustomer("c-uk", "3")
	us := e.createCustomer("c-us", "2")
	e.s.AddItem(Item{ID: "500", ItemID: "US-ONLY", Subsidiaries: []string{"2"}})
	r = e.mustStatus(e.do("POST", rec+"salesOrder", orderBody(uk, line("500", 1, "1"))), http.StatusBadRequest)
	if r.errorDetail(t)["o:errorPath"] != "item.items[0].item" {
		t.Fatalf("%s", r.body)
	}
	e.mustStatus(e.do("POST", rec+"salesOrder", orderBody(us, line("500", 1, "1"))), http.StatusNoContent)
	// Subsidiary defaults from the customer; a different one is refused.
	so := e.s.Records("salesOrder")[0]
	if refID(so.Fields["subsidiary"]) != "2" {
		t.Fatalf("subsidiary %v", so.Fields["subsidiary"])
	}
	b := orderBody(us, line("101", 1, "1"))
	b["subsidiary"] = map[string]any{"id": "3"}
	e.mustStatus(e.do("POST", rec+"salesOrder", b), http.StatusBadRequest)
	// Location of another subsidiary.
	b = orderBody(us, line("101", 1, "1"))
	b["location"] = map[string]any{"id": "2"}
	e.mustStatus(e.do("POST", rec+"salesOrder", b), http.StatusBadRequest)
}

func TestPropertyNameValidation(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	body := orderBody(cust, line("101", 1, "1"))
	body["bogusField"] = "x"
	body["custbody_mlc_source"] = "web"
	r := e.mustStatus(e.do("POST", rec+"salesOrder", body, "X-NetSuite-PropertyNameValidation", "Error"), http.StatusBadRequest)
	if r.errorCode(t) != "NONEXISTENT_FIELD" || r.errorDetail(t)["o:errorPath"] != "bogusField" {
		t.Fatalf("%s", r.body)
	}
	delete(body, "bogusField")
	body["item"].(map[string]any)["items"].([]any)[0].(map[string]any)["qty"] = 1
	r = e.mustStatus(e.do("POST", rec+"salesOrder", body, "X-NetSuite-PropertyNameValidation", "Error"), http.StatusBadRequest)
	if r.errorDetail(t)["o:errorPath"] != "item.items[0].qty" {
		t.Fatalf("%s", r.body)
	}
	// Default (Warning) drops unknown fields and says so in a header.
	body["bogusField"] = "x"
	r = e.mustStatus(e.do("POST", rec+"salesOrder", body), http.StatusNoContent)
	if r.header.Get("X-NetSuite-Warning") == "" {
		t.Fatal("no warning header")
	}
	so := e.s.Records("salesOrder")[0]
	if _, ok := so.Fields["bogusField"]; ok {
		t.Fatal("unknown field stored")
	}
	if so.Fields["custbody_mlc_source"] != "web" {
		t.Fatal("custom field lost")
	}
}

func TestGetRendering(t *testing.T) {
	e := newEnv(t, Config{EnumsAsObjects: true})
	cust := e.createCustomer("c1", "2")
	b := orderBody(cust, line("101", 2, "32"))
	b["shippingAddress"] = map[string]any{"addressee": "Ann", "country": map[string]any{"id": "US"}}
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", b), http.StatusNoContent)
	so := e.mustStatus(e.do("GET", rec+"salesOrder/eid:so1", nil), http.StatusOK).json(t)
	item := so["item"].(map[string]any)
	if _, ok := item["items"]; ok || item["links"] == nil {
		t.Fatalf("sublist not link-only: %v", item)
	}
	if sa := so["shippingAddress"].(map[string]any); sa["addressee"] != nil {
		t.Fatalf("subrecord not link-only: %v", sa)
	}
	if st := so["orderStatus"].(map[string]any); st["id"] != "B" {
		t.Fatalf("orderStatus %v", so["orderStatus"])
	}
	if ent := so["entity"].(map[string]any); ent["id"] != cust || ent["refName"] != "Ann Lee" {
		t.Fatalf("entity %v", ent)
	}
	simple := e.mustStatus(e.do("GET", rec+"salesOrder/eid:so1?simpleEnumFormat=true&expandSubResources=true", nil), http.StatusOK).json(t)
	if simple["orderStatus"] != "B" || simple["shippingAddress"].(map[string]any)["addressee"] != "Ann" {
		t.Fatalf("simple %v", simple)
	}
	sub := e.mustStatus(e.do("GET", rec+"salesOrder/eid:so1/item", nil), http.StatusOK).json(t)
	if len(sub["items"].([]any)) != 1 {
		t.Fatalf("sublist %v", sub)
	}
	it := e.mustStatus(e.do("GET", rec+"inventoryItem/101", nil), http.StatusOK).json(t)
	if it["itemId"] != "MS09-M-Red" {
		t.Fatalf("item %v", it)
	}
	e.mustStatus(e.do("GET", rec+"otherChargeSaleItem/201", nil), http.StatusOK)
	e.mustStatus(e.do("GET", rec+"discountItem/202", nil), http.StatusOK)
	e.mustStatus(e.do("GET", rec+"kitItem/110", nil), http.StatusOK)
	e.mustStatus(e.do("GET", rec+"inventoryItem/110", nil), http.StatusNotFound)
	e.mustStatus(e.do("POST", rec+"inventoryItem", map[string]any{"itemId": "x"}), http.StatusMethodNotAllowed)
	e.mustStatus(e.do("GET", rec+"noSuchType/1", nil), http.StatusNotFound)
}

func TestListWithQuery(t *testing.T) {
	e := newEnv(t, Config{})
	id1 := e.createCustomer("c1", "")
	e.createCustomer("c2", "")
	l := e.mustStatus(e.do("GET", rec+`customer?q=email+IS+"C1@example.com"`, nil), http.StatusOK)
	if l.header.Get("Content-Type") != mediaCollection {
		t.Fatal(l.header.Get("Content-Type"))
	}
	m := l.json(t)
	items := m["items"].([]any)
	if m["totalResults"] != float64(1) || len(items) != 1 || items[0].(map[string]any)["id"] != id1 || m["hasMore"] != false {
		t.Fatalf("list %v", m)
	}
	m = e.mustStatus(e.do("GET", rec+`customer?q=externalId+IS+"c2"`, nil), http.StatusOK).json(t)
	if m["count"] != float64(1) {
		t.Fatalf("by externalId %v", m)
	}
	m = e.mustStatus(e.do("GET", rec+"customer?limit=1&offset=1", nil), http.StatusOK).json(t)
	if m["count"] != float64(1) || m["totalResults"] != float64(2) || m["hasMore"] != false {
		t.Fatalf("paged %v", m)
	}
	e.mustStatus(e.do("GET", rec+`customer?q=email+LIKES+"x"`, nil), http.StatusBadRequest)
}

func TestTransformCreatesNewInvoiceEachCall(t *testing.T) {
	e := newEnv(t, Config{})
	cust := e.createCustomer("c1", "")
	e.mustStatus(e.do("PUT", rec+"salesOrder/eid:so1", orderBody(cust, line("101", 3, "32"), line("104", 1, "45"))), http.StatusNoContent)
	soID := e.mustStatus(e.do("GET", rec+"salesOrder/eid:so1", nil), http.StatusOK).json(t)["id"].(string)
	r1 := e.mustStatus(e.do("POST", rec+"salesOrder/"+soID+"/!transform/invoice", map[string]any{
		"externalId": "mlc-inv-d-1", "tranDate": "2024-05-02",
		"item": map[string]any{"items": []any{map[string]any{"orderLine": 1, "quantity": 2}, map[string]any{"orderLine": 2, "quantity": 0}}},
	}), http.StatusNoContent)
	r2 := e.mustStatus(e.do("POST", rec+"salesOrder/"+soID+"/!transform/invoice", nil), http.StatusNoContent)
	l1, l2 := r1.header.Get("Location"), r2.header.Get("Location")
	if l1 == "" || l1 == l2 || !strings.Contains(l1, "/invoice/") {
		t.Fatalf("locations %q %q", l1, l2)
	}
	invs := e.s.Records("invoice")
	if len(invs) != 2 {
		t.Fatalf("%d invoices, want 2 (transform is not idempotent)", len(invs))
	}
	inv := e.mustStatus(e.do("GET", rec+"invoice/eid:mlc-inv-d-1?expandSubResources=true", nil), http.StatusOK).json(t)
	if cf := inv["createdFrom"].(map[string]any); cf["id"] != soID {
		t.Fatalf("createdFrom %v", cf)
	}
	lines := inv["item"].(map[string]any)["items"].([]any)
	if len(lines) != 1 || lines[0].(map[string]any)["quantity"] != float64(2) || inv["tranDate"] != "2024-05-02" {
		t.Fatalf("invoice %v", inv)
	}
	// The same externalId again is a duplicate.
	e.mustStatus(e.do("POST", rec+"salesOrder/"+soID+"/!transform/invoice", map[string]any{"externalId": "mlc-inv-d-1"}), http.StatusBadRequest)
	// Pending approval orders cannot be billed.
	b := orderBody(cust, line("101", 1, "1"))
	b["orderStatus"] = "A"
	loc := e.mustStatus(e.do("POST", rec+"salesOrder", b), http.StatusNoContent).header.Get("Location")
	e.mustStatus(e.do("POST", rec+"salesOrder/"+loc[strings.LastIndex(loc, "/")+1:]+"/!transform/invoice", nil), http.StatusBadRequest)
	e.mustStatus(e.do("POST", rec+"salesOrder/424242/!transform/invoice", nil), http.StatusNotFound)
	// Over-billing a line is refused.
	e.mustStatus(e.do("POST", rec+"salesOrder/"+soID+"/!transform/invoice", map[string]any{
		"item": map[string]any{"items": []any{map[string]any{"orderLine": 1, "quantity": 9}}},
	}), http.StatusBadRequest)
	var n json.Number = "2"
	if len(e.s.Records("invoice")) != int(must(n.Int64())) {
		t.Fatal("failed transforms created invoices")
	}
}

func must(n int64, err error) int64 {
	if err != nil {
		panic(err)
	}
	return n
}

func TestDeleteAndReadOnlyViews(t *testing.T) {
	e := newEnv(t, Config{})
	id := e.createCustomer("c-del", "")
	e.mustStatus(e.do("DELETE", rec+"customer/"+id, nil), http.StatusNoContent)
	e.mustStatus(e.do("GET", rec+"customer/"+id, nil), http.StatusNotFound)
	e.mustStatus(e.do("DELETE", rec+"customer/eid:c-del", nil), http.StatusNotFound)
	e.mustStatus(e.do("DELETE", rec+"inventoryItem/101", nil), http.StatusMethodNotAllowed)
	sub := e.mustStatus(e.do("GET", rec+"subsidiary/3", nil), http.StatusOK).json(t)
	if sub["name"] != "UK Store" {
		t.Fatalf("%v", sub)
	}
	if n := len(e.s.Records("location")); n != 2 {
		t.Fatalf("%d locations", n)
	}
	if got := e.s.Records("nope"); got != nil {
		t.Fatalf("%v", got)
	}
}
