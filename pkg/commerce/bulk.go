package commerce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Bulk operation status codes (ref §11).
const (
	OpComplete        = 1
	OpFailedRetriable = 2
	OpFailedNeedsFix  = 3
	OpOpen            = 4
	OpRejected        = 5
)

// BulkAccepted is the 202 answer of an async or bulk request.
type BulkAccepted struct {
	BulkUUID     string `json:"bulk_uuid"`
	RequestItems []struct {
		ID       Int    `json:"id"`
		DataHash string `json:"data_hash"`
		Status   string `json:"status"`
	} `json:"request_items"`
	Errors Bool `json:"errors"`
}

// BulkOperation is one operation of a bulk's detailed status.
type BulkOperation struct {
	ID            Int    `json:"id"` // the request body's index in the bulk
	Status        Int    `json:"status"`
	ResultMessage string `json:"result_message"`
	ErrorCode     Int    `json:"error_code"`
	// Result is what the operation's synchronous endpoint answered (e.g.
	// base-prices' list of rejected rows), as JSON text.
	Result string `json:"result_serialized_data"`
}

// RejectedRows reads the rows a completed operation of a batch endpoint
// (base-prices, source-items) rejected although it succeeded, naming each
// by the submitted SKU its parameters mention.
func (o BulkOperation) RejectedRows(skus []string) ([]ItemFailure, error) {
	if strings.TrimSpace(o.Result) == "" || strings.TrimSpace(o.Result) == "null" {
		return nil, nil
	}
	var rejected []ItemMessage
	if err := json.Unmarshal([]byte(o.Result), &rejected); err != nil {
		return nil, fmt.Errorf("commerce: bulk operation %d result: %w", o.ID, err)
	}
	out := make([]ItemFailure, 0, len(rejected))
	for _, r := range rejected {
		out = append(out, ItemFailure{SKU: matchSKU(r.Parameters, skus), Message: r.Message, Parameters: r.Parameters, Rendered: r.Rendered()})
	}
	return out, nil
}

// Done reports a final state (complete, failed or rejected).
func (o BulkOperation) Done() bool { return o.Status != OpOpen && o.Status != 0 }

// BulkStatus is GET V1/bulk/{uuid}/detailed-status.
type BulkStatus struct {
	BulkID         string          `json:"bulk_id"`
	Description    string          `json:"description"`
	OperationCount Int             `json:"operation_count"`
	Operations     []BulkOperation `json:"operations_list"`
}

// Done reports every operation in a final state.
func (s BulkStatus) Done() bool {
	if len(s.Operations) == 0 || int(s.OperationCount) > len(s.Operations) {
		return false
	}
	for _, o := range s.Operations {
		if !o.Done() {
			return false
		}
	}
	return true
}

// Failed lists the operations that ended in 2, 3 or 5.
func (s BulkStatus) Failed() []BulkOperation {
	var out []BulkOperation
	for _, o := range s.Operations {
		if o.Done() && o.Status != OpComplete {
			out = append(out, o)
		}
	}
	return out
}

// BulkError is a finished bulk with failed operations; errors.Is(err, ErrBulkFailed).
type BulkError struct {
	BulkUUID string
	Failed   []BulkOperation
	Total    int
}

func (e *BulkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "commerce: bulk %s: %d of %d operations failed", e.BulkUUID, len(e.Failed), e.Total)
	for i, o := range e.Failed {
		if i == 10 {
			b.WriteString("; ...")
			break
		}
		fmt.Fprintf(&b, "; #%d status %d: %s", o.ID, o.Status, o.ResultMessage)
	}
	return b.String()
}

func (e *BulkError) Is(target error) bool { return target == ErrBulkFailed }

// SubmitBulk sends a bulk request: path is the synchronous route with path
// parameters as literal segments (e.g. "V1/products/bySku"), bodies one
// request body per operation. The flavour decides where async/bulk goes.
func (c *Client) SubmitBulk(ctx context.Context, method, path string, bodies []any) (BulkAccepted, error) {
	var acc BulkAccepted
	if err := c.Do(ctx, method, c.asyncPath(true, path), nil, bodies, &acc); err != nil {
		return acc, err
	}
	if acc.BulkUUID == "" {
		return acc, fmt.Errorf("commerce: bulk %s %s: answer without bulk_uuid", method, path)
	}
	return acc, nil
}

// SubmitAsync sends one asynchronous request (same route and body under the
// async prefix).
func (c *Client) SubmitAsync(ctx context.Context, method, path string, body any) (BulkAccepted, error) {
	var acc BulkAccepted
	if err := c.Do(ctx, method, c.asyncPath(false, path), nil, body, &acc); err != nil {
		return acc, err
	}
	if acc.BulkUUID == "" {
		return acc, fmt.Errorf("commerce: async %s %s: answer without bulk_uuid", method, path)
	}
	return acc, nil
}

// BulkUpdatePrices submits PUT async/bulk/V1/products/bySku, one operation per SKU.
func (c *Client) BulkUpdatePrices(ctx context.Context, prices []BasePrice) (BulkAccepted, error) {
	bodies := make([]any, len(prices))
	for i, p := range prices {
		bodies[i] = map[string]any{"product": productPrice{SKU: p.SKU, Price: number(p.Price)}}
	}
	return c.SubmitBulk(ctx, http.MethodPut, "V1/products/bySku", bodies)
}

// BulkUpdateBasePrices submits POST async/bulk/V1/products/base-prices in
// chunks of the batch size, one operation per chunk; a completed operation's
// Result lists its rejected rows (RejectedRows).
func (c *Client) BulkUpdateBasePrices(ctx context.Context, prices []BasePrice) (BulkAccepted, error) {
	var bodies []any
	for start := 0; start < len(prices); start += c.batchSize {
		bodies = append(bodies, map[string]any{"prices": prices[start:min(start+c.batchSize, len(prices))]})
	}
	return c.SubmitBulk(ctx, http.MethodPost, "V1/products/base-prices", bodies)
}

// BatchSize is the rows per synchronous batch request (WithBatchSize).
func (c *Client) BatchSize() int { return c.batchSize }

// BulkUpdateSourceItems submits POST async/bulk/V1/inventory/source-items in
// chunks of the batch size, one operation per chunk.
func (c *Client) BulkUpdateSourceItems(ctx context.Context, items []SourceItem) (BulkAccepted, error) {
	var bodies []any
	for start := 0; start < len(items); start += c.batchSize {
		bodies = append(bodies, map[string]any{"sourceItems": items[start:min(start+c.batchSize, len(items))]})
	}
	return c.SubmitBulk(ctx, http.MethodPost, "V1/inventory/source-items", bodies)
}

// BulkStatus reads the detailed status of a bulk.
func (c *Client) BulkStatus(ctx context.Context, uuid string) (BulkStatus, error) {
	var st BulkStatus
	err := c.Do(ctx, http.MethodGet, "V1/bulk/"+url.PathEscape(uuid)+"/detailed-status", nil, nil, &st)
	return st, err
}

// WaitBulk polls the status every WithBulkPollInterval until every operation
// is final or ctx ends. Failed operations give a *BulkError with the status.
func (c *Client) WaitBulk(ctx context.Context, uuid string) (BulkStatus, error) {
	for {
		st, err := c.BulkStatus(ctx, uuid)
		if err != nil {
			return st, err
		}
		if st.Done() {
			if failed := st.Failed(); len(failed) > 0 {
				return st, &BulkError{BulkUUID: uuid, Failed: failed, Total: len(st.Operations)}
			}
			return st, nil
		}
		if err := sleep(ctx, c.bulkPoll); err != nil {
			return st, fmt.Errorf("commerce: bulk %s not finished: %w", uuid, err)
		}
	}
}
