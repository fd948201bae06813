package event

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DLQ actions are what an operator did with a dead letter (`mlc dlq retry`,
// `mlc dlq resolve`). They travel on the DLQ stream, subject
// dlq.action.<action>, which no original subject can produce (every one
// starts with its stream's prefix). Letters are never deleted: a letter is
// open until an action names it, so the DLQ stream alone says what is left
// to do, and every action is itself in the audit trail.
const (
	DLQRetry   = "retry"
	DLQResolve = "resolve"
)

const dlqActionPrefix = dlqPrefix + "action."

// HeaderReplayOf is set on every message `mlc replay` and `mlc dlq retry`
// publish again: <stream>:<sequence> of the stored message it repeats.
const HeaderReplayOf = "Mlc-Replay-Of"

// DLQAction records one operator action on one dead letter.
type DLQAction struct {
	// Action is DLQRetry or DLQResolve.
	Action string `json:"action"`
	// LetterSeq is the DLQ stream sequence of the letter acted on.
	LetterSeq uint64 `json:"letter_seq"`
	// LetterSubject is the letter's subject (dlq.<original subject>).
	LetterSubject string `json:"letter_subject"`
	// BusinessKey is the letter's Mlc-Key, so the action shows in the
	// record's trail.
	BusinessKey string `json:"key,omitempty"`
	// Note is the operator's reason ("SKU mapped in settings").
	Note string `json:"note,omitempty"`
	// Operator is who acted (user@host unless given).
	Operator string `json:"operator"`
	// RepublishedStream and RepublishedSeq locate the message a retry
	// put back on its original subject.
	RepublishedStream string `json:"republished_stream,omitempty"`
	RepublishedSeq    uint64 `json:"republished_seq,omitempty"`
	// At is when the operator acted.
	At time.Time `json:"at"`
}

// IsDLQAction reports whether a DLQ stream subject carries an action
// rather than a dead letter.
func IsDLQAction(subject string) bool { return strings.HasPrefix(subject, dlqActionPrefix) }

func (a DLQAction) Subject() string { return dlqActionPrefix + a.Action }

// MsgID is dlq.action:<action>:<letter seq>: a letter is retried or
// resolved once, a repeated command is dropped by the stream.
func (a DLQAction) MsgID() string {
	return "dlq.action:" + a.Action + ":" + strconv.FormatUint(a.LetterSeq, 10)
}
func (a DLQAction) Key() string    { return a.BusinessKey }
func (a DLQAction) Type() string   { return a.Subject() }
func (a DLQAction) Source() string { return ServiceSource("mlc") }
func (a DLQAction) Schema() string { return "" }
func (a DLQAction) Data() ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	return jsonData(a)
}

func (a DLQAction) validate() error {
	switch {
	case a.Action != DLQRetry && a.Action != DLQResolve:
		return fmt.Errorf("%w: DLQ action %q", ErrInvalidMessage, a.Action)
	case a.LetterSeq == 0:
		return fmt.Errorf("%w: DLQ %s without a letter sequence", ErrInvalidMessage, a.Action)
	case a.Operator == "":
		return fmt.Errorf("%w: DLQ %s of letter %d without an operator", ErrInvalidMessage, a.Action, a.LetterSeq)
	}
	return nil
}

// DecodeDLQAction reads a dlq.action.* message body.
func DecodeDLQAction(body []byte) (DLQAction, Envelope, error) {
	a, env, err := decodeData[DLQAction](body, func(t string) bool { return strings.HasPrefix(t, dlqActionPrefix) })
	if err != nil {
		return a, env, err
	}
	if env.Type != a.Subject() {
		return a, env, fmt.Errorf("%w: event type %q for a DLQ %s", ErrInvalidMessage, env.Type, a.Action)
	}
	return a, env, a.validate()
}
