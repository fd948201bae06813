package netsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// SuiteQL paging limits (ref §8).
const (
	MaxPageSize   = 1000
	MaxOffsetRows = 100000
)

// Row is one SuiteQL result row. NetSuite sends every value as a string and
// column names in lowercase; a null column may be missing.
type Row map[string]string

// String is the column's value, "" when missing.
func (r Row) String(col string) string { return r[strings.ToLower(col)] }

// Has reports whether the column is present (not null).
func (r Row) Has(col string) bool { _, ok := r[strings.ToLower(col)]; return ok }

// Int64 parses the column as an integer; a missing column is an error.
func (r Row) Int64(col string) (int64, error) {
	v, ok := r[strings.ToLower(col)]
	if !ok {
		return 0, fmt.Errorf("netsuite: column %q is null", col)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("netsuite: column %q: %w", col, err)
	}
	return n, nil
}

// Decimal parses the column as a decimal (prices, quantities). A missing
// column is an error; use Has first for nullable columns.
func (r Row) Decimal(col string) (decimal.Decimal, error) {
	v, ok := r[strings.ToLower(col)]
	if !ok {
		return decimal.Decimal{}, fmt.Errorf("netsuite: column %q is null", col)
	}
	d, err := decimal.NewFromString(strings.TrimSpace(v))
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("netsuite: column %q: %w", col, err)
	}
	return d, nil
}

// Bool reads NetSuite's "T"/"F" (also "true"/"false"); missing is false.
func (r Row) Bool(col string) (bool, error) {
	v, ok := r[strings.ToLower(col)]
	if !ok {
		return false, nil
	}
	switch strings.ToUpper(strings.TrimSpace(v)) {
	case "T", "TRUE", "Y":
		return true, nil
	case "F", "FALSE", "N", "":
		return false, nil
	}
	return false, fmt.Errorf("netsuite: column %q: %q is not a boolean", col, v)
}

// Link is a HATEOAS link of a collection.
type Link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// Page is one SuiteQL answer.
type Page struct {
	Items        []Row
	Count        int
	Offset       int
	TotalResults int
	HasMore      bool
	Links        []Link
}

type pageJSON struct {
	Links        []Link            `json:"links"`
	Count        flexInt           `json:"count"`
	HasMore      flexBool          `json:"hasMore"`
	Offset       flexInt           `json:"offset"`
	TotalResults flexInt           `json:"totalResults"`
	Items        []json.RawMessage `json:"items"`
}

// parsePage decodes a SuiteQL collection, tolerating numbers, booleans and
// nulls where NetSuite promises strings.
func parsePage(body []byte) (*Page, error) {
	var pj pageJSON
	if err := json.Unmarshal(body, &pj); err != nil {
		return nil, fmt.Errorf("netsuite: decode SuiteQL page: %w", err)
	}
	p := &Page{Count: int(pj.Count), Offset: int(pj.Offset), TotalResults: int(pj.TotalResults),
		HasMore: bool(pj.HasMore), Links: pj.Links, Items: make([]Row, 0, len(pj.Items))}
	for i, raw := range pj.Items {
		var cols map[string]json.RawMessage
		if err := json.Unmarshal(raw, &cols); err != nil {
			return nil, fmt.Errorf("netsuite: decode SuiteQL row %d: %w", i, err)
		}
		row := make(Row, len(cols))
		for k, v := range cols {
			if k == "links" {
				continue
			}
			s, ok, err := scalarString(v)
			if err != nil {
				return nil, fmt.Errorf("netsuite: decode SuiteQL row %d column %q: %w", i, k, err)
			}
			if ok {
				row[strings.ToLower(k)] = s
			}
		}
		p.Items = append(p.Items, row)
	}
	return p, nil
}

// scalarString renders a JSON scalar as NetSuite would have as a string;
// ok is false for null.
func scalarString(v json.RawMessage) (string, bool, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || string(v) == "null" {
		return "", false, nil
	}
	switch v[0] {
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err == nil, err
	case 't':
		return "T", true, nil
	case 'f':
		return "F", true, nil
	case '{', '[':
		return "", false, fmt.Errorf("not a scalar")
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", false, err
	}
	return n.String(), true, nil
}

// QueryOption adjusts one SuiteQL page request.
type QueryOption func(*queryOpts)

type queryOpts struct{ limit, offset int }

// Limit sets the page size (1..1000, default 1000).
func Limit(n int) QueryOption { return func(o *queryOpts) { o.limit = n } }

// Offset sets the first row; it must be a multiple of the limit.
func Offset(n int) QueryOption { return func(o *queryOpts) { o.offset = n } }

// SuiteQL runs one page of a query. params bind the ? placeholders in order;
// always bind outside data instead of formatting it into q.
func (c *Client) SuiteQL(ctx context.Context, q string, params []string, opts ...QueryOption) (*Page, error) {
	o := queryOpts{limit: MaxPageSize}
	for _, f := range opts {
		f(&o)
	}
	if o.limit < 1 || o.limit > MaxPageSize {
		return nil, fmt.Errorf("netsuite: SuiteQL limit %d outside 1..%d", o.limit, MaxPageSize)
	}
	if o.offset < 0 || o.offset%o.limit != 0 {
		return nil, fmt.Errorf("netsuite: SuiteQL offset %d is not a multiple of limit %d", o.offset, o.limit)
	}
	if o.offset+o.limit > MaxOffsetRows {
		return nil, fmt.Errorf("%w (offset %d, limit %d)", ErrResultCap, o.offset, o.limit)
	}
	body := struct {
		Q      string   `json:"q"`
		Params []string `json:"params,omitempty"`
	}{q, params}
	query := url.Values{"limit": {strconv.Itoa(o.limit)}, "offset": {strconv.Itoa(o.offset)}}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: suiteQLPath, query: query, body: body,
		header: http.Header{"Prefer": {"transient"}}, op: "SuiteQL"})
	if err != nil {
		return nil, err
	}
	return parsePage(resp.body)
}

// QueryKeyset runs a keyset-paged query (ref §8, the way to read big
// tables): q must end its WHERE with "<key> > ?" as the LAST placeholder
// and ORDER BY that key. params are the placeholders before it; the cursor
// starts at "0" and moves to each page's last key. fn sees every row in
// order; an error from fn stops the walk and is returned.
func (c *Client) QueryKeyset(ctx context.Context, q string, params []string, fn func(Row) error, opts ...KeysetOption) error {
	o := keysetOpts{key: "id", start: "0", limit: MaxPageSize}
	for _, f := range opts {
		f(&o)
	}
	cursor := o.start
	for {
		args := append(append(make([]string, 0, len(params)+1), params...), cursor)
		page, err := c.SuiteQL(ctx, q, args, Limit(o.limit))
		if err != nil {
			return err
		}
		for _, r := range page.Items {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page.Items) < o.limit || !page.HasMore {
			return nil
		}
		next := page.Items[len(page.Items)-1].String(o.key)
		if next == "" {
			return fmt.Errorf("netsuite: keyset paging: last row has no %q column", o.key)
		}
		if next == cursor {
			return fmt.Errorf("netsuite: keyset paging: key %q did not advance past %q (is the query ordered by it?)", o.key, cursor)
		}
		cursor = next
	}
}

// KeysetOption adjusts QueryKeyset.
type KeysetOption func(*keysetOpts)

type keysetOpts struct {
	key, start string
	limit      int
}

// KeyColumn names the key column (default "id").
func KeyColumn(col string) KeysetOption {
	return func(o *keysetOpts) { o.key = strings.ToLower(col) }
}

// StartAfter sets the first cursor value (default "0").
func StartAfter(v string) KeysetOption { return func(o *keysetOpts) { o.start = v } }

// PageSize sets the keyset page size (default 1000).
func PageSize(n int) KeysetOption { return func(o *keysetOpts) { o.limit = n } }

// QueryAll walks a query with offset paging: offsets stay multiples of the
// page size, and a result that would pass 100,000 rows fails with
// ErrResultCap rather than being silently cut (use QueryKeyset for those).
func (c *Client) QueryAll(ctx context.Context, q string, params []string, fn func(Row) error, opts ...QueryOption) error {
	o := queryOpts{limit: MaxPageSize}
	for _, f := range opts {
		f(&o)
	}
	for offset := 0; ; offset += o.limit {
		page, err := c.SuiteQL(ctx, q, params, Limit(o.limit), Offset(offset))
		if err != nil {
			return err
		}
		for _, r := range page.Items {
			if err := fn(r); err != nil {
				return err
			}
		}
		if !page.HasMore || len(page.Items) == 0 {
			return nil
		}
		if offset+2*o.limit > MaxOffsetRows {
			return fmt.Errorf("%w: the query has more rows", ErrResultCap)
		}
	}
}

// flexInt decodes a JSON number or numeric string.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s, ok, err := scalarString(b)
	if err != nil || !ok {
		*f = 0
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt(n)
	return nil
}

// flexBool decodes true/false, "T"/"F" or "true"/"false".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	s, ok, err := scalarString(b)
	if err != nil || !ok {
		*f = false
		return err
	}
	r := Row{"v": s}
	v, err := r.Bool("v")
	*f = flexBool(v)
	return err
}
