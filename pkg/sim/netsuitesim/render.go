package netsuitesim

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// sublistFields are rendered link-only unless expandSubResources=true.
var sublistFields = map[string]bool{"item": true, "addressbook": true, "price": true}

// subrecordFields are rendered link-only unless expandSubResources=true.
var subrecordFields = map[string]bool{"shippingAddress": true, "billingAddress": true}

type renderOpts struct {
	expand     bool
	simpleEnum bool
	fields     map[string]bool // nil = all
}

func parseRenderOpts(q url.Values) renderOpts {
	o := renderOpts{
		expand:     strings.EqualFold(q.Get("expandSubResources"), "true"),
		simpleEnum: strings.EqualFold(q.Get("simpleEnumFormat"), "true"),
	}
	if f := q.Get("fields"); f != "" {
		o.fields = map[string]bool{}
		for _, name := range strings.Split(f, ",") {
			o.fields[strings.TrimSpace(name)] = true
		}
	}
	return o
}

func link(rel, href string) map[string]any { return map[string]any{"rel": rel, "href": href} }

func selfLinks(href string) []any { return []any{link("self", href)} }

// getRecord answers GET type/id and GET type/id/sublist.
func (s *Server) getRecord(w http.ResponseWriter, typ, idSeg, sub string, q url.Values) *apiError {
	opts := parseRenderOpts(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, e := s.viewLocked(typ, idSeg)
	if e != nil {
		return e
	}
	if rec == nil {
		return errNotFound()
	}
	self := s.recordURLLocked(typ, rec.ID)
	if sub != "" {
		if !sublistFields[sub] && !subrecordFields[sub] {
			return newErr(http.StatusNotFound, "INVALID_REQUEST", "The requested resource "+sub+" does not exist on "+typ+".")
		}
		opts.expand = true
		out := s.renderFieldLocked(typ, self, sub, rec.Fields[sub], opts)
		if out == nil {
			return errNotFound()
		}
		writeJSON(w, http.StatusOK, mediaSingular, out)
		return nil
	}
	writeJSON(w, http.StatusOK, mediaSingular, s.renderLocked(rec, opts))
	return nil
}

// viewLocked finds a stored record or builds the read-only view of an item,
// subsidiary, location or currency.
func (s *Server) viewLocked(typ, idSeg string) (*Record, *apiError) {
	if writableTypes[typ] {
		return s.lookupLocked(typ, idSeg)
	}
	var found *Record
	for _, rec := range s.viewsLocked(typ) {
		if ext, ok := strings.CutPrefix(idSeg, "eid:"); ok {
			if rec.ExternalID == ext {
				found = rec
			}
		} else if rec.ID == idSeg {
			found = rec
		}
	}
	return found, nil
}

// viewsLocked lists the records of a type, ordered by id.
func (s *Server) viewsLocked(typ string) []*Record {
	var out []*Record
	if writableTypes[typ] {
		for _, rec := range s.db.records[typ] {
			out = append(out, rec)
		}
	}
	for _, it := range s.db.items {
		if itemRecordTypes[it.Type] != typ {
			continue
		}
		f := map[string]any{"itemId": it.ItemID, "itemType": it.Type, "isInactive": it.Inactive}
		if it.DisplayName != "" {
			f["displayName"] = it.DisplayName
		}
		if it.UPC != "" {
			f["upcCode"] = it.UPC
		}
		if len(it.Subsidiaries) > 0 {
			var subs []any
			for _, sid := range it.Subsidiaries {
				subs = append(subs, map[string]any{"id": sid})
			}
			f["subsidiary"] = map[string]any{"items": subs}
		}
		var prices []any
		for _, p := range s.db.prices {
			if p.Item == it.ID {
				prices = append(prices, map[string]any{
					"priceLevel": map[string]any{"id": p.PriceLevel}, "currencyPage": map[string]any{"id": p.Currency},
					"quantity": map[string]any{"value": p.Quantity}, "price": p.Price.InexactFloat64(),
				})
			}
		}
		f["price"] = map[string]any{"items": prices}
		out = append(out, &Record{ID: it.ID, ExternalID: it.ExternalID, Type: typ, Fields: f})
	}
	tbl := map[string]map[string]*named{"subsidiary": s.db.subsidiaries, "location": s.db.locations, "currency": s.db.currencies}[typ]
	for _, n := range tbl {
		f := map[string]any{"name": n.Name}
		if typ == "currency" {
			f["symbol"] = n.Name
		}
		out = append(out, &Record{ID: n.ID, Type: typ, Fields: f})
	}
	sort.Slice(out, func(i, j int) bool { return lessID(out[i].ID, out[j].ID) })
	return out
}

func (s *Server) renderLocked(rec *Record, o renderOpts) map[string]any {
	self := s.recordURLLocked(rec.Type, rec.ID)
	out := map[string]any{"id": rec.ID, "links": selfLinks(self)}
	if rec.ExternalID != "" && (o.fields == nil || o.fields["externalId"]) {
		out["externalId"] = rec.ExternalID
	}
	for k, v := range rec.Fields {
		if o.fields != nil && !o.fields[k] {
			continue
		}
		if rv := s.renderFieldLocked(rec.Type, self, k, v, o); rv != nil {
			out[k] = rv
		}
	}
	if isTransaction(rec.Type) && (o.fields == nil || o.fields["status"]) {
		out["status"] = s.enum(o, statusOf(rec), statusText(rec))
	}
	return out
}

func statusOf(rec *Record) string {
	if rec.Type == "invoice" {
		return "A"
	}
	return str(rec.Fields["orderStatus"])
}

func statusText(rec *Record) string {
	if rec.Type == "invoice" {
		return "Open"
	}
	return orderStatusText[str(rec.Fields["orderStatus"])]
}

func (s *Server) enum(o renderOpts, id, text string) any {
	if o.simpleEnum || !s.cfg.EnumsAsObjects {
		if o.simpleEnum {
			return id
		}
		return text
	}
	return map[string]any{"id": id, "refName": text}
}

func (s *Server) renderFieldLocked(typ, self, k string, v any, o renderOpts) any {
	switch {
	case sublistFields[k]:
		subSelf := self + "/" + k
		if !o.expand {
			return map[string]any{"links": selfLinks(subSelf)}
		}
		var items []any
		for i, l := range sublistItems(v) {
			lm, ok := l.(map[string]any)
			if !ok {
				continue
			}
			line := map[string]any{}
			lineSelf := subSelf + "/" + strconv.Itoa(i+1)
			if n, ok := lm["line"]; ok {
				lineSelf = subSelf + "/" + str(n)
			}
			line["links"] = selfLinks(lineSelf)
			for lk, lv := range lm {
				if lk == "itemType" {
					line[lk] = s.enum(o, str(lv), str(lv))
					continue
				}
				if target, isRef := refFields[lk]; isRef && refID(lv) != "" {
					line[lk] = s.refLocked(lk, target, refID(lv))
					continue
				}
				line[lk] = lv
			}
			items = append(items, line)
		}
		if items == nil {
			items = []any{}
		}
		return map[string]any{"links": selfLinks(subSelf), "items": items, "count": len(items), "hasMore": false,
			"offset": 0, "totalResults": len(items)}
	case subrecordFields[k]:
		subSelf := self + "/" + k
		if !o.expand {
			return map[string]any{"links": selfLinks(subSelf)}
		}
		m, _ := deepCopy(v).(map[string]any)
		if m == nil {
			return nil
		}
		m["links"] = selfLinks(subSelf)
		if c, ok := m["country"].(map[string]any); ok {
			m["country"] = s.enum(o, str(c["id"]), str(c["id"]))
		}
		return m
	case k == "orderStatus":
		return s.enum(o, str(v), str(v))
	case k == "itemType":
		return s.enum(o, str(v), str(v))
	}
	if target, isRef := refFields[k]; isRef {
		id := refID(v)
		if id == "" {
			return v
		}
		return s.refLocked(k, target, id)
	}
	return v
}

// refLocked renders a reference as {"id","refName","links"}.
func (s *Server) refLocked(field, target, id string) map[string]any {
	name, typ := id, target
	switch target {
	case "customer":
		if c := s.db.records["customer"][id]; c != nil {
			name = str(c.Fields["entityId"])
		}
	case "salesOrder":
		if so := s.db.records["salesOrder"][id]; so != nil {
			name = "Sales Order #" + str(so.Fields["tranId"])
		}
	case "item":
		if it := s.db.items[id]; it != nil {
			name, typ = it.ItemID, itemRecordTypes[it.Type]
		}
	case "subsidiary":
		if n := s.db.subsidiaries[id]; n != nil {
			name = n.Name
		}
	case "location":
		if n := s.db.locations[id]; n != nil {
			name = n.Name
		}
	case "currency":
		if n := s.db.currencies[id]; n != nil {
			name = n.Name
		}
	case "":
		typ = strings.ToLower(field)
	}
	return map[string]any{"id": id, "refName": name, "links": selfLinks(s.baseURL + recordPrefix + typ + "/" + id)}
}

// listQuery is one "field OP value" condition of a Record API q= filter.
var listCond = regexp.MustCompile(`(?i)^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(IS|IS_NOT|START_WITH|CONTAIN|EQUAL)\s+(?:"([^"]*)"|(-?[0-9.]+))\s*$`)

func (s *Server) listRecords(w http.ResponseWriter, typ string, q url.Values) *apiError {
	limit, offset, e := pageParams(q, 1000)
	if e != nil {
		return e
	}
	type cond struct{ field, op, value string }
	var conds []cond
	if qs := q.Get("q"); qs != "" {
		for _, part := range regexp.MustCompile(`(?i)\s+AND\s+`).Split(qs, -1) {
			m := listCond.FindStringSubmatch(part)
			if m == nil {
				return errParam("q", "Invalid search query: '"+qs+"'. The simulator supports `field IS \"value\"` conditions joined with AND.")
			}
			val := m[3]
			if m[4] != "" {
				val = m[4]
			}
			conds = append(conds, cond{m[1], strings.ToUpper(m[2]), val})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*Record
	for _, rec := range s.viewsLocked(typ) {
		ok := true
		for _, c := range conds {
			var have string
			if strings.EqualFold(c.field, "externalId") {
				have = rec.ExternalID
			} else if strings.EqualFold(c.field, "id") || strings.EqualFold(c.field, "internalId") {
				have = rec.ID
			} else {
				for k, v := range rec.Fields {
					if strings.EqualFold(k, c.field) {
						have = str(v)
						if id := refID(v); id != "" {
							have = id
						}
					}
				}
			}
			h, want := strings.ToLower(have), strings.ToLower(c.value)
			switch c.op {
			case "IS", "EQUAL":
				ok = ok && h == want
			case "IS_NOT":
				ok = ok && h != want
			case "START_WITH":
				ok = ok && strings.HasPrefix(h, want)
			case "CONTAIN":
				ok = ok && strings.Contains(h, want)
			}
		}
		if ok {
			matched = append(matched, rec)
		}
	}
	self := s.baseURL + recordPrefix + typ
	page, env := pageEnvelope(len(matched), limit, offset, self, q)
	items := []any{}
	for _, rec := range matched[page.from:page.to] {
		items = append(items, map[string]any{"id": rec.ID, "links": selfLinks(s.recordURLLocked(typ, rec.ID))})
	}
	env["items"] = items
	writeJSON(w, http.StatusOK, mediaCollection, env)
	return nil
}

type pageRange struct{ from, to int }

// pageParams enforces NetSuite's paging rules: limit <= max (default max),
// offset a multiple of limit, offset+limit <= 100,000.
func pageParams(q url.Values, maxLimit int) (int, int, *apiError) {
	limit, offset := maxLimit, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, errParam("limit", "Invalid value for query parameter limit: "+v+". It must be between 1 and "+strconv.Itoa(maxLimit)+".")
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, errParam("offset", "Invalid value for query parameter offset: "+v+".")
		}
		offset = n
	}
	if offset%limit != 0 {
		return 0, 0, errParam("offset", "The offset must be a multiple of the limit (offset "+strconv.Itoa(offset)+", limit "+strconv.Itoa(limit)+").")
	}
	if offset+limit > 100000 {
		return 0, 0, errParam("offset", "The query exceeds the 100000 results that can be returned; narrow it or use keyset paging.")
	}
	return limit, offset, nil
}

func pageEnvelope(total, limit, offset int, self string, q url.Values) (pageRange, map[string]any) {
	from := min(offset, total)
	to := min(offset+limit, total)
	hasMore := to < total
	href := func(off int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("limit", strconv.Itoa(limit))
		v.Set("offset", strconv.Itoa(off))
		return self + "?" + v.Encode()
	}
	links := []any{}
	if offset > 0 {
		links = append(links, link("prev", href(max(offset-limit, 0))))
	}
	links = append(links, link("first", href(0)))
	if hasMore {
		links = append(links, link("next", href(offset+limit)))
	}
	last := 0
	if total > 0 {
		last = (total - 1) / limit * limit
	}
	links = append(links, link("last", href(last)), link("self", href(offset)))
	return pageRange{from, to}, map[string]any{
		"links": links, "count": to - from, "hasMore": hasMore, "offset": offset, "totalResults": total,
	}
}
