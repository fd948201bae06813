package commerce

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors, matched with errors.Is against an *Error or a decoder error.
var (
	ErrBadRequest   = errors.New("commerce: bad request")
	ErrUnauthorized = errors.New("commerce: unauthorized")
	ErrForbidden    = errors.New("commerce: forbidden")
	ErrNotFound     = errors.New("commerce: not found")
	ErrRateLimited  = errors.New("commerce: rate limited")
	ErrServer       = errors.New("commerce: server error")
	// ErrPartialFailure: a batch call answered 200 but rejected some rows.
	ErrPartialFailure = errors.New("commerce: partial failure")
	// ErrBulkFailed: an async bulk request finished with failed operations.
	ErrBulkFailed = errors.New("commerce: bulk operations failed")
	// ErrMalformed: an inbound payload lacks what the pipeline keys on.
	ErrMalformed = errors.New("commerce: malformed payload")
)

// bearerHint explains the misleading 401 Commerce gives when an integration
// access token is sent as a plain Bearer token while that is disabled (ref §12).
const bearerHint = "the integration access token was sent as a Bearer token, which Commerce refuses unless " +
	"Stores > Configuration > Services > OAuth > Consumer Settings > " +
	"Allow OAuth Access Tokens to be used as standalone Bearer tokens is Yes; " +
	"prefer OAuth 1.0a signing (the default; do not set the bearer option)"

const consumerNotAuthorized = "The consumer isn't authorized to access %resources."

// Error is a non-2xx answer from Commerce.
type Error struct {
	Status     int             // HTTP status
	Method     string          // request method
	Path       string          // request path below the base URL, e.g. V1/orders
	Message    string          // the template as sent, e.g. "Invalid product data: %1" (stable, for classification)
	Parameters json.RawMessage // list or map, as sent
	Rendered   string          // Message with Parameters substituted, for people
	Code       int             // "code" when present
	ReportID   string          // "webapi-..." of masked 500s, to find the report in Commerce's log
	Errors     []ItemMessage   // nested "errors" when present
	Body       []byte          // the raw body (capped)
	Hint       string          // our explanation when the message is known to mislead
	RetryAfter string          // the Retry-After header of a 429/503
}

// ItemMessage is one templated message, as in "errors" and base-prices failures.
type ItemMessage struct {
	Message    string          `json:"message"`
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// Rendered returns the message with its parameters substituted.
func (m ItemMessage) Rendered() string { return RenderMessage(m.Message, m.Parameters) }

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "commerce: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	switch {
	case e.Rendered != "":
		b.WriteString(": " + e.Rendered)
	case e.Message != "":
		b.WriteString(": " + e.Message)
	}
	for _, sub := range e.Errors {
		b.WriteString("; " + sub.Rendered())
	}
	if e.ReportID != "" && !strings.Contains(e.Rendered, e.ReportID) {
		b.WriteString(" (report " + e.ReportID + ")")
	}
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

// Is maps the status to the package sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrServer:
		return e.Status >= 500
	}
	return false
}

// Temporary reports whether retrying the same request later can succeed.
func (e *Error) Temporary() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

var reportIDPattern = regexp.MustCompile(`webapi-[0-9A-Za-z_.-]+`)

const maxErrorBody = 64 << 10

// newError builds an *Error from a response body; a body that is not
// Commerce's error JSON is kept raw in Body and Message.
func newError(method, path string, status int, body []byte, h http.Header) *Error {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	e := &Error{Status: status, Method: method, Path: path, Body: body}
	if h != nil {
		e.RetryAfter = h.Get("Retry-After")
	}
	var wire struct {
		Message    string          `json:"message"`
		Parameters json.RawMessage `json:"parameters"`
		Errors     []ItemMessage   `json:"errors"`
		Code       json.RawMessage `json:"code"`
	}
	if err := json.Unmarshal(body, &wire); err == nil && wire.Message != "" {
		e.Message = wire.Message
		e.Parameters = wire.Parameters
		e.Errors = wire.Errors
		if n, err := strconv.Atoi(strings.Trim(string(wire.Code), `"`)); err == nil {
			e.Code = n
		}
		e.Rendered = RenderMessage(wire.Message, wire.Parameters)
	} else {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 512 {
			e.Message = e.Message[:512]
		}
	}
	e.ReportID = reportIDPattern.FindString(e.Rendered + " " + e.Message)
	if status == http.StatusUnauthorized && e.Message == consumerNotAuthorized {
		e.Hint = bearerHint
	}
	return e
}

// RenderMessage substitutes Commerce message parameters (ref §14) in one
// pass over template, so a substituted value is never substituted again.
// A JSON list fills %1..%n by position (%10 is the tenth, not %1 and a 0)
// and fills a named placeholder with the next list value in order: Commerce's
// batch endpoints send named templates with list parameters
// ("Invalid attribute %fieldName = %fieldValue." with ["Price","-1"]), which
// its admin renders the same way. A JSON map fills %name (the longest key
// that starts the name, as PHP's strtr does). A placeholder without a value
// stays as it is; anything else leaves the template unchanged.
func RenderMessage(template string, params json.RawMessage) string {
	if len(params) == 0 || !strings.Contains(template, "%") {
		return template
	}
	var lookup func(name string, positional bool) (value string, used int, ok bool)
	var list []json.RawMessage
	var m map[string]json.RawMessage
	switch {
	case json.Unmarshal(params, &list) == nil:
		next := 0
		lookup = func(name string, positional bool) (string, int, bool) {
			if positional {
				i, err := strconv.Atoi(name)
				if err != nil || i < 1 || i > len(list) {
					return "", 0, false
				}
				return paramText(list[i-1]), len(name), true
			}
			if next >= len(list) {
				return "", 0, false
			}
			next++
			return paramText(list[next-1]), len(name), true
		}
	case json.Unmarshal(params, &m) == nil && m != nil:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
		lookup = func(name string, _ bool) (string, int, bool) {
			for _, k := range keys {
				if k != "" && strings.HasPrefix(name, k) {
					return paramText(m[k]), len(k), true
				}
			}
			return "", 0, false
		}
	default:
		return template
	}
	var b strings.Builder
	for i := 0; i < len(template); {
		c := template[i]
		if c != '%' {
			b.WriteByte(c)
			i++
			continue
		}
		name, positional := placeholderAt(template[i+1:])
		if name == "" {
			b.WriteByte(c)
			i++
			continue
		}
		v, used, ok := lookup(name, positional)
		if !ok {
			b.WriteString(template[i : i+1+len(name)])
			i += 1 + len(name)
			continue
		}
		b.WriteString(v)
		i += 1 + used
	}
	return b.String()
}

// placeholderAt reads the placeholder name at the start of s: digits (a
// position) or a word starting with a letter or '_'.
func placeholderAt(s string) (name string, positional bool) {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n > 0 {
		return s[:n], true
	}
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || n > 0 && s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return s[:n], false
}

// paramText is how PHP's Phrase would print a parameter: strings bare, other
// scalars as their JSON text, null as empty.
func paramText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	t := strings.TrimSpace(string(raw))
	if t == "null" {
		return ""
	}
	return t
}

// paramStrings returns every scalar parameter value (list or map) as text.
func paramStrings(params json.RawMessage) []string {
	var out []string
	var list []json.RawMessage
	if err := json.Unmarshal(params, &list); err == nil {
		for _, p := range list {
			out = append(out, paramText(p))
		}
		return out
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(params, &m); err == nil {
		for _, p := range m {
			out = append(out, paramText(p))
		}
	}
	return out
}
