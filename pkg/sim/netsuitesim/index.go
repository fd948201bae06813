package netsuitesim

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// The record tables (customer, transaction) change on every write, so a
// version-keyed cache like the catalogue's would be rebuilt per order. They
// are kept in step with the records instead: each record's SuiteQL row is
// built when the record is written, and equality indexes, made the first
// time a query filters "col = value" and maintained on every write after,
// narrow a query to the rows that can match. That keeps the writer's
// per-order look-ups (a customer by e-mail, the invoices of a sales order,
// a record by externalId) independent of how many records the account holds.

// recordTables maps a writable record type to its SuiteQL table.
var recordTables = map[string]string{"customer": "customer", "salesOrder": "transaction", "invoice": "transaction"}

// transactionTypes are the SuiteQL type codes of the transaction table.
var transactionTypes = map[string]string{"salesOrder": "SalesOrd", "invoice": "CustInvc"}

// qlTable is a record table's SuiteQL rows. Rows are never modified once
// built (a write replaces the record's row), so queries may read them
// after the lock is released.
type qlTable struct {
	rows    map[string]map[string]string // record id -> row
	ordered []map[string]string          // rows by id; nil when a write made it stale
	eq      map[qlEqCol]map[string]map[string]bool
}

// qlEqCol is an indexed column as a condition sees it: LOWER(email) is
// {email, LOWER}.
type qlEqCol struct{ col, fn string }

// qlEq is a "col = value" condition of a query, value as an eqKey.
type qlEq struct {
	qlEqCol
	key string
}

func newQLTable() *qlTable {
	return &qlTable{rows: map[string]map[string]string{}, eq: map[qlEqCol]map[string]map[string]bool{}}
}

// put replaces the row of record id (nil row: the record is gone).
func (t *qlTable) put(id string, row map[string]string) {
	if old, ok := t.rows[id]; ok {
		for c, idx := range t.eq {
			if v, has := old[c.col]; has {
				k := eqKey(applyFn(c.fn, v))
				delete(idx[k], id)
				if len(idx[k]) == 0 {
					delete(idx, k)
				}
			}
		}
		delete(t.rows, id)
	}
	t.ordered = nil
	if row == nil {
		return
	}
	t.rows[id] = row
	for c, idx := range t.eq {
		t.add(idx, c, id, row)
	}
}

func (t *qlTable) add(idx map[string]map[string]bool, c qlEqCol, id string, row map[string]string) {
	v, has := row[c.col]
	if !has {
		return // a null never equals anything
	}
	k := eqKey(applyFn(c.fn, v))
	if idx[k] == nil {
		idx[k] = map[string]bool{}
	}
	idx[k][id] = true
}

// all is every row ordered by id, the order tableRowsLocked gives.
func (t *qlTable) all() []map[string]string {
	if t.ordered == nil {
		ids := make([]string, 0, len(t.rows))
		for id := range t.rows {
			ids = append(ids, id)
		}
		t.ordered = t.byID(ids)
	}
	return t.ordered
}

func (t *qlTable) byID(ids []string) []map[string]string {
	sort.Slice(ids, func(i, j int) bool { return lessID(ids[i], ids[j]) })
	rows := make([]map[string]string, len(ids))
	for i, id := range ids {
		rows[i] = t.rows[id]
	}
	return rows
}

// candidates are the rows q can match, ordered by id: those its most
// selective equality condition selects, or every row. q.match over them
// gives what it gives over the whole table, as it only filters and
// (stably) sorts.
func (t *qlTable) candidates(q *qlQuery) []map[string]string {
	var best map[string]bool
	found := false
	for _, c := range q.eqs {
		idx, ok := t.eq[c.qlEqCol]
		if !ok {
			idx = map[string]map[string]bool{}
			for id, row := range t.rows {
				t.add(idx, c.qlEqCol, id, row)
			}
			t.eq[c.qlEqCol] = idx
		}
		if ids := idx[c.key]; !found || len(ids) < len(best) {
			best, found = ids, true
		}
	}
	if !found {
		return t.all()
	}
	ids := make([]string, 0, len(best))
	for id := range best {
		ids = append(ids, id)
	}
	return t.byID(ids)
}

// eqKey names v's class under compareValues equality: whatever
// decimal.NewFromString parses compares by value (so "5", "05", "5.0" and
// "0.5e1" share a key), anything else by its text. The key is the
// coefficient without trailing zeros and the exponent, never the number
// written out, which for "1e99999999" would be huge.
func eqKey(v string) string {
	var digits string
	var exp int64
	if n, ok := plainInt(v); ok {
		digits = strconv.FormatInt(n, 10)
	} else if d, ok := parseDecimal(v); ok {
		digits, exp = d.Coefficient().String(), int64(d.Exponent())
	} else {
		return "s" + v
	}
	if digits == "0" {
		return "n0"
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	return "n" + trimmed + "e" + strconv.FormatInt(exp, 10)
}

// parseDecimal is decimal.NewFromString without its cost (an error built
// with fmt) for text with no digit, which is never a number.
func parseDecimal(v string) (decimal.Decimal, bool) {
	if !strings.ContainsAny(v, "0123456789") {
		return decimal.Decimal{}, false
	}
	d, err := decimal.NewFromString(v)
	return d, err == nil
}

// recordWrittenLocked brings the externalId index and the SuiteQL row of
// rec up to date after a create or update; oldExt is its externalId before.
func (d *store) recordWrittenLocked(rec *Record, oldExt string) {
	d.setExternalID(rec, oldExt, rec.ExternalID)
	d.ql[recordTables[rec.Type]].put(rec.ID, recordRow(rec))
}

// recordDeletedLocked drops rec from the indexes.
func (d *store) recordDeletedLocked(rec *Record) {
	d.setExternalID(rec, rec.ExternalID, "")
	d.ql[recordTables[rec.Type]].put(rec.ID, nil)
}

func (d *store) setExternalID(rec *Record, old, ext string) {
	byExt := d.byExt[rec.Type]
	if old != "" && old != ext && byExt[old] == rec {
		delete(byExt, old)
	}
	if ext != "" {
		byExt[ext] = rec
	}
}

func (d *store) byExternalID(typ, ext string) *Record {
	if ext == "" {
		// Not indexed; no caller asks (external ids are validated non-empty).
		for _, rec := range d.records[typ] {
			if rec.ExternalID == "" {
				return rec
			}
		}
		return nil
	}
	return d.byExt[typ][ext]
}

// recordRow is a record's row in its SuiteQL table; a missing key is a
// null column (left out of the result row).
func recordRow(rec *Record) map[string]string {
	f := rec.Fields
	if rec.Type == "customer" {
		row := map[string]string{"id": rec.ID, "isinactive": tf(f["isInactive"] == true)}
		isPerson, _ := f["isPerson"].(bool)
		row["isperson"] = tf(isPerson)
		setIf(row, "entityid", str(f["entityId"]))
		setIf(row, "email", str(f["email"]))
		setIf(row, "subsidiary", refID(f["subsidiary"]))
		setIf(row, "externalid", rec.ExternalID)
		setIf(row, "companyname", str(f["companyName"]))
		setIf(row, "firstname", str(f["firstName"]))
		setIf(row, "lastname", str(f["lastName"]))
		setIf(row, "phone", str(f["phone"]))
		return row
	}
	row := map[string]string{"id": rec.ID, "type": transactionTypes[rec.Type]}
	setIf(row, "tranid", str(f["tranId"]))
	setIf(row, "externalid", rec.ExternalID)
	setIf(row, "createdfrom", refID(f["createdFrom"]))
	setIf(row, "entity", refID(f["entity"]))
	setIf(row, "subsidiary", refID(f["subsidiary"]))
	setIf(row, "currency", refID(f["currency"]))
	setIf(row, "memo", str(f["memo"]))
	setIf(row, "otherrefnum", str(f["otherRefNum"]))
	setIf(row, "foreigntotal", str(f["total"]))
	if rec.Type == "invoice" {
		row["status"] = "A"
	} else {
		setIf(row, "status", str(f["orderStatus"]))
	}
	if d, err := time.Parse("2006-01-02", str(f["tranDate"])); err == nil {
		row["trandate"] = d.Format("1/2/2006") // SuiteQL returns dates in the user's format
	}
	return row
}
