package netsuitesim

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// asyncJob is the outcome of a Prefer: respond-async write. The simulator
// runs the write at once; the job is complete when the 202 is sent.
type asyncJob struct {
	id      string
	created time.Time
	status  int
	header  http.Header
	body    []byte
}

// serveAsyncWrite runs a record write as an async job (ref §12).
func (s *Server) serveAsyncWrite(w http.ResponseWriter, r *http.Request, body []byte) {
	key := r.Header.Get("X-NetSuite-Idempotency-Key")
	s.mu.Lock()
	if prev, ok := s.idem[key]; key != "" && ok {
		loc := s.baseURL + asyncPrefix + "/" + prev
		s.mu.Unlock()
		e := newErr(http.StatusBadRequest, "IDEMPOTENCY_ERROR", "A request with idempotency key "+key+" was already submitted as job "+prev+".")
		e.header = map[string]string{"Location": loc}
		writeAPIError(w, e)
		return
	}
	s.nextJob++
	id := strconv.Itoa(s.nextJob)
	if key != "" {
		s.idem[key] = id
	}
	job := &asyncJob{id: id, created: time.Now().UTC()}
	s.jobs[id] = job
	loc := s.baseURL + asyncPrefix + "/" + id
	s.mu.Unlock()

	rec := httptest.NewRecorder()
	s.serveRecord(rec, r, body)
	s.mu.Lock()
	job.status, job.header, job.body = rec.Code, rec.Header().Clone(), rec.Body.Bytes()
	s.mu.Unlock()

	w.Header().Set("Location", loc)
	w.Header().Set("Preference-Applied", "respond-async")
	w.WriteHeader(http.StatusAccepted)
}

// serveAsync answers job polling: job/{id}, job/{id}/task, job/{id}/task/{n},
// job/{id}/task/{n}/result.
func (s *Server) serveAsync(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeAPIError(w, newErr(http.StatusMethodNotAllowed, "INVALID_METHOD", "Method "+r.Method+" is not allowed."))
		return
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, asyncPrefix), "/"), "/")
	s.mu.Lock()
	job := s.jobs[segs[0]]
	base := s.baseURL + asyncPrefix + "/" + segs[0]
	s.mu.Unlock()
	if job == nil || segs[0] == "" {
		writeAPIError(w, errNotFound())
		return
	}
	s.mu.Lock()
	status, header, body := job.status, job.header, job.body
	s.mu.Unlock()
	switch {
	case len(segs) == 1:
		writeJSON(w, http.StatusOK, mediaSingular, map[string]any{
			"id": job.id, "completed": true, "progress": "succeeded", "createdDate": job.created.Format(time.RFC3339),
			"task": map[string]any{"links": selfLinks(base + "/task")}, "links": selfLinks(base),
		})
	case len(segs) == 2 && segs[1] == "task":
		writeJSON(w, http.StatusOK, mediaCollection, map[string]any{
			"links": selfLinks(base + "/task"), "count": 1, "hasMore": false, "offset": 0, "totalResults": 1,
			"items": []any{map[string]any{"id": "1", "links": selfLinks(base + "/task/1")}},
		})
	case len(segs) == 3 && segs[1] == "task" && segs[2] == "1":
		writeJSON(w, http.StatusOK, mediaSingular, map[string]any{
			"id": "1", "completed": true, "progress": "succeeded", "links": selfLinks(base + "/task/1"),
			"result": map[string]any{"links": selfLinks(base + "/task/1/result")},
		})
	case len(segs) == 4 && segs[1] == "task" && segs[2] == "1" && segs[3] == "result":
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	default:
		writeAPIError(w, errNotFound())
	}
}
