package commercesim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Bulk operation statuses.
const (
	OpComplete          = 1
	OpFailedRetriable   = 2
	OpFailedNeedsChange = 3
	OpOpen              = 4
	OpRejected          = 5
)

type bulkOp struct {
	ID            int
	Topic         string
	Status        int
	ResultMessage string
	ErrorCode     int
	Body          []byte
	Result        string
	rt            route
	params        map[string]string
	store         Store
	endpoint      string
	via           string
}

type bulk struct {
	UUID        string
	Description string
	StartTime   time.Time
	Ops         []*bulkOp
}

// StopBulkConsumer stops the simulated async.operations.all consumer:
// operations stay open (4) until StartBulkConsumer.
func (s *Server) StopBulkConsumer() {
	s.mu.Lock()
	s.consumerRunning = false
	s.mu.Unlock()
}

// StartBulkConsumer starts the consumer again.
func (s *Server) StartBulkConsumer() {
	s.mu.Lock()
	s.consumerRunning = true
	s.mu.Unlock()
	s.kick()
}

func (s *Server) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func dataHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// acceptAsync queues one write as a bulk of one operation (202).
func (s *Server) acceptAsync(rq *apiRequest, rt route) (int, any) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(rq.body, &probe); err != nil {
		return badRequest("Decoding error: %1", []any{err.Error()})
	}
	op := &bulkOp{Topic: rt.topic, Status: OpOpen, Body: rq.body, rt: rt, params: rq.params, store: rq.store, endpoint: rq.endpoint, via: "async"}
	b := s.newBulk(rt, []*bulkOp{op})
	s.kick()
	return http.StatusAccepted, Object{{"bulk_uuid", b.UUID},
		{"request_items", []any{Object{{"id", 0}, {"data_hash", dataHash(rq.body)}, {"status", "accepted"}}}}, {"errors", false}}
}

// acceptBulk queues an array of request bodies; path parameters come from
// each element (the bySku-style literal segment replaced them).
func (s *Server) acceptBulk(rq *apiRequest, rt route) (int, any) {
	var elems []json.RawMessage
	if err := json.Unmarshal(rq.body, &elems); err != nil {
		return badRequest("Decoding error: %1", []any{err.Error()})
	}
	if len(elems) == 0 {
		return badRequest("Input data is empty", nil)
	}
	if s.cfg.InputLimits && len(elems) > 5000 {
		return badRequest("Maximum items of type \"%type\" is %max", Object{{"type", rt.topic}, {"max", 5000}})
	}
	items := []any{}
	var ops []*bulkOp
	anyErr := false
	for i, e := range elems {
		params := map[string]string{}
		ok := true
		var obj map[string]any
		if err := json.Unmarshal(e, &obj); err != nil {
			ok = false
		}
		for name := range rq.params {
			v := findParam(obj, name)
			if v == "" {
				ok = false
			}
			params[name] = v
		}
		if !ok {
			anyErr = true
			items = append(items, Object{{"id", i}, {"data_hash", dataHash(e)}, {"status", "rejected"},
				{"error_message", "Request data is invalid"}, {"error_code", 0}})
			continue
		}
		ops = append(ops, &bulkOp{ID: i, Topic: rt.topic, Status: OpOpen, Body: e, rt: rt, params: params, store: rq.store,
			endpoint: rq.endpoint, via: "bulk"})
		items = append(items, Object{{"id", i}, {"data_hash", dataHash(e)}, {"status", "accepted"}})
	}
	b := s.newBulk(rt, ops)
	s.kick()
	return http.StatusAccepted, Object{{"bulk_uuid", b.UUID}, {"request_items", items}, {"errors", anyErr}}
}

// findParam finds a path parameter's value in a bulk element: the key
// itself at top level or one level down ("sku" for "productSku").
func findParam(obj map[string]any, name string) string {
	names := []string{name}
	if strings.HasSuffix(name, "Sku") {
		names = append(names, "sku")
	}
	if strings.HasSuffix(name, "Id") {
		names = append(names, "item_id", "entity_id")
	}
	pick := func(m map[string]any) string {
		for _, n := range names {
			switch v := m[n].(type) {
			case string:
				return v
			case float64:
				return fmt.Sprint(int64(v))
			}
		}
		return ""
	}
	if v := pick(obj); v != "" {
		return v
	}
	for _, v := range obj {
		if m, ok := v.(map[string]any); ok {
			if got := pick(m); got != "" {
				return got
			}
		}
	}
	return ""
}

func (s *Server) newBulk(rt route, ops []*bulkOp) *bulk {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &bulk{UUID: uuid.NewString(), Description: "Topic " + rt.topic, StartTime: s.nowLocked(), Ops: ops}
	s.bulks[b.UUID] = b
	s.bulkOrder = append(s.bulkOrder, b.UUID)
	return b
}

// bulkConsumer is the simulated async.operations.all consumer.
func (s *Server) bulkConsumer() {
	defer s.wg.Done()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-tick.C:
		}
		for {
			op := s.nextOpenOp()
			if op == nil {
				break
			}
			s.processOp(op)
		}
	}
}

func (s *Server) nextOpenOp() *bulkOp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.consumerRunning {
		return nil
	}
	for _, id := range s.bulkOrder {
		for _, op := range s.bulks[id].Ops {
			if op.Status == OpOpen {
				return op
			}
		}
	}
	return nil
}

func (s *Server) processOp(op *bulkOp) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, _ := http.NewRequestWithContext(ctx, op.rt.method, "http://consumer.invalid/", nil)
	rq := &apiRequest{r: req, kind: kindSync, store: op.store, params: op.params, body: op.Body, endpoint: op.endpoint, source: op.via}
	status, resp := op.rt.h(s, rq)
	result, _ := PHPJSON(resp)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case status >= 200 && status < 300:
		op.Status = OpComplete
		op.Result = string(result)
	case status >= 500:
		op.Status, op.ErrorCode = OpFailedRetriable, status
		op.ResultMessage = renderMessage(resp)
	default:
		op.Status, op.ErrorCode = OpFailedNeedsChange, status
		op.ResultMessage = renderMessage(resp)
	}
}

// renderMessage substitutes parameters into an error body's template.
func renderMessage(v any) string {
	o, ok := v.(Object)
	if !ok {
		return fmt.Sprint(v)
	}
	msg, _ := o.Get("message")
	text, _ := msg.(string)
	params, _ := o.Get("parameters")
	switch p := params.(type) {
	case []any:
		for i := len(p); i >= 1; i-- {
			text = strings.ReplaceAll(text, fmt.Sprintf("%%%d", i), fmt.Sprint(p[i-1]))
		}
	case Object:
		for _, kv := range p {
			text = strings.ReplaceAll(text, "%"+kv.Key, fmt.Sprint(kv.Value))
		}
	}
	return text
}

func (s *Server) bulkLocked(rq *apiRequest) *bulk {
	return s.bulks[rq.params["bulkUuid"]]
}

func bulkMissing(id string) (int, any) {
	return notFound("Bulk uuid %bulkUuid not exist", Object{{"bulkUuid", id}})
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

func (s *Server) hBulkStatus(rq *apiRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bulkLocked(rq)
	if b == nil {
		return bulkMissing(rq.params["bulkUuid"])
	}
	ops := []any{}
	for _, op := range b.Ops {
		ops = append(ops, Object{{"id", op.ID}, {"status", op.Status}, {"result_message", nullStr(op.ResultMessage)}, {"error_code", nullInt(op.ErrorCode)}})
	}
	return http.StatusOK, Object{{"operations_list", ops}, {"user_type", 2}, {"bulk_id", b.UUID}, {"description", b.Description},
		{"start_time", ts(b.StartTime)}, {"user_id", 1}, {"operation_count", len(b.Ops)}}
}

func (s *Server) hBulkDetailed(rq *apiRequest) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bulkLocked(rq)
	if b == nil {
		return bulkMissing(rq.params["bulkUuid"])
	}
	ops := []any{}
	for _, op := range b.Ops {
		ops = append(ops, Object{{"id", op.ID}, {"topic_name", op.Topic}, {"status", op.Status},
			{"result_serialized_data", nullStr(op.Result)}, {"result_message", nullStr(op.ResultMessage)},
			{"error_code", nullInt(op.ErrorCode)}, {"serialized_data", string(op.Body)}, {"bulk_uuid", b.UUID}})
	}
	return http.StatusOK, Object{{"operations_list", ops}, {"user_type", 2}, {"bulk_id", b.UUID}, {"description", b.Description},
		{"start_time", ts(b.StartTime)}, {"user_id", 1}, {"operation_count", len(b.Ops)}}
}

func (s *Server) hBulkOpCount(rq *apiRequest) (int, any) {
	want, err := parseStatus(rq.params["status"])
	if err != nil {
		return badRequest("Invalid status: %1", []any{rq.params["status"]})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bulkLocked(rq)
	if b == nil {
		return bulkMissing(rq.params["bulkUuid"])
	}
	n := 0
	for _, op := range b.Ops {
		if op.Status == want {
			n++
		}
	}
	return http.StatusOK, n
}

func parseStatus(s string) (int, error) {
	var n int
	_, err := fmt.Sscanf(s, "%d", &n)
	if err != nil || n < 1 || n > 5 {
		return 0, fmt.Errorf("bad status %q", s)
	}
	return n, nil
}
