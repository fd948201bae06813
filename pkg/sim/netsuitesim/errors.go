package netsuitesim

import (
	"encoding/json"
	"net/http"
)

// Media types NetSuite answers with (ref §3).
const (
	mediaSingular   = "application/vnd.oracle.resource+json; type=singular"
	mediaCollection = "application/vnd.oracle.resource+json; type=collection"
	mediaError      = "application/vnd.oracle.resource+json; type=error"
	errorTypeURL    = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
)

// Detail texts clients may see verbatim (ref §10).
const (
	detailInvalidLogin   = "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail."
	detailNotFound       = "Record does not exist."
	detailConcurrency    = "Concurrent request limit exceeded. Request blocked."
	detailWorkflowLock   = "This record has been locked by a user defined workflow."
	detailMalformed      = "The request could not be understood by the server due to malformed syntax."
	concurrencyBodyExact = `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Bad Request","status":429,"o:errorCode":"USER_ERROR","o:errorDetails":[{"detail":"Concurrent request limit exceeded. Request blocked.","o:errorCode":"CONCURRENCY_LIMIT_EXCEEDED"}]}`
)

// ErrorDetail is one entry of o:errorDetails.
type ErrorDetail struct {
	Detail     string `json:"detail"`
	Code       string `json:"o:errorCode"`
	Path       string `json:"o:errorPath,omitempty"`
	QueryParam string `json:"o:errorQueryParam,omitempty"`
	Header     string `json:"o:errorHeader,omitempty"`
	URLPath    string `json:"o:errorUrl,omitempty"`
}

// apiError is a NetSuite REST error response (ref §10).
type apiError struct {
	Status  int
	TopCode string
	Details []ErrorDetail
	header  map[string]string // extra response headers, e.g. Location for IDEMPOTENCY_ERROR
}

func (e *apiError) Error() string {
	if len(e.Details) > 0 {
		return e.Details[0].Code + ": " + e.Details[0].Detail
	}
	return http.StatusText(e.Status)
}

func newErr(status int, code, detail string) *apiError {
	return &apiError{Status: status, Details: []ErrorDetail{{Detail: detail, Code: code}}}
}

func errAt(status int, code, path, detail string) *apiError {
	return &apiError{Status: status, Details: []ErrorDetail{{Detail: detail, Code: code, Path: path}}}
}

func errParam(param, detail string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Details: []ErrorDetail{{Detail: detail, Code: "INVALID_PARAMETER", QueryParam: param}}}
}

func errNotFound() *apiError { return newErr(http.StatusNotFound, "NONEXISTENT_ID", detailNotFound) }

func errInvalidValue(path, field, value string) *apiError {
	return errAt(http.StatusBadRequest, "INVALID_CONTENT", path,
		"Error while accessing resource: You have entered an Invalid Field Value "+value+" for the following field: "+field)
}

func titleFor(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusTooManyRequests:
		return "Bad Request"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "Not Found"
	case http.StatusMethodNotAllowed:
		return "Method Not Allowed"
	case http.StatusUnsupportedMediaType:
		return "Unsupported Media Type"
	case http.StatusInternalServerError:
		return "Internal Server Error"
	}
	return http.StatusText(status)
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{
		"type":           errorTypeURL,
		"title":          titleFor(e.Status),
		"status":         e.Status,
		"o:errorDetails": e.Details,
	}
	if e.TopCode != "" {
		body["o:errorCode"] = e.TopCode
	}
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, e.Status, mediaError, body)
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
