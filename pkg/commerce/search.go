package commerce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Search condition types (ref §8).
const (
	CondEq      = "eq"
	CondNeq     = "neq"
	CondGt      = "gt"
	CondGteq    = "gteq"
	CondLt      = "lt"
	CondLteq    = "lteq"
	CondIn      = "in"
	CondNin     = "nin"
	CondLike    = "like"
	CondNull    = "null"
	CondNotNull = "notnull"
)

// MaxPageSize is Commerce's page size limit with input limits on (ref §14).
const MaxPageSize = 300

// Filter is one condition; filters in one group are OR-ed.
type Filter struct {
	Field     string
	Condition string // CondEq when empty
	Value     string
}

// F builds a Filter.
func F(field, condition, value string) Filter {
	return Filter{Field: field, Condition: condition, Value: value}
}

// SortOrder is one sort key.
type SortOrder struct {
	Field     string
	Direction string // "ASC" or "DESC"; always sent explicitly
}

// SearchCriteria is Commerce's searchCriteria: groups AND-ed, filters within
// a group OR-ed, sort orders applied in sequence.
type SearchCriteria struct {
	Groups      [][]Filter
	SortOrders  []SortOrder
	PageSize    int // 0 = not sent
	CurrentPage int // 0 = not sent
}

// Where returns a copy with one more group (the given filters OR-ed).
func (s SearchCriteria) Where(filters ...Filter) SearchCriteria {
	g := append([][]Filter(nil), s.Groups...)
	s.Groups = append(g, append([]Filter(nil), filters...))
	return s
}

// OrderBy returns a copy with one more sort key.
func (s SearchCriteria) OrderBy(field, direction string) SearchCriteria {
	s.SortOrders = append(append([]SortOrder(nil), s.SortOrders...), SortOrder{field, direction})
	return s
}

// Page returns a copy asking for page (1-based) of size.
func (s SearchCriteria) Page(size, page int) SearchCriteria {
	s.PageSize, s.CurrentPage = size, page
	return s
}

// Values encodes the bracket syntax; url.Values.Encode percent-encodes the
// brackets and the space of a timestamp, which PHP accepts.
func (s SearchCriteria) Values() url.Values {
	v := url.Values{}
	for i, g := range s.Groups {
		for j, f := range g {
			p := "searchCriteria[filter_groups][" + strconv.Itoa(i) + "][filters][" + strconv.Itoa(j) + "]"
			cond := f.Condition
			if cond == "" {
				cond = CondEq
			}
			v.Set(p+"[field]", f.Field)
			v.Set(p+"[value]", f.Value)
			v.Set(p+"[condition_type]", cond)
		}
	}
	for k, o := range s.SortOrders {
		p := "searchCriteria[sortOrders][" + strconv.Itoa(k) + "]"
		dir := o.Direction
		if dir == "" {
			dir = "ASC"
		}
		v.Set(p+"[field]", o.Field)
		v.Set(p+"[direction]", dir)
	}
	if s.PageSize > 0 {
		v.Set("searchCriteria[pageSize]", strconv.Itoa(s.PageSize))
	}
	if s.CurrentPage > 0 {
		v.Set("searchCriteria[currentPage]", strconv.Itoa(s.CurrentPage))
	}
	return v
}

// SearchResult is the list envelope of a search.
type SearchResult[T any] struct {
	Items          []T             `json:"items"`
	TotalCount     int             `json:"total_count"`
	SearchCriteria json.RawMessage `json:"search_criteria,omitempty"`
}

// Cursor is the position of an incremental poll: the updated_at and
// entity_id of the last record processed. It marshals to JSON for the
// checkpoint store.
type Cursor struct {
	UpdatedAt time.Time
	EntityID  int64
}

type cursorJSON struct {
	UpdatedAt string `json:"updated_at"`
	EntityID  int64  `json:"entity_id"`
}

func (c Cursor) MarshalJSON() ([]byte, error) {
	return json.Marshal(cursorJSON{FormatTime(c.UpdatedAt), c.EntityID})
}

func (c *Cursor) UnmarshalJSON(b []byte) error {
	var w cursorJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("commerce: cursor: %w", err)
	}
	t, err := ParseTime(w.UpdatedAt)
	if err != nil {
		return fmt.Errorf("commerce: cursor: %w", err)
	}
	c.UpdatedAt, c.EntityID = t, w.EntityID
	return nil
}

func (c Cursor) String() string {
	return FormatTime(c.UpdatedAt) + "#" + strconv.FormatInt(c.EntityID, 10)
}

// Rewind returns a cursor d earlier, from the start of that second, to
// re-read records whose transaction committed late (ref §8).
func (c Cursor) Rewind(d time.Duration) Cursor {
	return Cursor{UpdatedAt: c.UpdatedAt.Add(-d).Truncate(time.Second)}
}

// before reports whether c sorts strictly before (t, id).
func (c Cursor) before(t time.Time, id int64) bool {
	return c.UpdatedAt.Before(t) || (c.UpdatedAt.Equal(t) && c.EntityID < id)
}

// PollOptions bounds one incremental poll.
type PollOptions struct {
	PageSize int       // default 100, at most MaxPageSize
	Until    time.Time // upper bound of updated_at; default now - 5 s
	// Where adds filter groups (AND-ed with the keyset), e.g. store_id eq 2:
	// Commerce lists orders and invoices of every store whatever store code
	// the URL names.
	Where [][]Filter
}

// keysetCriteria is the recommended poll query of ref §8.
func keysetCriteria(cur Cursor, until time.Time, size int, where [][]Filter) SearchCriteria {
	t := FormatTime(cur.UpdatedAt)
	sc := SearchCriteria{}
	for _, g := range where {
		sc = sc.Where(g...)
	}
	return sc.
		Where(F("updated_at", CondGteq, t)).
		Where(F("updated_at", CondGt, t), F("entity_id", CondGt, strconv.FormatInt(cur.EntityID, 10))).
		Where(F("updated_at", CondLteq, FormatTime(until))).
		OrderBy("updated_at", "ASC").
		OrderBy("entity_id", "ASC").
		Page(size, 1)
}

func pageSize(n, def int) int {
	if n <= 0 {
		return def
	}
	return min(n, MaxPageSize)
}

// pollKeyset walks path by (updated_at, entity_id) from cur, always asking
// for page 1 of what lies after the cursor, and stops on a short page.
func pollKeyset[T any](ctx context.Context, c *Client, path string, cur Cursor, opt PollOptions,
	key func(T) (time.Time, int64), fn func(context.Context, []T, Cursor) error) (Cursor, error) {
	size := pageSize(opt.PageSize, 100)
	until := opt.Until
	if until.IsZero() {
		until = time.Now().Add(-5 * time.Second)
	}
	until = until.UTC().Truncate(time.Second)
	// Commerce compares whole seconds: a cursor with a fraction would sort
	// after the records of its own second and look like a broken keyset.
	cur.UpdatedAt = cur.UpdatedAt.UTC().Truncate(time.Second)
	for {
		var page SearchResult[T]
		if err := c.Do(ctx, http.MethodGet, path, keysetCriteria(cur, until, size, opt.Where).Values(), nil, &page); err != nil {
			return cur, err
		}
		next := cur
		for _, it := range page.Items {
			t, id := key(it)
			if !next.before(t, id) {
				return cur, fmt.Errorf("commerce: poll %s: record %d at %s is not after cursor %s: server ignored the keyset filter or sort",
					path, id, FormatTime(t), next)
			}
			next = Cursor{UpdatedAt: t, EntityID: id}
		}
		if len(page.Items) > 0 {
			if err := fn(ctx, page.Items, next); err != nil {
				return cur, err
			}
			cur = next
		}
		if len(page.Items) < size {
			return cur, nil
		}
	}
}

// walk pages through a search by currentPage. Commerce repeats the last page
// for a page number past the end, so it stops when total_count is reached or
// a page brings no new ids, and hands each record to fn once.
func walk[T any](ctx context.Context, c *Client, path string, sc SearchCriteria,
	id func(T) int64, fn func(context.Context, []T) error) error {
	size := pageSize(sc.PageSize, 100)
	seen := make(map[int64]struct{})
	for n := 1; ; n++ {
		var page SearchResult[T]
		if err := c.Do(ctx, http.MethodGet, path, sc.Page(size, n).Values(), nil, &page); err != nil {
			return err
		}
		fresh := make([]T, 0, len(page.Items))
		for _, it := range page.Items {
			k := id(it)
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
			fresh = append(fresh, it)
		}
		if len(fresh) == 0 {
			return nil
		}
		if err := fn(ctx, fresh); err != nil {
			return err
		}
		if (n-1)*size+len(page.Items) >= page.TotalCount || len(page.Items) < size {
			return nil
		}
	}
}
