package netsuitesim

import (
	"cmp"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// SuiteQL is simulated by shape, not by a SQL engine: one table, a select
// list of plain columns (optionally qualified and aliased) or COUNT(*),
// WHERE as conditions joined by AND, and ORDER BY columns. Anything else
// (joins, OR, GROUP BY, sub-queries, functions other than LOWER/UPPER) is
// refused with 400 so that a client relying on it shows up in tests.

var (
	reSelect = regexp.MustCompile(`(?is)^SELECT\s+(.+?)\s+FROM\s+([A-Za-z_]\w*)(?:\s+(?:AS\s+)?([A-Za-z_]\w*))?(?:\s+WHERE\s+(.+?))?(?:\s+ORDER\s+BY\s+(.+?))?$`)
	reColumn = regexp.MustCompile(`(?i)^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*|\*)(?:\s+(?:AS\s+)?([A-Za-z_]\w*))?$`)
	reCount  = regexp.MustCompile(`(?i)^COUNT\(\s*(?:\*|(?:[A-Za-z_]\w*\.)?[A-Za-z_]\w*)\s*\)(?:\s+(?:AS\s+)?([A-Za-z_]\w*))?$`)
	reCmp    = regexp.MustCompile(`(?i)^(?:(LOWER|UPPER)\(\s*)?(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\s*\)?\s*(=|<>|!=|>=|<=|>|<)\s*(?:(LOWER|UPPER)\(\s*)?(\$\d+|-?\d+(?:\.\d+)?)\s*\)?$`)
	reIn     = regexp.MustCompile(`(?i)^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\s+(NOT\s+)?IN\s*\(([^()]*)\)$`)
	reNull   = regexp.MustCompile(`(?i)^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)\s+IS\s+(NOT\s+)?NULL$`)
	reOrder  = regexp.MustCompile(`(?i)^(?:([A-Za-z_]\w*)\.)?([A-Za-z_]\w*)(?:\s+(ASC|DESC))?$`)
	reInItem = regexp.MustCompile(`^(\$\d+|-?\d+(\.\d+)?)$`)
	reAnd    = regexp.MustCompile(`(?i)\s+AND\s+`)
	reSpace  = regexp.MustCompile(`\s+`)
	reBanned = regexp.MustCompile(`(?i)\b(JOIN|GROUP\s+BY|HAVING|UNION|OR|SELECT\s.*\sSELECT|FETCH|ROWNUM|BETWEEN|LIKE)\b`)
)

var sqlKeywords = map[string]bool{"WHERE": true, "ORDER": true, "GROUP": true, "JOIN": true, "INNER": true, "LEFT": true}

// tableColumns are the columns each simulated table exposes.
var tableColumns = map[string][]string{
	"item":                   {"id", "itemid", "displayname", "upccode", "externalid", "itemtype", "isinactive", "fullname"},
	"aggregateitemlocation":  {"item", "location", "quantityonhand", "quantityavailable", "quantitycommitted", "quantityonorder", "quantitybackordered"},
	"inventoryitemlocations": {"item", "location", "quantityonhand", "quantityavailable", "quantitycommitted", "quantityonorder", "quantitybackordered"},
	"pricing":                {"item", "pricelevel", "unitprice", "quantity", "currency"},
	"customer":               {"id", "entityid", "email", "subsidiary", "externalid", "companyname", "firstname", "lastname", "isperson", "isinactive", "phone"},
	"subsidiary":             {"id", "name", "parent", "currency", "country", "isinactive", "iselimination", "fullname"},
	"location":               {"id", "name", "subsidiary", "isinactive"},
	"currency":               {"id", "name", "symbol"},
	"pricelevel":             {"id", "name", "isinactive"},
	"transaction":            {"id", "tranid", "type", "externalid", "createdfrom", "entity", "trandate", "status", "subsidiary", "currency", "memo", "otherrefnum", "foreigntotal"},
}

type qlQuery struct {
	table string
	alias string
	cols  []qlCol
	count string // non-empty: SELECT COUNT(*) AS <count>
	conds []func(map[string]string) bool
	order []qlOrder
	// shape and vals (the query with $n markers and their values) key the
	// keyset cache; keysets are its "col > v" / "col >= v" conditions.
	shape   string
	vals    []string
	keysets []qlKeyset
	eqs     []qlEq // its "col = value" conditions, for the record tables' indexes
}

// qlKeyset is a condition a keyset page can be found by binary search with.
type qlKeyset struct {
	col, op, value string
	cond           int // index in conds
	val            int // index in vals, -1 for a literal
}

type qlCol struct{ src, name string }

type qlOrder struct {
	col  string
	desc bool
}

func errQL(detail string) *apiError {
	return newErr(http.StatusBadRequest, "INVALID_PARAMETER",
		"Invalid search query. Detailed unprocessed description follows. "+detail)
}

func (s *Server) serveSuiteQL(w http.ResponseWriter, r *http.Request, body []byte) {
	if e := s.suiteQL(w, r, body); e != nil {
		writeAPIError(w, e)
	}
}

func (s *Server) suiteQL(w http.ResponseWriter, r *http.Request, body []byte) *apiError {
	if r.Method != http.MethodPost {
		return newErr(http.StatusMethodNotAllowed, "INVALID_METHOD", "SuiteQL accepts POST only.")
	}
	if !strings.Contains(strings.ToLower(r.Header.Get("Prefer")), "transient") {
		e := newErr(http.StatusBadRequest, "INVALID_PARAMETER", "The Prefer: transient header is required for SuiteQL queries.")
		e.Details[0].Header = "Prefer"
		return e
	}
	if e := requireJSON(r); e != nil {
		return e
	}
	limit, offset, e := pageParams(r.URL.Query(), 1000)
	if e != nil {
		return e
	}
	var req struct {
		Q      string `json:"q"`
		Params []any  `json:"params"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil || strings.TrimSpace(req.Q) == "" {
		return newErr(http.StatusBadRequest, "INVALID_REQUEST", detailMalformed)
	}
	params := make([]string, len(req.Params))
	for i, p := range req.Params {
		switch v := p.(type) {
		case string:
			params[i] = v
		case json.Number:
			params[i] = v.String()
		case bool:
			params[i] = map[bool]string{true: "T", false: "F"}[v]
		default:
			return errQL("Parameter " + strconv.Itoa(i+1) + " must be a string or a number.")
		}
	}
	q, e := parseSuiteQL(req.Q, params)
	if e != nil {
		return e
	}
	s.mu.Lock()
	var rows []map[string]string
	if t := s.db.ql[q.table]; t != nil {
		rows = t.candidates(q)
	} else {
		rows = s.cachedRowsLocked(q.table)
	}
	base := s.baseURL
	matched, fast := s.keysetRowsLocked(q, rows)
	s.mu.Unlock()

	if !fast {
		matched = q.match(rows, -1)
	}
	if q.count != "" {
		matched = []map[string]string{{q.count: strconv.Itoa(len(matched))}}
		q.cols = []qlCol{{src: q.count, name: q.count}}
	}
	page, env := pageEnvelope(len(matched), limit, offset, base+suiteqlPath, r.URL.Query())
	items := make([]any, 0, page.to-page.from)
	for _, row := range matched[page.from:page.to] {
		out := map[string]any{"links": []any{}}
		for _, c := range q.cols {
			if v, ok := row[c.src]; ok {
				out[c.name] = v
			}
		}
		items = append(items, out)
	}
	env["items"] = items
	writeJSON(w, http.StatusOK, mediaCollection, env)
	return nil
}

// parseSuiteQL binds params and recognises the supported query shape.
func parseSuiteQL(text string, params []string) (*qlQuery, *apiError) {
	// Replace string literals and ? placeholders by $n markers so that the
	// structure can be matched without tripping over quoted text.
	var vals []string
	var b strings.Builder
	used := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '\'':
			var lit strings.Builder
			j := i + 1
			closed := false
			for ; j < len(text); j++ {
				if text[j] == '\'' {
					if j+1 < len(text) && text[j+1] == '\'' {
						lit.WriteByte('\'')
						j++
						continue
					}
					closed = true
					break
				}
				lit.WriteByte(text[j])
			}
			if !closed {
				return nil, errQL("Unterminated string literal.")
			}
			vals = append(vals, lit.String())
			b.WriteString("$" + strconv.Itoa(len(vals)-1))
			i = j
		case '$':
			return nil, errQL("Unexpected character $ outside a string literal.")
		case '?':
			if used >= len(params) {
				return nil, errQL("The query has more ? placeholders than params (" + strconv.Itoa(len(params)) + ").")
			}
			vals = append(vals, params[used])
			used++
			b.WriteString("$" + strconv.Itoa(len(vals)-1))
		default:
			b.WriteByte(c)
		}
	}
	if used != len(params) {
		return nil, errQL("The query has " + strconv.Itoa(used) + " ? placeholders but " + strconv.Itoa(len(params)) + " params were sent.")
	}
	norm := strings.TrimSuffix(strings.TrimSpace(reSpace.ReplaceAllString(b.String(), " ")), ";")
	unsupported := func(why string) *apiError {
		return errQL("The netsuitesim simulator does not support this query (" + why + "): " + text)
	}
	if reBanned.MatchString(norm) {
		return nil, unsupported("joins, OR, GROUP BY, sub-queries, BETWEEN and LIKE are not simulated")
	}
	m := reSelect.FindStringSubmatch(norm)
	if m == nil {
		return nil, unsupported("not a single-table SELECT")
	}
	q := &qlQuery{table: strings.ToLower(m[2]), alias: strings.ToLower(m[3]), shape: norm, vals: vals}
	if sqlKeywords[strings.ToUpper(q.alias)] {
		return nil, unsupported("unexpected " + q.alias)
	}
	cols, ok := tableColumns[q.table]
	if !ok {
		return nil, errQL("Record '" + m[2] + "' was not found (the simulator knows item, aggregateItemLocation, inventoryitemlocations, pricing, customer, subsidiary, location, currency, pricelevel, transaction).")
	}
	column := func(qual, name string) (string, *apiError) {
		qual, name = strings.ToLower(qual), strings.ToLower(name)
		if qual != "" && qual != q.alias && qual != q.table {
			return "", unsupported("unknown table alias " + qual)
		}
		if !contains(cols, name) {
			return "", errQL("Field '" + name + "' for record '" + q.table + "' was not found.")
		}
		return name, nil
	}
	value := func(tok string) string {
		if strings.HasPrefix(tok, "$") {
			n, _ := strconv.Atoi(tok[1:])
			return vals[n]
		}
		return tok
	}
	for _, part := range strings.Split(m[1], ",") {
		part = strings.TrimSpace(part)
		if cm := reCount.FindStringSubmatch(part); cm != nil {
			q.count = strings.ToLower(cm[1])
			if q.count == "" {
				q.count = "expr1"
			}
			continue
		}
		cm := reColumn.FindStringSubmatch(part)
		if cm == nil {
			return nil, unsupported("select item " + part)
		}
		if cm[2] == "*" {
			for _, c := range cols {
				q.cols = append(q.cols, qlCol{c, c})
			}
			continue
		}
		src, e := column(cm[1], cm[2])
		if e != nil {
			return nil, e
		}
		name := src
		if cm[3] != "" {
			name = strings.ToLower(cm[3])
		}
		q.cols = append(q.cols, qlCol{src, name})
	}
	if q.count != "" && len(q.cols) > 0 {
		return nil, unsupported("COUNT mixed with columns needs GROUP BY")
	}
	if m[4] != "" {
		for _, cond := range reAnd.Split(m[4], -1) {
			cond = strings.TrimSpace(cond)
			for wrappedInParens(cond) {
				cond = strings.TrimSpace(cond[1 : len(cond)-1])
			}
			switch {
			case reCmp.MatchString(cond):
				cm := reCmp.FindStringSubmatch(cond)
				col, e := column(cm[2], cm[3])
				if e != nil {
					return nil, e
				}
				fl, op, fr, rhs := strings.ToUpper(cm[1]), cm[4], strings.ToUpper(cm[5]), value(cm[6])
				rhs = applyFn(fr, rhs)
				if fl == "" && fr == "" && (op == ">" || op == ">=") {
					val := -1
					if strings.HasPrefix(cm[6], "$") {
						val, _ = strconv.Atoi(cm[6][1:])
					}
					q.keysets = append(q.keysets, qlKeyset{col: col, op: op, value: rhs, cond: len(q.conds), val: val})
				}
				if op == "=" {
					q.eqs = append(q.eqs, qlEq{qlEqCol{col, fl}, eqKey(rhs)})
				}
				q.conds = append(q.conds, func(row map[string]string) bool {
					v, ok := row[col]
					if !ok {
						return false
					}
					c := compareValues(applyFn(fl, v), rhs)
					switch op {
					case "=":
						return c == 0
					case "<>", "!=":
						return c != 0
					case ">":
						return c > 0
					case ">=":
						return c >= 0
					case "<":
						return c < 0
					default:
						return c <= 0
					}
				})
			case reIn.MatchString(cond):
				cm := reIn.FindStringSubmatch(cond)
				col, e := column(cm[1], cm[2])
				if e != nil {
					return nil, e
				}
				not := cm[3] != ""
				var set []string
				for _, tok := range strings.Split(cm[4], ",") {
					tok = strings.TrimSpace(tok)
					if !reInItem.MatchString(tok) {
						return nil, unsupported("IN list element " + tok)
					}
					set = append(set, value(tok))
				}
				q.conds = append(q.conds, func(row map[string]string) bool {
					v, ok := row[col]
					if !ok {
						return false
					}
					in := false
					for _, x := range set {
						if compareValues(v, x) == 0 {
							in = true
						}
					}
					return in != not
				})
			case reNull.MatchString(cond):
				cm := reNull.FindStringSubmatch(cond)
				col, e := column(cm[1], cm[2])
				if e != nil {
					return nil, e
				}
				not := cm[3] != ""
				q.conds = append(q.conds, func(row map[string]string) bool {
					_, ok := row[col]
					return ok == not
				})
			default:
				return nil, unsupported("condition " + cond)
			}
		}
	}
	if m[5] != "" {
		for _, part := range strings.Split(m[5], ",") {
			om := reOrder.FindStringSubmatch(strings.TrimSpace(part))
			if om == nil {
				return nil, unsupported("ORDER BY " + part)
			}
			col, e := column(om[1], om[2])
			if e != nil {
				return nil, e
			}
			q.order = append(q.order, qlOrder{col: col, desc: strings.EqualFold(om[3], "DESC")})
		}
	}
	return q, nil
}

func applyFn(fn, v string) string {
	switch fn {
	case "LOWER":
		return strings.ToLower(v)
	case "UPPER":
		return strings.ToUpper(v)
	}
	return v
}

// compareValues compares numerically when both sides are numbers.
func compareValues(a, b string) int {
	if x, ok := plainInt(a); ok {
		if y, ok := plainInt(b); ok {
			return cmp.Compare(x, y)
		}
	}
	da, okA := parseDecimal(a)
	db, okB := parseDecimal(b)
	if okA && okB {
		return da.Cmp(db)
	}
	return strings.Compare(a, b)
}

// match filters rows by every condition but skip (-1: none) and orders
// them as the query says.
func (q *qlQuery) match(rows []map[string]string, skip int) []map[string]string {
	var matched []map[string]string
	for _, row := range rows {
		ok := true
		for i, c := range q.conds {
			if i != skip && !c(row) {
				ok = false
				break
			}
		}
		if ok {
			matched = append(matched, row)
		}
	}
	if q.count != "" {
		return matched
	}
	if len(q.order) == 0 && len(matched) > 1 {
		// Without ORDER BY the order is unspecified in NetSuite. Use a
		// deterministic scramble so that a client paging an unordered query
		// misbehaves here as it would in production.
		sort.SliceStable(matched, func(i, j int) bool { return rowHash(matched[i]) < rowHash(matched[j]) })
	}
	if len(q.order) > 0 {
		less := func(i, j int) bool {
			for _, o := range q.order {
				c := compareValues(matched[i][o.col], matched[j][o.col])
				if c != 0 {
					return (c < 0) != o.desc
				}
			}
			return false
		}
		if !sort.SliceIsSorted(matched, less) {
			sort.SliceStable(matched, less)
		}
	}
	return matched
}

// keysetRowsLocked answers a keyset page ("WHERE ... AND k > ? ORDER BY k,
// ...") without scanning the table: the rows matching every other
// condition are filtered and ordered once per table version and query
// shape, and each page finds its start by binary search. The result is
// what match would give: those rows are ordered by k first, so the ones
// past the cursor are a suffix, in the same (stable) order.
func (s *Server) keysetRowsLocked(q *qlQuery, rows []map[string]string) ([]map[string]string, bool) {
	if _, cached := s.db.tables[q.table]; !cached || q.count != "" || len(q.order) == 0 || q.order[0].desc {
		return nil, false // only the catalogue tables, whose every change bumps the version
	}
	var ks *qlKeyset
	for i := range q.keysets {
		if q.keysets[i].col == q.order[0].col {
			ks = &q.keysets[i]
		}
	}
	if ks == nil {
		return nil, false
	}
	vals := append([]string(nil), q.vals...)
	if ks.val >= 0 {
		vals[ks.val] = ""
	}
	key := q.table + "\x00" + q.shape + "\x00" + strings.Join(vals, "\x00")
	d := s.db
	version := d.version(q.table)
	c, ok := d.keysets[key]
	sorted := c.rows
	if !ok || c.version != version {
		if len(d.keysets) >= 64 {
			clear(d.keysets)
		}
		var with []map[string]string
		for _, row := range rows {
			if _, has := row[ks.col]; has {
				with = append(with, row)
			}
		}
		sorted = q.match(with, ks.cond)
		d.keysets[key] = cachedTable{version: version, rows: sorted}
	}
	from := sort.Search(len(sorted), func(i int) bool {
		c := compareValues(sorted[i][ks.col], ks.value)
		return c > 0 || (ks.op == ">=" && c == 0)
	})
	return sorted[from:], true
}

// plainInt parses an optionally signed run of at most 18 digits without
// allocating (ids and quantities, the common comparisons).
func plainInt(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// cachedRowsLocked is tableRowsLocked, reusing the catalogue tables' rows
// while items, prices and stock are unchanged, and the record tables' rows
// kept in step with the records (rows are never modified once built, so
// queries may share them).
func (s *Server) cachedRowsLocked(table string) []map[string]string {
	if t := s.db.ql[table]; t != nil {
		return t.all()
	}
	switch table {
	case "item", "aggregateitemlocation", "inventoryitemlocations", "pricing":
	default:
		return s.tableRowsLocked(table)
	}
	if c, ok := s.db.tables[table]; ok && c.version == s.db.version(table) {
		return c.rows
	}
	rows := s.tableRowsLocked(table)
	s.db.tables[table] = cachedTable{version: s.db.version(table), rows: rows}
	return rows
}

func tf(b bool) string {
	if b {
		return "T"
	}
	return "F"
}

func setIf(row map[string]string, k, v string) {
	if v != "" {
		row[k] = v
	}
}

// tableRowsLocked materialises a table as rows of string values; a missing
// key is a null column (left out of the result row). The record tables
// (customer, transaction) are kept by index.go instead.
func (s *Server) tableRowsLocked(table string) []map[string]string {
	var rows []map[string]string
	d := s.db
	switch table {
	case "item":
		for _, it := range d.items {
			row := map[string]string{"id": it.ID, "itemid": it.ItemID, "fullname": it.ItemID, "itemtype": it.Type, "isinactive": tf(it.Inactive)}
			setIf(row, "displayname", it.DisplayName)
			setIf(row, "upccode", it.UPC)
			setIf(row, "externalid", it.ExternalID)
			rows = append(rows, row)
		}
	case "aggregateitemlocation", "inventoryitemlocations":
		for _, st := range d.stock {
			it := d.items[st.Item]
			if it == nil || (table == "inventoryitemlocations" && it.Type != "InvtPart") {
				continue
			}
			rows = append(rows, map[string]string{
				"item": st.Item, "location": st.Location, "quantityonhand": strconv.Itoa(st.OnHand),
				"quantityavailable": strconv.Itoa(st.Available), "quantitycommitted": strconv.Itoa(st.Committed),
				"quantityonorder": strconv.Itoa(st.OnOrder), "quantitybackordered": strconv.Itoa(st.BackOrdered),
			})
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i]["item"] != rows[j]["item"] {
				return lessID(rows[i]["item"], rows[j]["item"])
			}
			return lessID(rows[i]["location"], rows[j]["location"])
		})
		return rows
	case "pricing":
		for _, p := range d.prices {
			rows = append(rows, map[string]string{"item": p.Item, "pricelevel": p.PriceLevel, "currency": p.Currency,
				"quantity": strconv.Itoa(p.Quantity), "unitprice": p.Price.String()})
		}
		sort.SliceStable(rows, func(i, j int) bool { return lessID(rows[i]["item"], rows[j]["item"]) })
		return rows
	case "subsidiary", "location", "currency", "pricelevel":
		tbl := map[string]map[string]*named{"subsidiary": d.subsidiaries, "location": d.locations, "currency": d.currencies,
			"pricelevel": d.priceLevels}[table]
		for _, n := range tbl {
			row := map[string]string{"id": n.ID, "name": n.Name}
			switch table {
			case "subsidiary":
				row["fullname"], row["isinactive"], row["iselimination"] = n.Name, "F", "F"
				setIf(row, "parent", n.Parent)
				setIf(row, "currency", n.Currency)
				setIf(row, "country", n.Country)
				if n.Parent != "" {
					row["fullname"] = tbl[n.Parent].Name + " : " + n.Name
				}
			case "location":
				row["isinactive"] = "F"
				if len(n.Subsidiaries) > 0 {
					row["subsidiary"] = n.Subsidiaries[0]
				}
			case "currency":
				row["symbol"] = n.Name
			case "pricelevel":
				row["isinactive"] = "F"
			}
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return lessID(rows[i]["id"], rows[j]["id"]) })
	return rows
}

// wrappedInParens reports whether the whole of s is one parenthesised group.
func wrappedInParens(s string) bool {
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return false
	}
	depth := 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 && i != len(s)-1 {
				return false
			}
		}
	}
	return depth == 0
}

// rowHash orders rows of an unordered result.
func rowHash(row map[string]string) uint64 {
	h := fnv.New64a()
	for _, k := range []string{"id", "item", "location", "pricelevel", "currency"} {
		_, _ = h.Write([]byte(row[k] + "\x00"))
	}
	return h.Sum64()
}
