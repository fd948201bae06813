package netsuitesim

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Stats are the simulator's counters.
type Stats struct {
	TokenRequests int `json:"tokenRequests"`
	TokensIssued  int `json:"tokensIssued"`
	Throttled     int `json:"throttled"`    // calls refused over the concurrency limit (429 or quirk 401)
	PeakInFlight  int `json:"peakInFlight"` // most calls admitted at once (never above the limit)
	// PeakOffered is the most calls in progress at once counting those
	// refused over the limit: what the clients tried. A client that keeps
	// to the account's limit never has it above ConcurrencyLimit.
	PeakOffered int `json:"peakOffered"`
	Requests    int `json:"requests"` // API calls, token endpoint excluded
	// DuplicateExternalIDs lists "type/externalId" for every attempt to
	// create a record whose externalId already existed (rejected POST or
	// transform). A well-behaved client never causes one.
	DuplicateExternalIDs []string `json:"duplicateExternalIds"`
	ErrorsInjected       int      `json:"errorsInjected"`
}

// RequestLog is one recorded request. Authorization is redacted.
type RequestLog struct {
	Time   time.Time           `json:"time"`
	Method string              `json:"method"`
	Path   string              `json:"path"`
	Query  string              `json:"query"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
	Status int                 `json:"status"`
}

// logRequest reads the body and appends the request to the log.
func (s *Server) logRequest(r *http.Request) (*RequestLog, []byte) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 110<<20))
	h := r.Header.Clone()
	if h.Get("Authorization") != "" {
		h.Set("Authorization", "REDACTED")
	}
	entry := &RequestLog{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: h}
	if r.URL.Path == tokenPath {
		entry.Body = "REDACTED" // the client assertion is a credential
	} else {
		entry.Body = string(body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != tokenPath {
		s.stats.Requests++
	}
	// A ring once full: dropping the oldest by copying the rest would cost
	// the whole log on every call.
	if len(s.reqLog) < s.cfg.MaxRequestLog {
		s.reqLog = append(s.reqLog, entry)
	} else {
		s.reqLog[s.reqHead] = entry
		s.reqHead = (s.reqHead + 1) % len(s.reqLog)
	}
	return entry, body
}

func (s *Server) finishLog(entry *RequestLog, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry.Status = status
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	peak, offered := s.gov.peaks()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PeakInFlight, st.PeakOffered = peak, offered
	st.DuplicateExternalIDs = append([]string{}, s.db.dupExt...)
	return st
}

// Records returns a snapshot of the records of a type, ordered by id. Item
// types, subsidiary, location and currency are included as read-only views.
func (s *Server) Records(recordType string) []Record {
	typ, ok := canonicalType(recordType)
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	views := s.viewsLocked(typ)
	out := make([]Record, 0, len(views))
	for _, rec := range views {
		out = append(out, Record{ID: rec.ID, ExternalID: rec.ExternalID, Type: rec.Type, Fields: deepCopy(rec.Fields).(map[string]any)})
	}
	return out
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RequestLog, len(s.reqLog))
	for i := range s.reqLog {
		e := s.reqLog[(s.reqHead+i)%len(s.reqLog)]
		out[i] = *e
		out[i].Header = http.Header(e.Header).Clone()
	}
	return out
}

// serveInspect serves the inspection API: GET /_sim/stats,
// GET /_sim/records/{type}, GET /_sim/requests, POST /_sim/reset.
func (s *Server) serveInspect(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, simPrefix)
	switch {
	case p == "stats" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, "application/json", s.Stats())
	case p == "requests" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, "application/json", s.Requests())
	case strings.HasPrefix(p, "records/") && r.Method == http.MethodGet:
		typ := strings.TrimPrefix(p, "records/")
		if _, ok := canonicalType(typ); !ok {
			writeJSON(w, http.StatusNotFound, "application/json", map[string]string{"error": "unknown record type " + typ})
			return
		}
		writeJSON(w, http.StatusOK, "application/json", s.Records(typ))
	case p == "records" && r.Method == http.MethodGet:
		types := []string{}
		for t := range writableTypes {
			types = append(types, t)
		}
		for t := range readOnlyTypes {
			types = append(types, t)
		}
		sort.Strings(types)
		writeJSON(w, http.StatusOK, "application/json", types)
	case p == "reset" && r.Method == http.MethodPost:
		s.Reset()
		writeJSON(w, http.StatusOK, "application/json", map[string]bool{"ok": true})
	default:
		writeJSON(w, http.StatusNotFound, "application/json", map[string]string{"error": "no such inspection endpoint " + r.Method + " " + r.URL.Path})
	}
}
