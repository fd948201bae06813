package netsuite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Record types the connector writes (camelCase, ref §1).
const (
	TypeCustomer   = "customer"
	TypeSalesOrder = "salesOrder"
	TypeInvoice    = "invoice"
)

// maxExternalIDLen keeps ids well inside NetSuite's undocumented limit.
const maxExternalIDLen = 99

// ValidateExternalID checks an external id against [A-Za-z0-9_-]{1,99}.
func ValidateExternalID(id string) error {
	if id == "" || len(id) > maxExternalIDLen {
		return fmt.Errorf("%w: %q must be 1..%d characters", ErrInvalidExternalID, id, maxExternalIDLen)
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return fmt.Errorf("%w: %q has %q outside [A-Za-z0-9_-]", ErrInvalidExternalID, id, b)
		}
	}
	return nil
}

func validRecordType(t string) error {
	if t == "" || strings.ContainsAny(t, "/?#!. ") {
		return fmt.Errorf("netsuite: bad record type %q", t)
	}
	return nil
}

// WriteOption adjusts a write.
type WriteOption func(*writeOpts)

type writeOpts struct {
	query  url.Values
	header http.Header
}

// Replace clears and replaces the named sublists instead of appending to
// them (?replace=item): required when re-sending a transaction's lines.
func Replace(sublists ...string) WriteOption {
	return func(o *writeOpts) { o.query.Set("replace", strings.Join(sublists, ",")) }
}

// ReplaceSelectedFields sets replaceSelectedFields=true (ref §3).
func ReplaceSelectedFields() WriteOption {
	return func(o *writeOpts) { o.query.Set("replaceSelectedFields", "true") }
}

// WithWriteHeader adds a header to one write (e.g. PropertyValueValidation).
func WithWriteHeader(name, value string) WriteOption {
	return func(o *writeOpts) { o.header.Set(name, value) }
}

func applyWrite(opts []WriteOption) writeOpts {
	o := writeOpts{query: url.Values{}, header: http.Header{}}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// GetOption adjusts a read.
type GetOption func(url.Values)

// Fields limits the body fields returned.
func Fields(names ...string) GetOption {
	return func(q url.Values) { q.Set("fields", strings.Join(names, ",")) }
}

// ExpandSubResources inlines sublists and subrecords.
func ExpandSubResources() GetOption {
	return func(q url.Values) { q.Set("expandSubResources", "true") }
}

// SimpleEnumFormat returns enums as bare ids.
func SimpleEnumFormat() GetOption {
	return func(q url.Values) { q.Set("simpleEnumFormat", "true") }
}

func eidRef(externalID string) string { return "eid:" + externalID }

// Create POSTs a new record and returns its internal id from Location.
// Not idempotent: a retry after an ambiguous error may create a duplicate;
// prefer Upsert with an external id.
func (c *Client) Create(ctx context.Context, recordType string, body any, opts ...WriteOption) (string, error) {
	if err := validRecordType(recordType); err != nil {
		return "", err
	}
	o := applyWrite(opts)
	op := "POST " + recordType
	resp, err := c.do(ctx, request{method: http.MethodPost, path: recordPath + recordType, query: o.query,
		header: o.header, body: body, write: true, op: op})
	if err != nil {
		return "", err
	}
	return idFromLocation(op, resp.header.Get("Location"))
}

// Patch updates fields of a record by internal id (or "eid:<ext>").
// Without Replace, non-keyed sublist lines are appended.
func (c *Client) Patch(ctx context.Context, recordType, id string, body any, opts ...WriteOption) error {
	if err := validRecordType(recordType); err != nil {
		return err
	}
	o := applyWrite(opts)
	_, err := c.do(ctx, request{method: http.MethodPatch, path: recordPath + recordType + "/" + url.PathEscape(id),
		query: o.query, header: o.header, body: body, write: true, op: "PATCH " + recordType + "/" + id})
	return err
}

// Upsert PUTs body to <recordType>/eid:<externalID>, creating or updating
// the record, and returns its internal id: from the Location header when
// NetSuite sends one naming a record of that type, else read back by eid:
// (ref §4.2: the 204 carries no dependable Location). For transactions use
// UpsertTransaction, or at least Replace("item"): a plain PUT on an
// existing order appends its lines again.
func (c *Client) Upsert(ctx context.Context, recordType, externalID string, body any, opts ...WriteOption) (string, error) {
	id, err := c.put(ctx, recordType, externalID, body, opts)
	if err != nil || id != "" {
		return id, err
	}
	return c.lookupID(ctx, recordType, externalID)
}

// put sends the upsert and returns the id its Location names, if any.
func (c *Client) put(ctx context.Context, recordType, externalID string, body any, opts []WriteOption) (string, error) {
	if err := validRecordType(recordType); err != nil {
		return "", err
	}
	if err := ValidateExternalID(externalID); err != nil {
		return "", err
	}
	o := applyWrite(opts)
	resp, err := c.do(ctx, request{method: http.MethodPut, path: recordPath + recordType + "/" + eidRef(externalID),
		query: o.query, header: o.header, body: body, write: true, op: "PUT " + recordType + "/" + eidRef(externalID)})
	if err != nil {
		return "", err
	}
	return recordIDFromLocation(recordType, resp.header.Get("Location")), nil
}

// UpsertTransaction writes a sales order or invoice at most once, following
// ref §4.3: look it up by eid:; if it exists return its id untouched
// (created=false); else PUT ?replace=item and take the id from Location or
// read it back. When the PUT's outcome is unknown (timeout, reset, a 5xx
// answer) it goes back to the lookup instead of re-sending, a bounded
// number of times.
func (c *Client) UpsertTransaction(ctx context.Context, recordType, externalID string, body any) (id string, created bool, err error) {
	if err := ValidateExternalID(externalID); err != nil {
		return "", false, err
	}
	const rounds = 3
	var lastErr error
	for round := 0; round < rounds; round++ {
		id, err := c.lookupID(ctx, recordType, externalID)
		switch {
		case err == nil:
			// Found: either it existed before, or our ambiguous PUT landed.
			return id, round > 0, nil
		case !errors.Is(err, ErrNotFound):
			return "", false, err
		}
		id, err = c.put(ctx, recordType, externalID, body, []WriteOption{Replace("item")})
		if err == nil && id != "" {
			return id, true, nil
		}
		if err == nil {
			id, err := c.lookupID(ctx, recordType, externalID)
			if err != nil {
				return "", true, fmt.Errorf("netsuite: %s %s written but not read back: %w", recordType, externalID, err)
			}
			return id, true, nil
		}
		if !errors.Is(err, ErrAmbiguous) || ctx.Err() != nil {
			return "", false, err
		}
		lastErr = err
	}
	return "", false, lastErr
}

// Get reads a record by internal id (or "eid:<ext>") into out (nil to
// discard). out is decoded with encoding/json; NetSuite's numbers stay numbers.
func (c *Client) Get(ctx context.Context, recordType, id string, out any, opts ...GetOption) error {
	if err := validRecordType(recordType); err != nil {
		return err
	}
	q := url.Values{}
	for _, o := range opts {
		o(q)
	}
	op := "GET " + recordType + "/" + id
	resp, err := c.do(ctx, request{method: http.MethodGet, path: recordPath + recordType + "/" + url.PathEscape(id), query: q, op: op})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("netsuite: %s: decode: %w", op, err)
	}
	return nil
}

// GetByExternalID reads a record by external id.
func (c *Client) GetByExternalID(ctx context.Context, recordType, externalID string, out any, opts ...GetOption) error {
	if err := ValidateExternalID(externalID); err != nil {
		return err
	}
	return c.Get(ctx, recordType, eidRef(externalID), out, opts...)
}

// LookupID returns the internal id of the record with externalID, or an
// error matching ErrNotFound.
func (c *Client) LookupID(ctx context.Context, recordType, externalID string) (string, error) {
	if err := ValidateExternalID(externalID); err != nil {
		return "", err
	}
	return c.lookupID(ctx, recordType, externalID)
}

func (c *Client) lookupID(ctx context.Context, recordType, externalID string) (string, error) {
	var rec struct {
		ID flexString `json:"id"`
	}
	if err := c.Get(ctx, recordType, eidRef(externalID), &rec, Fields("id")); err != nil {
		return "", err
	}
	if rec.ID == "" {
		return "", fmt.Errorf("netsuite: GET %s/%s: response has no id", recordType, eidRef(externalID))
	}
	return string(rec.ID), nil
}

// Transform turns a record into another type (POST .../!transform/...)
// and returns the new record's id from Location. Not idempotent: every call
// creates a record, so check for an existing one first.
func (c *Client) Transform(ctx context.Context, fromType, id, toType string, body any) (string, error) {
	if err := validRecordType(fromType); err != nil {
		return "", err
	}
	if err := validRecordType(toType); err != nil {
		return "", err
	}
	if body == nil {
		body = json.RawMessage("{}")
	}
	op := "POST " + fromType + "/" + id + "/!transform/" + toType
	resp, err := c.do(ctx, request{method: http.MethodPost,
		path: recordPath + fromType + "/" + url.PathEscape(id) + "/!transform/" + toType,
		body: body, write: true, op: op})
	if err != nil {
		return "", err
	}
	return idFromLocation(op, resp.header.Get("Location"))
}

// TransformToInvoice bills a sales order (ref §7) and returns the invoice id.
func (c *Client) TransformToInvoice(ctx context.Context, salesOrderID string, body any) (string, error) {
	return c.Transform(ctx, TypeSalesOrder, salesOrderID, TypeInvoice, body)
}

// idFromLocation takes the last path segment of a Location header.
func idFromLocation(op, loc string) (string, error) {
	if loc == "" {
		return "", fmt.Errorf("netsuite: %s: response has no Location", op)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("netsuite: %s: bad Location %q: %w", op, loc, err)
	}
	p := strings.TrimRight(u.Path, "/")
	i := strings.LastIndexByte(p, '/')
	id := p[i+1:]
	if id == "" {
		return "", fmt.Errorf("netsuite: %s: no id in Location %q", op, loc)
	}
	return id, nil
}

// recordIDFromLocation is the internal id of a Location header that names
// a record of recordType (.../record/v1/<type>/<numeric id>), "" for any
// other Location or none: an async job URL or an eid: path is no id.
func recordIDFromLocation(recordType, loc string) string {
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(strings.TrimRight(u.Path, "/"), recordPath)
	if !ok {
		return ""
	}
	typ, id, ok := strings.Cut(rest, "/")
	if !ok || !strings.EqualFold(typ, recordType) || id == "" || len(id) > 20 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return ""
		}
	}
	return id
}

// flexString decodes a JSON string or number as a string.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*f = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// Ref is a record reference or an enum value as NetSuite returns it: an
// object {"id","refName","links"} in newer output, a bare string (or
// number) in older output (ref §3). It marshals as {"id":...}, the form
// writes take.
type Ref struct {
	ID      string
	RefName string
}

// UnmarshalJSON accepts an object with id/refName, a string or a number.
func (r *Ref) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var o struct {
			ID      flexString `json:"id"`
			RefName string     `json:"refName"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*r = Ref{ID: string(o.ID), RefName: o.RefName}
		return nil
	}
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("netsuite: reference %s: %w", b, err)
	}
	*r = Ref{ID: string(s)}
	return nil
}

// MarshalJSON writes {"id":"..."}.
func (r Ref) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID string `json:"id"`
	}{r.ID})
}
