package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// reconcileRounds bounds how often one attempt goes back to the lookup
// after an unknown outcome before it gives the error to the retry policy.
const reconcileRounds = 3

// writeSalesOrder resolves the buyer, then writes the order safely. The
// customer is resolved inside the order's command, so a sales order is
// never written before its customer exists.
func (w *Writer) writeSalesOrder(ctx context.Context, c *netsuite.Client, cmd event.NetSuiteCommand, changed bool) (string, error) {
	for try := 0; ; try++ {
		cust, err := w.resolveCustomer(ctx, c, cmd.Subsidiary, cmd.Customer)
		if err != nil {
			return "", fmt.Errorf("customer %s: %w", cmd.Customer.ExternalID, err)
		}
		body, err := bodyWith(cmd.Record, cmd.ExternalID, cust.ID, cmd.Subsidiary)
		if err != nil {
			return "", err
		}
		id, err := w.safeWrite(ctx, c, netsuite.TypeSalesOrder, cmd.ExternalID, body, changed)
		if err != nil && try == 0 && cust.How == howMap && entityRefused(err) {
			// The mapped customer is gone (merged or deleted in NetSuite):
			// forget it and resolve again, once.
			w.log.Info().Str("customer", cmd.Customer.ExternalID).Str("id", cust.ID).Msg("mapped customer refused by NetSuite; resolving it again")
			if ferr := w.customers.forget(ctx, cmd.Customer.ExternalID); ferr != nil {
				return "", ferr
			}
			continue
		}
		return id, err
	}
}

// entityRefused: NetSuite rejected the order's customer reference.
func entityRefused(err error) bool {
	var e *netsuite.Error
	return errors.As(err, &e) && e.Status == 400 && e.Path() == "entity"
}

// openOrder: order statuses ml-connector may still change (A Pending
// Approval, B Pending Fulfillment); fulfilled, billed or closed orders are
// NetSuite's (ref §4.3).
func openOrder(status string) bool { return status == "A" || status == "B" }

// safeWrite is the safe write of ref §4.3 for sales orders and direct
// invoices: look the externalId up; absent, PUT ?replace=item and take the
// id (from Location, else read back); present, stop (unchanged or an
// earlier attempt of ours landed) or, when the content changed, update an
// open order with the full line list. After an unknown outcome it goes back
// to the lookup; it never re-sends blindly.
func (w *Writer) safeWrite(ctx context.Context, c *netsuite.Client, recordType, externalID string, body json.RawMessage, changed bool) (string, error) {
	fields := []string{"id"}
	if recordType == netsuite.TypeSalesOrder {
		fields = append(fields, "orderStatus")
	}
	var err error
	for round := 0; round < reconcileRounds; round++ {
		var rec struct {
			ID          netsuite.Ref `json:"id"`
			OrderStatus netsuite.Ref `json:"orderStatus"`
		}
		err = c.GetByExternalID(ctx, recordType, externalID, &rec, netsuite.Fields(fields...))
		switch {
		case err == nil && !changed:
			return rec.ID.ID, nil
		case err == nil && recordType == netsuite.TypeSalesOrder && !openOrder(rec.OrderStatus.ID):
			return "", stream.Permanent(fmt.Errorf("the order changed in Commerce but NetSuite sales order %s has status %s: "+
				"ml-connector changes only orders pending approval or fulfilment; change it in NetSuite, then resolve this dead letter", rec.ID.ID, rec.OrderStatus.ID))
		case err == nil && recordType != netsuite.TypeSalesOrder:
			return "", stream.Permanent(fmt.Errorf("the record changed in Commerce but %s %s exists in NetSuite and ml-connector never changes one: "+
				"correct it in NetSuite (or delete it and retry this dead letter)", recordType, rec.ID.ID))
		case err != nil && !errors.Is(err, netsuite.ErrNotFound):
			return "", err
		}
		var id string
		if id, err = c.Upsert(ctx, recordType, externalID, body, netsuite.Replace("item")); err == nil {
			return id, nil
		}
		if !errors.Is(err, netsuite.ErrAmbiguous) {
			return "", err
		}
		w.log.Info().Err(err).Str("external_id", externalID).Msg("write outcome unknown; reconciling by externalId")
	}
	return "", err
}

// writeInvoice creates the invoice of a captured Commerce invoice once its
// sales order is in NetSuite (until then errOrderMissing: the command
// waits, see waitForOrder).
func (w *Writer) writeInvoice(ctx context.Context, c *netsuite.Client, cmd event.NetSuiteCommand, changed bool) (string, error) {
	inv := cmd.Invoice
	if inv == nil {
		return "", stream.Permanent(errors.New("invoice command without an invoice mode"))
	}
	if inv.Mode != event.InvoiceFromOrder && inv.Mode != event.InvoiceDirect {
		return "", stream.Permanent(fmt.Errorf("invoice mode %q: want %q or %q", inv.Mode, event.InvoiceFromOrder, event.InvoiceDirect))
	}
	var soID string
	if inv.SalesOrderExternalID == "" {
		if inv.Mode == event.InvoiceFromOrder {
			return "", stream.Permanent(errors.New("a transform invoice needs its sales order's external id"))
		}
	} else {
		var err error
		if soID, err = w.salesOrderID(ctx, c, inv.SalesOrderExternalID, true); err != nil {
			return "", err
		}
	}
	if inv.Mode == event.InvoiceDirect {
		cust, err := w.resolveCustomer(ctx, c, cmd.Subsidiary, cmd.Customer)
		if err != nil {
			return "", fmt.Errorf("customer %s: %w", cmd.Customer.ExternalID, err)
		}
		body, err := bodyWith(cmd.Record, cmd.ExternalID, cust.ID, cmd.Subsidiary)
		if err != nil {
			return "", err
		}
		return w.safeWrite(ctx, c, netsuite.TypeInvoice, cmd.ExternalID, body, changed)
	}
	return w.transformInvoice(ctx, c, cmd, soID, changed)
}

// salesOrderID is the internal id of a sales order: from mlc_synced when
// the writer wrote it (no NetSuite call), else looked up by externalId.
// Not in NetSuite is errOrderMissing; so is an order another worker is
// writing for the first time right now (its fresh claim says so, no call).
func (w *Writer) salesOrderID(ctx context.Context, c *netsuite.Client, externalID string, useSynced bool) (string, error) {
	if useSynced {
		st, _, err := w.synced.get(ctx, externalID)
		switch {
		case err != nil || st == nil:
		case st.Hash != "" && st.ID != "":
			return st.ID, nil
		case st.Claim != nil && w.now().Sub(st.Claim.At) < w.synced.claimTTL:
			return "", fmt.Errorf("sales order %s is being written: %w", externalID, errOrderMissing)
		}
	}
	id, err := c.LookupID(ctx, netsuite.TypeSalesOrder, externalID)
	if errors.Is(err, netsuite.ErrNotFound) {
		return "", fmt.Errorf("sales order %s: %w", externalID, errOrderMissing)
	}
	return id, err
}

// transformInvoice bills the sales order with !transform/invoice (ref §7).
// A transform is not idempotent, so the invoice is looked for first by its
// externalId, then among the order's invoices (createdfrom), and after an
// unknown outcome the lookups run again before any new transform.
func (w *Writer) transformInvoice(ctx context.Context, c *netsuite.Client, cmd event.NetSuiteCommand, soID string, changed bool) (string, error) {
	body, err := bodyWith(cmd.Record, cmd.ExternalID, "", "")
	if err != nil {
		return "", err
	}
	relooked := false
	for round := 0; round < reconcileRounds; round++ {
		id, found, err := w.findInvoice(ctx, c, cmd.ExternalID, soID)
		switch {
		case err != nil:
			return "", err
		case found && changed:
			return "", stream.Permanent(fmt.Errorf("the invoice changed in Commerce but NetSuite invoice %s exists and ml-connector never changes one: "+
				"correct it in NetSuite (or delete it and retry this dead letter)", id))
		case found:
			return id, nil
		}
		id, err = c.TransformToInvoice(ctx, soID, body)
		switch {
		case err == nil:
			return id, nil
		case errors.Is(err, netsuite.ErrAmbiguous):
			w.log.Info().Err(err).Str("external_id", cmd.ExternalID).Msg("transform outcome unknown; reconciling by externalId")
		case errors.Is(err, netsuite.ErrNotFound) && !relooked:
			// The recorded sales order id is gone (deleted, or replaced by a
			// replay): look the order up by externalId.
			relooked = true
			if soID, err = w.salesOrderID(ctx, c, cmd.Invoice.SalesOrderExternalID, false); err != nil {
				return "", err
			}
		case errors.Is(err, netsuite.ErrBadRequest):
			// Perhaps another worker's transform with our externalId just
			// landed (NetSuite refuses a second one): look once more.
			if id, found, ferr := w.findInvoice(ctx, c, cmd.ExternalID, soID); ferr == nil && found {
				return id, nil
			}
			return "", err
		default:
			return "", err
		}
	}
	return "", fmt.Errorf("invoice %s: transform outcome still unknown after %d rounds", cmd.ExternalID, reconcileRounds)
}

// findInvoice looks for the invoice by externalId, then among the sales
// order's invoices. One without an externalId (made by hand, or by a
// transform that dropped it) cannot be told apart from a partial invoice of
// another capture: a person must link it, so that is permanent.
func (w *Writer) findInvoice(ctx context.Context, c *netsuite.Client, externalID, soID string) (string, bool, error) {
	id, err := c.LookupID(ctx, netsuite.TypeInvoice, externalID)
	switch {
	case err == nil:
		return id, true, nil
	case !errors.Is(err, netsuite.ErrNotFound):
		return "", false, err
	}
	page, err := c.SuiteQL(ctx, "SELECT id, externalid FROM transaction WHERE type = 'CustInvc' AND createdfrom = ?",
		[]string{soID}, netsuite.Limit(100))
	if err != nil {
		return "", false, fmt.Errorf("invoices of sales order %s: %w", soID, err)
	}
	var unlabeled []string
	for _, r := range page.Items {
		switch r.String("externalid") {
		case externalID:
			return r.String("id"), true, nil
		case "":
			unlabeled = append(unlabeled, r.String("id"))
		}
	}
	if len(unlabeled) > 0 {
		sort.Strings(unlabeled)
		return "", false, stream.Permanent(fmt.Errorf("sales order %s already has invoice(s) %s without an external id, made outside ml-connector "+
			"or by a transform that dropped it; set the right one's External ID to %s (or delete it), then retry this dead letter",
			soID, strings.Join(unlabeled, ", "), externalID))
	}
	return "", false, nil
}
