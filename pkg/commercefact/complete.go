package commercefact

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ml-connector/ml-connector/pkg/commerce"
)

// REST is what a Completer reads Commerce with; *commerce.Client
// implements it. Searches, not GETs by id, so that an order is looked up by
// its business key within its store (increment ids are unique per store
// only, and a webhook order has no entity id yet).
type REST interface {
	ListOrders(ctx context.Context, sc commerce.SearchCriteria) (commerce.SearchResult[commerce.Order], error)
	ListInvoices(ctx context.Context, sc commerce.SearchCriteria) (commerce.SearchResult[commerce.Invoice], error)
	SearchCustomers(ctx context.Context, sc commerce.SearchCriteria) (commerce.SearchResult[commerce.Customer], error)
}

var _ REST = (*commerce.Client)(nil)

// ErrMismatch is returned by Complete when Commerce's REST record is not
// the fact's record (another store's, another entity id) or the key names
// several records.
var ErrMismatch = errors.New("commercefact: REST record does not match the fact")

// Completer fills what a fact's shape lacks by re-reading the record
// through REST. The completed fact is the REST record's fact (so it equals
// what the backfill poll would have carried), with the original Source and
// Source.Completed set.
type Completer struct {
	rest REST
}

// NewCompleter returns a Completer reading through rest, which must be the
// connection of the facts' store.
func NewCompleter(rest REST) *Completer { return &Completer{rest: rest} }

// Complete returns f unchanged when it is complete, else the fact re-read
// through REST. A record REST does not show (an order whose webhook fired
// before its commit, or one rolled back) gives an error matching
// commerce.ErrNotFound: callers retry for a bounded time, then treat the
// order as a phantom (ref §3).
func (c *Completer) Complete(ctx context.Context, f Fact) (Fact, error) {
	if f.Complete() {
		return f, nil
	}
	var (
		out Fact
		err error
	)
	switch {
	case f.Order != nil:
		out, err = c.order(ctx, f)
	case f.Invoice != nil:
		out, err = c.invoice(ctx, f)
	case f.Customer != nil:
		out, err = c.customer(ctx, f)
	default:
		return Fact{}, fmt.Errorf("complete: %w: fact holds no record", ErrUnknownKind)
	}
	if err != nil {
		return Fact{}, fmt.Errorf("complete %s: %w", f.Key(), err)
	}
	out.Source = f.Source
	out.Source.Completed = true
	return out, nil
}

// byKey narrows a search to one record of a store.
func byKey(field, value string, storeID int64) commerce.SearchCriteria {
	sc := commerce.SearchCriteria{}.Where(commerce.F(field, commerce.CondEq, value))
	if storeID > 0 {
		sc = sc.Where(commerce.F("store_id", commerce.CondEq, strconv.FormatInt(storeID, 10)))
	}
	return sc.Page(2, 1)
}

// one picks the single match of a search.
func one[T any](items []T, what string) (T, error) {
	var zero T
	switch len(items) {
	case 0:
		return zero, fmt.Errorf("%s not visible through REST: %w", what, commerce.ErrNotFound)
	case 1:
		return items[0], nil
	}
	return zero, fmt.Errorf("%w: %d records match %s", ErrMismatch, len(items), what)
}

func (c *Completer) order(ctx context.Context, f Fact) (Fact, error) {
	o := f.Order
	what := "order " + o.IncrementID
	res, err := c.rest.ListOrders(ctx, byKey("increment_id", o.IncrementID, o.StoreID))
	if err != nil {
		return Fact{}, fmt.Errorf("read %s: %w", what, err)
	}
	ro, err := one(res.Items, what)
	if err != nil {
		return Fact{}, err
	}
	if err := same(what, o.StoreID, int64(ro.StoreID), o.EntityID, int64(ro.EntityID)); err != nil {
		return Fact{}, err
	}
	if ro.IncrementID != o.IncrementID {
		return Fact{}, fmt.Errorf("%w: searched %s, REST answered order %q", ErrMismatch, what, clip(ro.IncrementID))
	}
	return OrderFact(f.Store, ro)
}

func (c *Completer) invoice(ctx context.Context, f Fact) (Fact, error) {
	inv := f.Invoice
	what := "invoice " + inv.IncrementID
	out := f
	if !onlyLacks(f, PartOrderIncrementID) {
		res, err := c.rest.ListInvoices(ctx, byKey("increment_id", inv.IncrementID, inv.StoreID))
		if err != nil {
			return Fact{}, fmt.Errorf("read %s: %w", what, err)
		}
		ri, err := one(res.Items, what)
		if err != nil {
			return Fact{}, err
		}
		if err := same(what, inv.StoreID, int64(ri.StoreID), inv.EntityID, int64(ri.EntityID)); err != nil {
			return Fact{}, err
		}
		if ri.IncrementID != inv.IncrementID {
			return Fact{}, fmt.Errorf("%w: searched %s, REST answered invoice %q", ErrMismatch, what, clip(ri.IncrementID))
		}
		if out, err = InvoiceFact(f.Store, ri, inv.OrderIncrementID); err != nil {
			return Fact{}, err
		}
	}
	if out.Lacks(PartOrderIncrementID) {
		// REST invoices name their order by entity id only.
		oid := out.Invoice.OrderID
		if oid <= 0 {
			return Fact{}, fmt.Errorf("%w: %s has no order id", ErrMismatch, what)
		}
		res, err := c.rest.ListOrders(ctx, byKey("entity_id", strconv.FormatInt(oid, 10), 0))
		if err != nil {
			return Fact{}, fmt.Errorf("read order %d of %s: %w", oid, what, err)
		}
		ro, err := one(res.Items, fmt.Sprintf("order %d of %s", oid, what))
		if err != nil {
			return Fact{}, err
		}
		if int64(ro.EntityID) != oid || (out.Invoice.StoreID > 0 && int64(ro.StoreID) != out.Invoice.StoreID) {
			return Fact{}, fmt.Errorf("%w: order %d of %s is REST order %d of store %d", ErrMismatch, oid, what, ro.EntityID, ro.StoreID)
		}
		inc, err := restIncrementID(ro.IncrementID, "REST order")
		if err != nil {
			return Fact{}, err
		}
		inv := *out.Invoice
		inv.OrderIncrementID = inc
		out.Invoice = &inv
		out.Missing = slicesDelete(out.Missing, PartOrderIncrementID)
	}
	return out, nil
}

func (c *Completer) customer(ctx context.Context, f Fact) (Fact, error) {
	cu := f.Customer
	var sc commerce.SearchCriteria
	what := "customer " + cu.BuyerKey
	switch {
	case cu.ID > 0:
		sc = commerce.SearchCriteria{}.Where(commerce.F("id", commerce.CondEq, strconv.FormatInt(cu.ID, 10)))
	case cu.Email != "":
		what = "customer by e-mail " + cu.BuyerKey
		sc = commerce.SearchCriteria{}.Where(commerce.F("email", commerce.CondEq, cu.Email))
		if cu.WebsiteID > 0 {
			sc = sc.Where(commerce.F("website_id", commerce.CondEq, strconv.FormatInt(cu.WebsiteID, 10)))
		}
	default:
		return Fact{}, fmt.Errorf("%w: customer has neither id nor email", ErrMismatch)
	}
	res, err := c.rest.SearchCustomers(ctx, sc.Page(2, 1))
	if err != nil {
		return Fact{}, fmt.Errorf("read %s: %w", what, err)
	}
	rc, err := one(res.Items, what)
	if err != nil {
		return Fact{}, err
	}
	if (cu.ID > 0 && int64(rc.ID) != cu.ID) || (cu.WebsiteID > 0 && int64(rc.WebsiteID) != cu.WebsiteID) {
		return Fact{}, fmt.Errorf("%w: %s is REST customer %d of website %d", ErrMismatch, what, rc.ID, rc.WebsiteID)
	}
	return CustomerFact(f.Store, rc)
}

// same checks the REST record against what the fact already knows.
func same(what string, storeID, restStore, entityID, restEntity int64) error {
	if storeID > 0 && restStore != storeID {
		return fmt.Errorf("%w: %s is of store %d, REST answered store %d", ErrMismatch, what, storeID, restStore)
	}
	if entityID > 0 && restEntity != entityID {
		return fmt.Errorf("%w: %s has entity id %d, REST answered %d", ErrMismatch, what, entityID, restEntity)
	}
	return nil
}

// onlyLacks reports that p is the one missing part of f.
func onlyLacks(f Fact, p Part) bool { return len(f.Missing) == 1 && f.Missing[0] == p }
