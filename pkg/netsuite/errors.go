package netsuite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ml-connector/ml-connector/pkg/retry"
)

// Sentinels matched with errors.Is against the errors this package returns.
var (
	ErrNotFound         = errors.New("netsuite: record not found")                // 404 NONEXISTENT_ID
	ErrConcurrencyLimit = errors.New("netsuite: concurrency limit exceeded")      // 429 (and the 401-under-load quirk)
	ErrUnauthorized     = errors.New("netsuite: unauthorized")                    // 401 INVALID_LOGIN
	ErrForbidden        = errors.New("netsuite: insufficient permission")         // 403
	ErrBadRequest       = errors.New("netsuite: request rejected")                // any 400
	ErrInvalidContent   = errors.New("netsuite: invalid content")                 // 400 INVALID_CONTENT
	ErrServer           = errors.New("netsuite: server error")                    // 5xx
	ErrAuthConfig       = errors.New("netsuite: authentication is misconfigured") // token endpoint refuses us: stop, alert
	// ErrAmbiguous marks a write whose outcome is unknown (timeout, broken
	// connection after the request left, or a 5xx answer: NetSuite may have
	// committed before failing): reconcile by eid: before retrying.
	ErrAmbiguous = errors.New("netsuite: write outcome unknown")
	// ErrTransport is a connection-level failure on a read or a token request.
	ErrTransport = errors.New("netsuite: transport error")
	// ErrResultCap is an offset-paged SuiteQL query that would pass the
	// 100,000-row REST limit; use keyset paging instead.
	ErrResultCap = errors.New("netsuite: SuiteQL offset paging is capped at 100000 rows")
	// ErrInvalidExternalID is an external id outside [A-Za-z0-9_-] or too long.
	ErrInvalidExternalID = errors.New("netsuite: invalid external id")
)

// NetSuite o:errorCode values the client acts on.
const (
	CodeNonexistentID    = "NONEXISTENT_ID"
	CodeInvalidContent   = "INVALID_CONTENT"
	CodeConcurrencyLimit = "CONCURRENCY_LIMIT_EXCEEDED"
	CodeInvalidLogin     = "INVALID_LOGIN"
	CodeUserError        = "USER_ERROR"
	CodeUnexpectedError  = "UNEXPECTED_ERROR"
)

// ErrorDetail is one entry of NetSuite's o:errorDetails.
type ErrorDetail struct {
	Detail     string `json:"detail"`
	Code       string `json:"o:errorCode,omitempty"`
	Path       string `json:"o:errorPath,omitempty"`
	URL        string `json:"o:errorUrl,omitempty"`
	URLPath    string `json:"o:urlPath,omitempty"`
	Header     string `json:"o:errorHeader,omitempty"`
	QueryParam string `json:"o:errorQueryParam,omitempty"`
}

// Error is a non-2xx answer from NetSuite. Body keeps the raw response for
// the DLQ; it never contains our credentials.
type Error struct {
	Op      string // e.g. "PUT salesOrder/eid:mlc-so-default-1"
	Status  int
	Code    string // first detail's o:errorCode, else the top-level one, else the OAuth "error"
	TopCode string // top-level o:errorCode, if any (USER_ERROR on the documented 429)
	Title   string
	Details []ErrorDetail
	Body    []byte
	// Wait is a server-requested minimum delay (Retry-After), if any.
	Wait time.Duration
	// UnderLoad marks a 401 that followed a fresh token while the account
	// was throttling: the §11.2 quirk, handled like a 429.
	UnderLoad bool
	// Write marks the answer to a write (POST, PUT, PATCH, a transform). A
	// 5xx there is ambiguous: a strict NetSuite commits and then fails, so
	// a blind repeat of a create or transform makes a duplicate.
	Write bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("netsuite: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.UnderLoad {
		b.WriteString(" (under load, treated as throttling)")
	}
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.Detail)
		if d.Path != "" {
			b.WriteString(" (path ")
			b.WriteString(d.Path)
			b.WriteString(")")
		}
		if d.Code != "" && d.Code != e.Code {
			b.WriteString(" [" + d.Code + "]")
		}
	}
	if len(e.Details) == 0 && e.Title != "" {
		b.WriteString(": ")
		b.WriteString(e.Title)
	}
	return b.String()
}

// Path is the first o:errorPath, the field NetSuite blames.
func (e *Error) Path() string {
	for _, d := range e.Details {
		if d.Path != "" {
			return d.Path
		}
	}
	return ""
}

// RetryAfter is the Retry-After the server sent (NetSuite documents none).
func (e *Error) RetryAfter() time.Duration { return e.Wait }

func (e *Error) hasCode(code string) bool {
	if e.Code == code || e.TopCode == code {
		return true
	}
	for _, d := range e.Details {
		if d.Code == code {
			return true
		}
	}
	return false
}

// Is matches the package sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConcurrencyLimit:
		return e.Status == http.StatusTooManyRequests || e.hasCode(CodeConcurrencyLimit) || e.UnderLoad
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrBadRequest:
		return e.Status == http.StatusBadRequest
	case ErrInvalidContent:
		return e.hasCode(CodeInvalidContent)
	case ErrServer:
		return e.Status >= 500
	case ErrAmbiguous:
		return e.Write && e.Status >= 500
	}
	return false
}

// errorBody is both NetSuite's error shape and the OAuth one.
type errorBody struct {
	Type             string        `json:"type"`
	Title            string        `json:"title"`
	Code             string        `json:"o:errorCode"`
	Details          []ErrorDetail `json:"o:errorDetails"`
	OAuthError       string        `json:"error"`
	OAuthDescription string        `json:"error_description"`
}

// parseError builds an *Error from a non-2xx response. It never fails: a
// body that is not NetSuite's JSON is kept raw.
func parseError(op string, status int, header http.Header, body []byte) *Error {
	e := &Error{Op: op, Status: status, Body: body}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil {
		e.Title = eb.Title
		e.TopCode = eb.Code
		e.Details = eb.Details
		for _, d := range eb.Details {
			if d.Code != "" {
				e.Code = d.Code
				break
			}
		}
		if e.Code == "" {
			e.Code = eb.Code
		}
		if e.Code == "" && eb.OAuthError != "" {
			e.Code = eb.OAuthError
			if eb.OAuthDescription != "" {
				e.Details = append(e.Details, ErrorDetail{Detail: eb.OAuthDescription})
			}
		}
	}
	if e.Title == "" && len(e.Details) == 0 && e.Code == "" {
		e.Title = http.StatusText(status)
		if s := strings.TrimSpace(string(body)); s != "" && len(s) < 200 {
			e.Title += ": " + s
		}
	}
	if header != nil {
		e.Wait, _ = retry.ParseRetryAfter(header.Get("Retry-After"), time.Now())
	}
	return e
}

// Class is what a caller should do about an error.
type Class int

const (
	// ClassPermanent: retrying cannot help (validation, permissions,
	// missing references, caller cancelled). Send it to the DLQ.
	ClassPermanent Class = iota
	// ClassRetryable: back off and try again (429, 5xx, timeouts, resets).
	ClassRetryable
	// ClassAmbiguous: a write may or may not have happened. Reconcile by
	// eid: first (UpsertTransaction does), never re-send blindly.
	ClassAmbiguous
	// ClassConfig: the credentials or the M2M mapping are wrong. Stop and
	// alert; retrying spins.
	ClassConfig
)

func (c Class) String() string {
	switch c {
	case ClassRetryable:
		return "retryable"
	case ClassAmbiguous:
		return "ambiguous"
	case ClassConfig:
		return "config"
	}
	return "permanent"
}

// Classify sorts err by status first, then o:errorCode (ref §10, §11.2).
func Classify(err error) Class {
	if err == nil {
		return ClassPermanent
	}
	if errors.Is(err, ErrAuthConfig) {
		return ClassConfig
	}
	if errors.Is(err, ErrAmbiguous) {
		return ClassAmbiguous
	}
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.Status == http.StatusTooManyRequests, e.hasCode(CodeConcurrencyLimit), e.UnderLoad:
			// Refused at the door: nothing was written.
			return ClassRetryable
		case e.Status >= 500 && e.Write:
			return ClassAmbiguous
		case e.Status >= 500:
			return ClassRetryable
		case e.Status == http.StatusRequestTimeout:
			return ClassRetryable
		}
		return ClassPermanent
	}
	if errors.Is(err, context.Canceled) {
		return ClassPermanent
	}
	if errors.Is(err, ErrTransport) || errors.Is(err, context.DeadlineExceeded) {
		return ClassRetryable
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ClassRetryable
	}
	return ClassPermanent
}

// IsRetryable reports whether backing off and repeating the same call is
// safe and may succeed. Ambiguous writes are not (a transport failure or a
// 5xx answer to a write): reconcile them by eid: first.
func IsRetryable(err error) bool { return Classify(err) == ClassRetryable }

func transportError(op string, write bool, err error) error {
	if write {
		return fmt.Errorf("%w: %s: %w", ErrAmbiguous, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrTransport, op, err)
}
