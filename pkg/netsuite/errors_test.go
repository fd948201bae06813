package netsuite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The documented 429 body (ref §10).
const body429 = `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Bad Request","status":429,"o:errorCode":"USER_ERROR","o:errorDetails":[{"detail":"Concurrent request limit exceeded. Request blocked.","o:errorCode":"CONCURRENCY_LIMIT_EXCEEDED"}]}`

func TestParseErrorAndClassify(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		code     string
		path     string
		is       []error
		isNot    []error
		class    Class
		contains string
	}{
		{"429 documented", 429, body429, CodeConcurrencyLimit, "", []error{ErrConcurrencyLimit}, []error{ErrBadRequest}, ClassRetryable, "Concurrent request limit"},
		{"400 invalid content", 400, `{"type":"x","title":"Bad Request","status":400,"o:errorDetails":[{"detail":"You have entered an Invalid Field Value 9999 for the following field: item","o:errorCode":"INVALID_CONTENT","o:errorPath":"item.items[0].item"}]}`,
			CodeInvalidContent, "item.items[0].item", []error{ErrBadRequest, ErrInvalidContent}, []error{ErrConcurrencyLimit}, ClassPermanent, "path item.items[0].item"},
		{"404", 404, `{"title":"Not Found","status":404,"o:errorDetails":[{"detail":"Record does not exist.","o:errorCode":"NONEXISTENT_ID"}]}`,
			CodeNonexistentID, "", []error{ErrNotFound}, nil, ClassPermanent, "Record does not exist"},
		{"500", 500, `{"status":500,"o:errorDetails":[{"detail":"An unexpected error occurred. Error ID: abc","o:errorCode":"UNEXPECTED_ERROR"}]}`,
			CodeUnexpectedError, "", []error{ErrServer}, nil, ClassRetryable, "Error ID: abc"},
		{"503 html", 503, `<html>down</html>`, "", "", []error{ErrServer}, nil, ClassRetryable, "Service Unavailable"},
		{"403", 403, `{"status":403,"o:errorDetails":[{"detail":"Permission Violation","o:errorCode":"INSUFFICIENT_PERMISSION"}]}`,
			"INSUFFICIENT_PERMISSION", "", []error{ErrForbidden}, nil, ClassPermanent, "Permission"},
		{"401", 401, `{"status":401,"o:errorDetails":[{"detail":"Invalid login attempt.","o:errorCode":"INVALID_LOGIN"}]}`,
			CodeInvalidLogin, "", []error{ErrUnauthorized}, []error{ErrConcurrencyLimit}, ClassPermanent, "Invalid login"},
		{"workflow lock", 400, `{"status":400,"o:errorDetails":[{"detail":"This record has been locked by a user defined workflow","o:errorCode":"USER_ERROR"}]}`,
			CodeUserError, "", []error{ErrBadRequest}, nil, ClassPermanent, "locked"},
		{"oauth", 400, `{"error":"invalid_client","error_description":"unknown kid"}`, "invalid_client", "", []error{ErrBadRequest}, nil, ClassPermanent, "unknown kid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseError("PUT salesOrder/eid:x", tt.status, nil, []byte(tt.body))
			var err error = fmt.Errorf("wrapped: %w", e)
			if e.Code != tt.code || e.Path() != tt.path {
				t.Errorf("code %q path %q", e.Code, e.Path())
			}
			for _, s := range tt.is {
				if !errors.Is(err, s) {
					t.Errorf("not Is %v", s)
				}
			}
			for _, s := range tt.isNot {
				if errors.Is(err, s) {
					t.Errorf("Is %v", s)
				}
			}
			if c := Classify(err); c != tt.class {
				t.Errorf("class %v, want %v", c, tt.class)
			}
			if IsRetryable(err) != (tt.class == ClassRetryable) {
				t.Error("IsRetryable disagrees with Classify")
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.Contains(err.Error(), "PUT salesOrder/eid:x") {
				t.Errorf("message %q lacks %q", err.Error(), tt.contains)
			}
			if string(e.Body) != tt.body {
				t.Error("raw body not kept")
			}
		})
	}
}

func TestClassifyNonHTTP(t *testing.T) {
	under := parseError("GET x", 401, nil, nil)
	under.UnderLoad = true
	write500 := parseError("POST salesOrder/1/!transform/invoice", 500, nil, nil)
	write500.Write = true
	write429 := parseError("PUT x", 429, nil, []byte(body429))
	write429.Write = true
	tests := []struct {
		err  error
		want Class
	}{
		{transportError("PUT x", true, io.ErrUnexpectedEOF), ClassAmbiguous},
		{transportError("GET x", false, io.ErrUnexpectedEOF), ClassRetryable},
		{fmt.Errorf("%w: bad kid", ErrAuthConfig), ClassConfig},
		{context.Canceled, ClassPermanent},
		{context.DeadlineExceeded, ClassRetryable},
		{under, ClassRetryable},
		{write500, ClassAmbiguous}, // a strict NetSuite commits, then answers 500
		{write429, ClassRetryable}, // refused at the door: nothing written
		{errors.New("other"), ClassPermanent},
		{nil, ClassPermanent},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if !errors.Is(under, ErrConcurrencyLimit) {
		t.Error("401 under load should match ErrConcurrencyLimit")
	}
	if !errors.Is(write500, ErrAmbiguous) || !errors.Is(write500, ErrServer) || errors.Is(write429, ErrAmbiguous) {
		t.Error("a 5xx on a write is both a server error and an unknown outcome; a 429 is neither")
	}
}

func TestRetryAfterHeader(t *testing.T) {
	h := http.Header{"Retry-After": {"7"}}
	if e := parseError("x", 429, h, []byte(body429)); e.RetryAfter() != 7*time.Second {
		t.Errorf("RetryAfter = %v", e.RetryAfter())
	}
	if e := parseError("x", 429, http.Header{}, nil); e.RetryAfter() != 0 {
		t.Error("no header must mean no wait")
	}
}

func FuzzParseError(f *testing.F) {
	f.Add(429, []byte(body429))
	f.Add(400, []byte(`{"o:errorDetails":[{"detail":"d","o:errorPath":"a.b"}]}`))
	f.Add(500, []byte(`{"error":"server_error"}`))
	f.Add(502, []byte(`not json`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := parseError("op", status, nil, body)
		if e.Error() == "" || e.Status != status {
			t.Fatal("bad error")
		}
		_ = Classify(e)
	})
}
