package netsuitesim

import (
	"fmt"
	"net/http"
	"strings"
)

// FaultKind is a failure the simulator can inject into the next matching calls.
type FaultKind int

const (
	faultNone FaultKind = iota
	// Fault500 answers 500 UNEXPECTED_ERROR with an Error ID; nothing is applied.
	Fault500
	// FaultDropAfterWrite applies the request, then drops the connection
	// without an answer: the ambiguous outcome of ref §10.
	FaultDropAfterWrite
	// FaultWorkflowLock answers 400 USER_ERROR "locked by a user defined workflow".
	FaultWorkflowLock
	// FaultConcurrencyLimit answers as if the account were at its
	// concurrency limit: the exact 429 body of ref §10 (or the 401 quirk
	// when Config.Quirk401), without having to race requests.
	FaultConcurrencyLimit
	// Fault500AfterWrite applies the request, then answers 500
	// UNEXPECTED_ERROR: a strict NetSuite that committed the write and
	// failed afterwards. A client that repeats a create or a transform
	// after it makes a duplicate (or is refused: the record exists).
	Fault500AfterWrite
)

func (k FaultKind) String() string {
	switch k {
	case Fault500:
		return "500"
	case FaultDropAfterWrite:
		return "drop-after-write"
	case FaultWorkflowLock:
		return "workflow-lock"
	case FaultConcurrencyLimit:
		return "concurrency-limit"
	case Fault500AfterWrite:
		return "500-after-write"
	}
	return "none"
}

type fault struct {
	prefix string
	left   int
	kind   FaultKind
}

// FailNext makes the next n API calls whose path starts with pathPrefix fail
// with kind. pathPrefix is a URL path such as
// "/services/rest/record/v1/salesOrder"; a prefix without a leading
// "/services/rest" is taken relative to it ("record/v1/salesOrder").
func (s *Server) FailNext(pathPrefix string, n int, kind FaultKind) {
	if !strings.HasPrefix(pathPrefix, "/") {
		pathPrefix = restPrefix + "/" + pathPrefix
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{prefix: pathPrefix, left: n, kind: kind})
}

// takeFault consumes one pending fault matching path, in registration order.
func (s *Server) takeFault(path string) FaultKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if strings.HasPrefix(path, f.prefix) {
			f.left--
			if f.left <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f.kind
		}
	}
	return faultNone
}

func (s *Server) injectError() bool {
	if s.cfg.ErrorRate <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64() < s.cfg.ErrorRate
}

func (s *Server) countError() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.ErrorsInjected++
}

func (s *Server) errorID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 26)
	for i := range b {
		b[i] = letters[s.rng.Intn(len(letters))]
	}
	return fmt.Sprintf("%s-%s-%s", b[:10], b[10:18], b[18:])
}

func errUnexpected(id string) *apiError {
	return newErr(http.StatusInternalServerError, "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: "+id)
}
