package mapping

import (
	"errors"
	"strings"
)

// Errors of Map, matched with errors.Is.
var (
	// ErrUnmappable: the record needs something the settings, the item map
	// or the record itself does not give (an unknown SKU, a store without a
	// subsidiary, a missing address). The error is an *UnmappableError
	// naming the record, the field and the value. A setting or an
	// inventory run can fix it, so the service waits a bounded time.
	ErrUnmappable = errors.New("unmappable")
	// ErrIncomplete: the fact lacks a part the mapping needs (its shape did
	// not carry it); complete it through REST first.
	ErrIncomplete = errors.New("fact is incomplete")
	// ErrSkipped: the fact is not to be sent to NetSuite (an invoice that is
	// not captured, a cancelled order). Not a failure.
	ErrSkipped = errors.New("not for NetSuite")
)

// Problem is one reason a record cannot be mapped.
type Problem struct {
	// Field is what is wrong, e.g. "SKU", "subsidiary", "billing address".
	Field string `json:"field"`
	// Value is the offending value ("" when the value is missing).
	Value string `json:"value,omitempty"`
	// Text says it for a person: "SKU TEE-M-RED has no NetSuite item".
	Text string `json:"text"`
}

// UnmappableError lists every problem of one record, so that a person
// fixes them all at once.
type UnmappableError struct {
	// Record names it, e.g. "order 000001234" or "invoice 000000012 of order 000001234".
	Record   string
	Problems []Problem
}

func (e *UnmappableError) Error() string {
	texts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		texts[i] = p.Text
	}
	return e.Record + ": " + strings.Join(texts, "; ")
}

// Is makes errors.Is(err, ErrUnmappable) hold.
func (e *UnmappableError) Is(target error) bool { return target == ErrUnmappable }

// problems collects the problems of one record.
type problems struct {
	record string
	list   []Problem
}

func (p *problems) add(field, value, text string) {
	p.list = append(p.list, Problem{Field: field, Value: value, Text: text})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &UnmappableError{Record: p.record, Problems: p.list}
}
