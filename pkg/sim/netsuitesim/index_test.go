package netsuitesim

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// local calls the API in process (no network), for tests that make
// hundreds of calls.
func (e *env) local(method, path string, body any) response {
	e.t.Helper()
	raw := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = string(b)
	}
	req := httptest.NewRequest(method, path, strings.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.s.ServeHTTP(w, req)
	return response{w.Code, w.Header(), w.Body.Bytes()}
}

// scanRows is the reference the record tables are checked against: every
// row rebuilt from the records as they are now, ordered by id, as the
// simulator did on every query before the tables were kept in step.
func scanRows(d *store, table string) []map[string]string {
	var rows []map[string]string
	for typ, tbl := range recordTables {
		if tbl != table {
			continue
		}
		for _, rec := range d.records[typ] {
			rows = append(rows, recordRow(rec))
		}
	}
	sort.Slice(rows, func(i, j int) bool { return lessID(rows[i]["id"], rows[j]["id"]) })
	return rows
}

// scanByExternalID is the linear search byExternalID replaced.
func scanByExternalID(d *store, typ, ext string) *Record {
	for _, rec := range d.records[typ] {
		if rec.ExternalID == ext {
			return rec
		}
	}
	return nil
}

// clientQueries are the record-table queries the clients send (grep
// pkg/netsuite and pkg/writer), then other equality shapes; $v is
// replaced by sample values.
var clientQueries = []string{
	"SELECT id, entityid, email, subsidiary FROM customer WHERE LOWER(email) = LOWER(?) AND id > ? ORDER BY id",
	"SELECT id, externalid FROM transaction WHERE type = 'CustInvc' AND createdfrom = ?",
	"SELECT id, email FROM customer WHERE email = ?",
	"SELECT id FROM customer WHERE UPPER(email) = UPPER(?) ORDER BY subsidiary DESC, id",
	"SELECT id FROM customer WHERE LOWER(email) = ?",
	"SELECT * FROM customer WHERE externalid = ? AND isinactive = 'F'",
	"SELECT c.id FROM customer c WHERE c.subsidiary = ? AND c.isperson = 'T'",
	"SELECT COUNT(*) AS n FROM transaction WHERE entity = ?",
	"SELECT * FROM transaction WHERE otherrefnum = ? ORDER BY id DESC",
	"SELECT id, tranid FROM transaction WHERE memo = ? AND type = 'SalesOrd' AND status <> 'A'",
	"SELECT id FROM transaction WHERE id = ?",
	"SELECT id FROM transaction WHERE createdfrom = ? AND createdfrom = ?",
	"SELECT id FROM transaction WHERE entity IN (?, '1001') AND type = 'CustInvc'",
	"SELECT id FROM customer WHERE phone = ?",
	"SELECT id FROM customer WHERE email IS NULL",
	"SELECT id, email FROM customer",
	"SELECT id, createdfrom FROM transaction WHERE createdfrom IS NOT NULL AND id > ? ORDER BY id",
}

// sampleValues are the values written and queried: e-mails differing in
// case, numbers written several ways (SuiteQL compares numbers by value),
// text that parses as a number, and odd characters.
var sampleValues = []string{
	"ann@example.com", "ANN@Example.com", "bob@example.com", "5001", "05001", "5001.0", "5.001e3", "0", "-0",
	"1e5", "100000", "1001", "x y", "ü@example.com", "Ü@EXAMPLE.COM", "1;DROP", " 5001",
}

// TestRecordTablesMatchFullScan drives random creates, upserts, updates,
// transforms and deletes through the REST API and, after each, checks
// that every client query answers over the kept rows and indexes exactly
// what it answers over a full rebuild of the table, that the kept rows
// are those of the records, and that byExternalID agrees with a scan.
func TestRecordTablesMatchFullScan(t *testing.T) {
	for seed := int64(1); seed <= 2; seed++ {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) {
			e := newEnv(t, Config{})
			rng := rand.New(rand.NewSource(seed))
			pick := func(vs []string) string { return vs[rng.Intn(len(vs))] }
			exts := []string{"c1", "c2", "c3", "so1", "so2", "inv1", "x-9", "A_b"}
			ids := func(typ string) []string {
				e.s.mu.Lock()
				defer e.s.mu.Unlock()
				var out []string
				for id := range e.s.db.records[typ] {
					out = append(out, id)
				}
				sort.Strings(out)
				return out
			}
			rec := "/services/rest/record/v1/"
			for step := range 200 {
				custs, sos, invs := ids("customer"), ids("salesOrder"), ids("invoice")
				switch op := rng.Intn(10); {
				case op < 3 || len(custs) == 0:
					body := map[string]any{"isPerson": true, "firstName": "Ann", "lastName": "Lee", "email": pick(sampleValues),
						"subsidiary": map[string]any{"id": pick([]string{"1", "2", "3"})}, "phone": pick(sampleValues)}
					if rng.Intn(4) == 0 {
						delete(body, "email")
					}
					if rng.Intn(2) == 0 {
						e.local("PUT", rec+"customer/eid:"+pick(exts), body)
					} else {
						if rng.Intn(2) == 0 {
							body["externalId"] = pick(exts)
						}
						e.local("POST", rec+"customer", body)
					}
				case op == 3:
					body := map[string]any{"email": pick(sampleValues), "isInactive": rng.Intn(2) == 0}
					if rng.Intn(3) == 0 {
						body["externalId"] = pick(exts)
					}
					e.local("PATCH", rec+"customer/"+pick(custs), body)
				case op < 6:
					body := orderBody(pick(custs), line("101", 1+rng.Intn(3), "10"))
					body["memo"], body["otherRefNum"] = pick(sampleValues), pick(sampleValues)
					body["orderStatus"] = pick([]string{"A", "B", "B"})
					if rng.Intn(2) == 0 {
						e.local("PUT", rec+"salesOrder/eid:"+pick(exts), body)
					} else {
						e.local("POST", rec+"salesOrder", body)
					}
				case op == 6 && len(sos) > 0:
					var body any
					if rng.Intn(2) == 0 {
						body = map[string]any{"externalId": pick(exts)}
					}
					e.local("POST", rec+"salesOrder/"+pick(sos)+"/!transform/invoice", body)
				case op == 7 && len(sos) > 0:
					e.local("PATCH", rec+"salesOrder/eid:"+pick(exts), map[string]any{"memo": pick(sampleValues)})
				case op == 8:
					typ := pick([]string{"customer", "salesOrder", "invoice"})
					if rng.Intn(2) == 0 {
						e.local("DELETE", rec+typ+"/eid:"+pick(exts), nil)
					} else if all := map[string][]string{"customer": custs, "salesOrder": sos, "invoice": invs}[typ]; len(all) > 0 {
						e.local("DELETE", rec+typ+"/"+pick(all), nil)
					}
				default:
					e.local("PATCH", rec+"invoice/"+pick(append(invs, "1")), map[string]any{"memo": pick(sampleValues)})
				}
				values := append(append([]string(nil), sampleValues...), append(tail(custs, 8), tail(sos, 8)...)...)
				checkRecordTables(t, e.s, step, values, exts, step%20 == 19)
			}
			if n := len(ids("customer")) + len(ids("salesOrder")) + len(ids("invoice")); n < 40 {
				t.Fatalf("only %d records after the walk: the test exercises too little", n)
			}
		})
	}
}

// tail is the last n of ids (the newest, and those queries should find).
func tail(ids []string, n int) []string {
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	return ids[max(len(ids)-n, 0):]
}

func checkRecordTables(t *testing.T, s *Server, step int, values, exts []string, queries bool) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	scans := map[string][]map[string]string{}
	for table, kept := range s.db.ql {
		scans[table] = scanRows(s.db, table)
		if want := scans[table]; !reflect.DeepEqual(kept.all(), want) && len(want)+len(kept.all()) > 0 {
			t.Fatalf("step %d: kept %s rows\n%v\nwant\n%v", step, table, kept.all(), want)
		}
	}
	// The indexes hold exactly the rows' values: a stale entry would not
	// change an answer (match re-checks every condition) but would leak.
	for table, kept := range s.db.ql {
		for c, idx := range kept.eq {
			want := map[string]map[string]bool{}
			for id, row := range kept.rows {
				kept.add(want, c, id, row)
			}
			if !reflect.DeepEqual(idx, want) {
				t.Fatalf("step %d: %s index on %v\n%v\nwant\n%v", step, table, c, idx, want)
			}
		}
	}
	nonEmpty := 0
	for _, typ := range []string{"customer", "salesOrder", "invoice"} {
		for _, ext := range append(exts, "nosuch") {
			if got, want := s.db.byExternalID(typ, ext), scanByExternalID(s.db, typ, ext); got != want {
				t.Fatalf("step %d: byExternalID(%s, %s) = %v, scan %v", step, typ, ext, got, want)
			}
		}
	}
	if !queries {
		return
	}
	for _, text := range clientQueries {
		for k := range values {
			params := make([]string, strings.Count(text, "?"))
			for i := range params {
				params[i] = values[(k+i*(step+3))%len(values)]
			}
			if compareQuery(t, s, text, params, scans) {
				nonEmpty++
			}
		}
	}
	if step > 50 && nonEmpty < 4*len(clientQueries) {
		t.Fatalf("step %d: only %d queries matched anything: the values do not exercise the indexes", step, nonEmpty)
	}
	if step%100 == 99 && testing.Verbose() {
		t.Logf("step %d: %d queries matched something", step, nonEmpty)
	}
}

// compareQuery checks the indexed answer against the full scan (s.mu
// held; scans are the tables' scanRows) and reports whether it is
// non-empty.
func compareQuery(t *testing.T, s *Server, text string, params []string, scans map[string][]map[string]string) bool {
	t.Helper()
	q, e := parseSuiteQL(text, params)
	if e != nil {
		t.Fatalf("%s %q: %v", text, params, e.Details)
	}
	fast := q.match(s.db.ql[q.table].candidates(q), -1)
	slow := q.match(scans[q.table], -1)
	if !reflect.DeepEqual(fast, slow) && len(fast)+len(slow) > 0 {
		t.Fatalf("%s %q:\nindexed %v\nscan    %v", text, params, fast, slow)
	}
	return len(slow) > 0 && (q.count == "" || slow[0][q.count] != "0")
}

// TestSuiteQLCustomerByEmailOverHTTP checks the writer's look-up end to
// end after updates moved customers between e-mails and one was deleted.
func TestSuiteQLCustomerByEmailOverHTTP(t *testing.T) {
	e := newEnv(t, Config{})
	a := e.createCustomer("a1", "2")
	b := e.createCustomer("b1", "3")
	c := e.createCustomer("c1", "2")
	rec := "/services/rest/record/v1/customer/"
	e.mustStatus(e.do("PATCH", rec+b, map[string]any{"email": "A1@Example.com"}), http.StatusNoContent)
	e.mustStatus(e.do("PATCH", rec+c, map[string]any{"email": "a1@example.COM"}), http.StatusNoContent)
	e.mustStatus(e.do("DELETE", rec+"eid:c1", nil), http.StatusNoContent)
	q := "SELECT id, entityid, email, subsidiary FROM customer WHERE LOWER(email) = LOWER(?) AND id > ? ORDER BY id"
	got := e.mustStatus(e.suiteql(1000, 0, q, "a1@EXAMPLE.com", "0"), http.StatusOK).json(t)
	var rows []string
	for _, it := range got["items"].([]any) {
		m := it.(map[string]any)
		rows = append(rows, fmt.Sprint(m["id"], " ", m["email"], " ", m["subsidiary"]))
	}
	if want := []string{a + " a1@example.com 2", b + " A1@Example.com 3"}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	// The moved customer is no longer found under its old e-mail, nor the
	// deleted one by its externalId.
	if n := e.mustStatus(e.suiteql(1000, 0, q, "b1@example.com", "0"), http.StatusOK).json(t)["count"]; n != float64(0) {
		t.Fatalf("old e-mail still matches %v", n)
	}
	e.mustStatus(e.do("GET", rec+"eid:c1", nil), http.StatusNotFound)
	// An externalId moved by PATCH is found under the new one only.
	e.mustStatus(e.do("PATCH", rec+a, map[string]any{"externalId": "a2"}), http.StatusNoContent)
	e.mustStatus(e.do("GET", rec+"eid:a1", nil), http.StatusNotFound)
	if got := e.mustStatus(e.do("GET", rec+"eid:a2?fields=id", nil), http.StatusOK).json(t)["id"]; got != a {
		t.Fatalf("eid:a2 is %v, want %s", got, a)
	}
	// Reset forgets the indexes with the records.
	e.s.Reset()
	if got := len(e.s.Records("customer")); got != 0 {
		t.Fatalf("%d customers after reset", got)
	}
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	if e.s.db.byExternalID("customer", "a2") != nil || len(e.s.db.ql["customer"].all()) != 0 {
		t.Fatal("indexes survived Reset")
	}
}

// FuzzEqKey checks that eqKey classes are exactly compareValues equality,
// which the indexes rely on.
func FuzzEqKey(f *testing.F) {
	for i, a := range sampleValues {
		f.Add(a, sampleValues[(i+3)%len(sampleValues)])
	}
	for _, p := range [][2]string{
		{"5", "5.0"}, {"5", "05"}, {"-0", "0.000"}, {"1e2", "100"}, {"1.50", "15e-1"}, {"abc", "ABC"}, {"", "0"},
		{"9223372036854775807", "9223372036854775807.0"}, {"123456789012345678901234567890", "1.2345678901234567890123456789e29"},
		{"1e-3", "0.001"}, {"-5", "-5.00"}, {".5", "0.5"}, {"+5", "5"}, {"5.", "5"}, {"1E2", "1e2"},
		{".", "0"}, {"-", "0"}, {"+", "0"}, {"e", "0"}, {"-.", "-0"}, {"", ""}, {"0e0", "-0.0"}, {"500", "5e2"}, {"-500", "-5E+2"},
	} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if hugeExponent(a) || hugeExponent(b) {
			t.Skip("compareValues would write the number out") // not eqKey's concern
		}
		for _, v := range []string{a, b} {
			if _, err := decimal.NewFromString(v); err == nil && !strings.ContainsAny(v, "0123456789") {
				t.Fatalf("%q is a number without a digit: parseDecimal would miss it", v)
			}
		}
		if eq, same := compareValues(a, b) == 0, eqKey(a) == eqKey(b); eq != same {
			t.Fatalf("compareValues(%q, %q) == 0 is %v, eqKey equal is %v (%q, %q)", a, b, eq, same, eqKey(a), eqKey(b))
		}
	})
}

// hugeExponent spots numbers that compareValues (decimal.Cmp) would
// write out in full: slow, and not what the indexes are tested for.
func hugeExponent(s string) bool {
	d, err := decimal.NewFromString(s)
	return err == nil && (d.Exponent() > 10000 || d.Exponent() < -10000)
}

// FuzzSuiteQLIndexed checks indexed answers against the full scan for any
// query the parser accepts, seeded with the clients' queries, over a fixed
// set of customers and transactions.
func FuzzSuiteQLIndexed(f *testing.F) {
	for i, q := range clientQueries {
		f.Add(q, sampleValues[i%len(sampleValues)], "0")
	}
	e := newEnv(f, Config{})
	rec := "/services/rest/record/v1/"
	for i, v := range sampleValues {
		body := map[string]any{"isPerson": true, "firstName": "Ann", "lastName": "Lee", "email": v, "phone": sampleValues[(i+5)%len(sampleValues)],
			"subsidiary": map[string]any{"id": strconv.Itoa(1 + i%3)}}
		e.mustStatus(e.local("PUT", rec+"customer/eid:c"+strconv.Itoa(i), body), http.StatusNoContent)
		so := orderBody(strconv.Itoa(1000+i), line("101", 1, "10"))
		so["memo"], so["otherRefNum"] = v, sampleValues[(i+1)%len(sampleValues)]
		e.mustStatus(e.local("PUT", rec+"salesOrder/eid:so"+strconv.Itoa(i), so), http.StatusNoContent)
		if i%2 == 0 {
			e.mustStatus(e.local("POST", rec+"salesOrder/eid:so"+strconv.Itoa(i)+"/!transform/invoice", nil), http.StatusNoContent)
		}
	}
	f.Fuzz(func(t *testing.T, text, p1, p2 string) {
		params := []string{p1, p2}[:min(strings.Count(text, "?"), 2)]
		q, apiErr := parseSuiteQL(text, params)
		if apiErr != nil || (q.table != "customer" && q.table != "transaction") {
			return
		}
		for _, v := range q.vals {
			if hugeExponent(v) {
				t.Skip()
			}
		}
		e.s.mu.Lock()
		defer e.s.mu.Unlock()
		compareQuery(t, e.s, text, params, map[string][]map[string]string{q.table: scanRows(e.s.db, q.table)})
	})
}

// TestRequestLogKeepsNewest checks the log as a ring: the newest
// MaxRequestLog entries, oldest first, across wrap-arounds and a Reset.
func TestRequestLogKeepsNewest(t *testing.T) {
	e := newEnv(t, Config{MaxRequestLog: 3})
	paths := func() []string {
		var out []string
		for _, r := range e.s.Requests() {
			out = append(out, r.Path+"?"+r.Query)
		}
		return out
	}
	for i := range 8 {
		e.local("GET", rec+"customer/"+strconv.Itoa(i)+"?n="+strconv.Itoa(i), nil)
		var want []string
		for j := max(i-2, 0); j <= i; j++ {
			want = append(want, rec+"customer/"+strconv.Itoa(j)+"?n="+strconv.Itoa(j))
		}
		if i < 2 {
			want = append([]string{tokenPath + "?"}, want...) // the token request is logged too
		}
		if got := paths(); !reflect.DeepEqual(got, want) {
			t.Fatalf("after %d calls: %q, want %q", i+1, got, want)
		}
	}
	if got := e.s.Requests()[2].Status; got != http.StatusNotFound {
		t.Fatalf("status of the newest entry %d", got)
	}
	e.s.Reset()
	if got := paths(); len(got) != 0 {
		t.Fatalf("after reset %q", got)
	}
	e.local("GET", rec+"customer/1", nil)
	if got := paths(); len(got) != 1 {
		t.Fatalf("after reset and a call %q", got)
	}
}

// TestLineRateFromBasePrice checks that a line without a rate is priced at
// the item's base price in the order's currency, as set last.
func TestLineRateFromBasePrice(t *testing.T) {
	e := newEnv(t, Config{})
	e.s.AddItem(Item{ID: "900", ItemID: "X-1"})
	e.s.SetPrice("900", "1", "1", decimal.RequireFromString("4.50"))
	e.s.SetPrice("900", "1", "1", decimal.RequireFromString("5.25"))
	e.s.SetPrice("900", "2", "1", decimal.RequireFromString("1"))   // another level
	e.s.SetPrice("900", "1", "2", decimal.RequireFromString("3.1")) // another currency
	cust := e.createCustomer("c1", "")
	noRate := func(item string, qty int) map[string]any {
		return map[string]any{"item": map[string]any{"id": item}, "quantity": qty}
	}
	for _, tc := range []struct {
		currency, item, rate, total string
	}{
		{"", "900", "5.25", "10.5"}, {"1", "900", "5.25", "10.5"}, {"2", "900", "3.1", "6.2"}, {"2", "102", "", "0"},
	} {
		body := orderBody(cust, noRate(tc.item, 2))
		if tc.currency != "" {
			body["currency"] = map[string]any{"id": tc.currency}
		}
		loc := e.mustStatus(e.local("POST", rec+"salesOrder", body), http.StatusNoContent).header.Get("Location")
		got := e.mustStatus(e.local("GET", rec+"salesOrder/"+loc[strings.LastIndex(loc, "/")+1:]+"?expandSubResources=true", nil), http.StatusOK).json(t)
		l := got["item"].(map[string]any)["items"].([]any)[0].(map[string]any)
		if fmt.Sprint(l["rate"]) != tc.rate && !(tc.rate == "" && l["rate"] == nil) || fmt.Sprint(got["total"]) != tc.total {
			t.Errorf("currency %q item %s: rate %v total %v, want %s %s", tc.currency, tc.item, l["rate"], got["total"], tc.rate, tc.total)
		}
	}
}
