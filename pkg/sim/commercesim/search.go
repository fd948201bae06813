package commercesim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Filter is one searchCriteria filter.
type Filter struct {
	Field         string
	Value         string
	ConditionType string
}

// SortOrder is one searchCriteria sort order.
type SortOrder struct {
	Field     string
	Direction string
}

// SearchCriteria is the parsed bracket syntax.
type SearchCriteria struct {
	FilterGroups [][]Filter
	SortOrders   []SortOrder
	PageSize     *int
	CurrentPage  *int
}

// bracketPath splits "searchCriteria[a][b]" into ["a","b"]; ok is false for
// keys outside searchCriteria.
func bracketPath(key string) ([]string, bool) {
	rest, ok := strings.CutPrefix(key, "searchCriteria")
	if !ok || rest == "" {
		return nil, false
	}
	var path []string
	for rest != "" {
		if rest[0] != '[' {
			return nil, false
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, false
		}
		path = append(path, rest[1:end])
		rest = rest[end+1:]
	}
	return path, true
}

// ParseSearchCriteria parses searchCriteria[...] query parameters.
func ParseSearchCriteria(q url.Values) (SearchCriteria, error) {
	groups := map[int]map[int]*Filter{}
	sorts := map[int]*SortOrder{}
	var sc SearchCriteria
	for key, vals := range q {
		path, ok := bracketPath(key)
		if !ok {
			continue
		}
		val := ""
		if len(vals) > 0 {
			val = vals[len(vals)-1]
		}
		switch {
		case len(path) == 1 && path[0] == "pageSize":
			n, err := strconv.Atoi(val)
			if err != nil {
				return sc, fmt.Errorf("pageSize: %w", err)
			}
			sc.PageSize = &n
		case len(path) == 1 && path[0] == "currentPage":
			n, err := strconv.Atoi(val)
			if err != nil {
				return sc, fmt.Errorf("currentPage: %w", err)
			}
			sc.CurrentPage = &n
		case len(path) == 5 && path[0] == "filter_groups" && path[2] == "filters":
			gi, err1 := strconv.Atoi(path[1])
			fi, err2 := strconv.Atoi(path[3])
			if err1 != nil || err2 != nil {
				return sc, fmt.Errorf("bad filter index in %s", key)
			}
			if groups[gi] == nil {
				groups[gi] = map[int]*Filter{}
			}
			f := groups[gi][fi]
			if f == nil {
				f = &Filter{}
				groups[gi][fi] = f
			}
			switch path[4] {
			case "field":
				f.Field = val
			case "value":
				f.Value = val
			case "condition_type":
				f.ConditionType = val
			default:
				return sc, fmt.Errorf("unknown filter property %q", path[4])
			}
		case len(path) == 3 && path[0] == "sortOrders":
			i, err := strconv.Atoi(path[1])
			if err != nil {
				return sc, fmt.Errorf("bad sort index in %s", key)
			}
			so := sorts[i]
			if so == nil {
				so = &SortOrder{}
				sorts[i] = so
			}
			switch path[2] {
			case "field":
				so.Field = val
			case "direction":
				so.Direction = val
			default:
				return sc, fmt.Errorf("unknown sort property %q", path[2])
			}
		default:
			return sc, fmt.Errorf("unknown searchCriteria key %q", key)
		}
	}
	for _, gi := range sortedKeys(groups) {
		var fs []Filter
		for _, fi := range sortedKeys(groups[gi]) {
			f := *groups[gi][fi]
			if f.ConditionType == "" {
				f.ConditionType = "eq"
			}
			fs = append(fs, f)
		}
		sc.FilterGroups = append(sc.FilterGroups, fs)
	}
	for _, i := range sortedKeys(sorts) {
		so := *sorts[i]
		if so.Direction == "" {
			so.Direction = "DESC" // the documented default
		}
		sc.SortOrders = append(sc.SortOrders, so)
	}
	return sc, nil
}

func sortedKeys[V any](m map[int]V) []int {
	ks := make([]int, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	return ks
}

// echo renders search_criteria like Commerce does in list responses.
func (sc SearchCriteria) echo() Object {
	groups := []any{}
	for _, g := range sc.FilterGroups {
		fs := []any{}
		for _, f := range g {
			fs = append(fs, Object{{"field", f.Field}, {"value", f.Value}, {"condition_type", f.ConditionType}})
		}
		groups = append(groups, Object{{"filters", fs}})
	}
	o := Object{{"filter_groups", groups}}
	if len(sc.SortOrders) > 0 {
		ss := []any{}
		for _, so := range sc.SortOrders {
			ss = append(ss, Object{{"field", so.Field}, {"direction", strings.ToUpper(so.Direction)}})
		}
		o = append(o, KV{"sort_orders", ss})
	}
	if sc.PageSize != nil {
		o = append(o, KV{"page_size", *sc.PageSize})
	}
	if sc.CurrentPage != nil {
		o = append(o, KV{"current_page", *sc.CurrentPage})
	}
	return o
}

// requiredEq is the value of an "eq" filter on field that every match must
// pass (alone in its group: filters in a group are OR-ed).
func (sc SearchCriteria) requiredEq(field string) (string, bool) {
	for _, g := range sc.FilterGroups {
		if len(g) == 1 && g[0].Field == field && g[0].ConditionType == "eq" {
			return g[0].Value, true
		}
	}
	return "", false
}

// foldASCII lower-cases ASCII letters only: equal keys are exactly the
// strings foldCompare calls equal.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// searchError is a 400 with a Commerce template.
type searchError struct {
	status  int
	message string
	params  any
}

func (e *searchError) Error() string { return e.message }

func validConditions() map[string]bool {
	return map[string]bool{
		"eq": true, "neq": true, "gt": true, "gteq": true, "lt": true, "lteq": true, "moreq": true,
		"in": true, "nin": true, "like": true, "nlike": true, "finset": true, "nfinset": true,
		"from": true, "to": true, "null": true, "notnull": true,
	}
}

// apply filters, sorts and pages records. columns are the entity's
// filterable top-level fields. It returns the page and the total count.
// record is a searchable row: Object, or a lazy view of an entity.
type record interface {
	Get(field string) (any, bool)
}

func (sc SearchCriteria) apply(records []record, columns map[string]bool, inputLimits bool) ([]record, int, error) {
	for _, g := range sc.FilterGroups {
		for _, f := range g {
			if !validConditions()[f.ConditionType] {
				return nil, 0, &searchError{400, "Invalid condition type \"%1\"", []any{f.ConditionType}}
			}
			if !columns[f.Field] {
				return nil, 0, &searchError{400, "\"%fieldName\" is not a valid field to filter by.", Object{{"fieldName", f.Field}}}
			}
		}
	}
	for _, so := range sc.SortOrders {
		if !columns[so.Field] {
			return nil, 0, &searchError{400, "\"%fieldName\" is not a valid field to sort by.", Object{{"fieldName", so.Field}}}
		}
		if d := strings.ToUpper(so.Direction); d != "ASC" && d != "DESC" {
			return nil, 0, &searchError{400, "Sort order \"%1\" is not supported.", []any{so.Direction}}
		}
	}
	pageSize := 0
	if sc.PageSize != nil {
		pageSize = *sc.PageSize
		if pageSize < 0 {
			pageSize = 0
		}
	}
	if inputLimits {
		if sc.PageSize == nil {
			pageSize = 20
		}
		if pageSize > 300 {
			return nil, 0, &searchError{400, "Maximum SearchCriteria pageSize is %max", Object{{"max", 300}}}
		}
	}
	var out []record
	for _, rec := range records {
		ok := true
		for _, g := range sc.FilterGroups {
			any := false
			for _, f := range g {
				if matchFilter(rec, f) {
					any = true
					break
				}
			}
			if !any {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, rec)
		}
	}
	// Sort keys are read once per row, not once per comparison.
	keys := make([][]any, len(out))
	for i, rec := range out {
		keys[i] = make([]any, len(sc.SortOrders))
		for k, so := range sc.SortOrders {
			keys[i][k], _ = rec.Get(so.Field)
		}
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		for k, so := range sc.SortOrders {
			c := compareValues(keys[idx[a]][k], keys[idx[b]][k])
			if c == 0 {
				continue
			}
			if strings.EqualFold(so.Direction, "DESC") {
				return c > 0
			}
			return c < 0
		}
		return false
	})
	sorted := make([]record, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	out = sorted
	total := len(out)
	if pageSize == 0 {
		return out, total, nil
	}
	page := 1
	if sc.CurrentPage != nil && *sc.CurrentPage > 1 {
		page = *sc.CurrentPage
	}
	// Collection::getCurPage clamps a page beyond the last to the last page.
	last := (total + pageSize - 1) / pageSize
	if last < 1 {
		last = 1
	}
	if page > last {
		page = last
	}
	start := (page - 1) * pageSize
	end := min(start+pageSize, total)
	if start >= total {
		return []record{}, total, nil
	}
	return out[start:end], total, nil
}

// scalar converts a record value for comparison: numbers to decimals,
// everything else to strings; nil stays nil.
func scalar(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int:
		return decimal.NewFromInt(int64(x))
	case int64:
		return decimal.NewFromInt(x)
	case json.Number:
		d, err := decimal.NewFromString(string(x))
		if err == nil {
			return d
		}
		return string(x)
	case decimal.Decimal:
		return x
	case bool:
		if x {
			return decimal.NewFromInt(1)
		}
		return decimal.Zero
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// compareValues orders like SQL: NULL first, numbers numerically, strings
// case-insensitively (MySQL's *_ci collations).
func compareValues(a, b any) int {
	// Fast paths for the common row-versus-row comparisons of a sort.
	if ia, ok := a.(int); ok {
		if ib, ok := b.(int); ok {
			return cmpInt(ia, ib)
		}
	}
	if xa, ok := a.(string); ok {
		if xb, ok := b.(string); ok {
			return foldCompare(xa, xb)
		}
	}
	sa, sb := scalar(a), scalar(b)
	switch {
	case sa == nil && sb == nil:
		return 0
	case sa == nil:
		return -1
	case sb == nil:
		return 1
	}
	if da, ok := sa.(decimal.Decimal); ok {
		if db, ok := sb.(decimal.Decimal); ok {
			return da.Cmp(db)
		}
		if db, err := decimal.NewFromString(sb.(string)); err == nil {
			return da.Cmp(db)
		}
		return strings.Compare(da.String(), sb.(string))
	}
	if db, ok := sb.(decimal.Decimal); ok {
		if da, err := decimal.NewFromString(sa.(string)); err == nil {
			return da.Cmp(db)
		}
		return strings.Compare(sa.(string), db.String())
	}
	return foldCompare(sa.(string), sb.(string))
}

// foldCompare compares ASCII case-insensitively without allocating.
func foldCompare(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func matchFilter(rec record, f Filter) bool {
	v, _ := rec.Get(f.Field)
	isNull := v == nil
	switch f.ConditionType {
	case "null":
		return isNull
	case "notnull":
		return !isNull
	}
	if isNull {
		return false // SQL: comparisons with NULL are never true
	}
	switch f.ConditionType {
	case "eq":
		return compareValues(v, f.Value) == 0
	case "neq":
		return compareValues(v, f.Value) != 0
	case "gt":
		return compareValues(v, f.Value) > 0
	case "gteq", "moreq", "from":
		return compareValues(v, f.Value) >= 0
	case "lt":
		return compareValues(v, f.Value) < 0
	case "lteq", "to":
		return compareValues(v, f.Value) <= 0
	case "in", "nin":
		found := false
		for _, item := range strings.Split(f.Value, ",") {
			if compareValues(v, strings.TrimSpace(item)) == 0 {
				found = true
				break
			}
		}
		return found == (f.ConditionType == "in")
	case "like", "nlike":
		m := likeMatch(fmt.Sprint(plain(v)), f.Value)
		return m == (f.ConditionType == "like")
	case "finset", "nfinset":
		found := false
		for _, item := range strings.Split(fmt.Sprint(plain(v)), ",") {
			if item == f.Value {
				found = true
			}
		}
		return found == (f.ConditionType == "finset")
	}
	return false
}

func plain(v any) any {
	if d, ok := scalar(v).(decimal.Decimal); ok {
		return d.String()
	}
	return v
}

// likeMatch is SQL LIKE: % any run, _ one character, case-insensitive.
func likeMatch(s, pattern string) bool {
	var re strings.Builder
	re.WriteString("(?is)^")
	for _, r := range pattern {
		switch r {
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	ok, err := regexp.MatchString(re.String(), s)
	return err == nil && ok
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
