package event

import (
	"errors"
	"testing"
	"time"
)

func TestDLQAction(t *testing.T) {
	a := DLQAction{Action: DLQRetry, LetterSeq: 12, LetterSubject: "dlq.commerce.order.placed.default",
		BusinessKey: "order:default:1", Operator: "ops@host", RepublishedStream: StreamCommerce, RepublishedSeq: 99, At: time.Unix(9, 0)}
	if a.Subject() != "dlq.action.retry" || !IsDLQAction(a.Subject()) || IsDLQAction("dlq.commerce.order.placed.default") {
		t.Fatalf("subject %q", a.Subject())
	}
	if a.MsgID() != "dlq.action:retry:12" || a.Key() != "order:default:1" {
		t.Fatalf("ids %q %q", a.MsgID(), a.Key())
	}
	back, env, err := DecodeDLQAction(wrap(t, a))
	if err != nil || back.RepublishedSeq != 99 || back.Operator != "ops@host" || env.Type != "dlq.action.retry" {
		t.Fatalf("round trip %+v %v", back, err)
	}
	for _, bad := range []DLQAction{{Action: "delete", LetterSeq: 1, Operator: "x"}, {Action: DLQResolve, Operator: "x"}, {Action: DLQResolve, LetterSeq: 1}} {
		if _, err := bad.Data(); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
	// No stream's subjects can put a letter on an action subject.
	for _, s := range []string{CommerceSubject(OrderPlaced, "action"), NetSuiteSubject(KindInvoice), SyncSubject(false, KindCustomer), InventorySubject()} {
		if IsDLQAction(DLQSubject(s)) {
			t.Errorf("letter of %s looks like an action", s)
		}
	}
}
