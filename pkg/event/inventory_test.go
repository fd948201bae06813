package event

import (
	"testing"

	"github.com/shopspring/decimal"
)

// A price that goes A -> B -> A inside the duplicate window must get a new
// id the second time (its Base differs), while a re-run from the same
// snapshot repeats the id.
func TestInventoryChangeBaseInMsgID(t *testing.T) {
	a, b := decimal.RequireFromString("10"), decimal.RequireFromString("12")
	first := InventoryChange{Store: "en_us", SKU: "X 1", Price: &a}
	toB := InventoryChange{Store: "en_us", SKU: "X 1", Price: &b, Base: "fp-a"}
	backToA := InventoryChange{Store: "en_us", SKU: "X 1", Price: &a, Base: "fp-b"}
	if first.MsgID() == backToA.MsgID() || toB.MsgID() == backToA.MsgID() {
		t.Fatalf("ids collide: %s %s %s", first.MsgID(), toB.MsgID(), backToA.MsgID())
	}
	rerun := backToA
	if rerun.MsgID() != backToA.MsgID() {
		t.Fatal("the same change from the same base must keep its id")
	}
	back, _, err := DecodeInventoryChange(wrap(t, backToA))
	if err != nil || back.Base != "fp-b" || back.MsgID() != backToA.MsgID() {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}
