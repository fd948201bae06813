package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// customer is a resolved NetSuite customer.
type customer struct {
	ID  string
	How string // howMap, howExternalID, howEmail, howCreated
}

// resolveCustomer finds the NetSuite customer of an order's buyer (ref §6):
// mlc_customer_map, else our own record by externalId, else a customer
// created outside ml-connector with the buyer's e-mail in the subsidiary
// (repeat buyers are matched, not duplicated), else a new one upserted by
// externalId. Two replicas resolving the same new buyer at once both PUT
// the same eid: one customer (an upsert by externalId is idempotent).
func (w *Writer) resolveCustomer(ctx context.Context, c *netsuite.Client, subsidiary string, ref *event.CustomerRef) (customer, error) {
	if ref == nil || ref.ExternalID == "" {
		return customer{}, stream.Permanent(errors.New("the command names no customer external id"))
	}
	link, err := w.customers.get(ctx, ref.ExternalID)
	if err != nil {
		return customer{}, err
	}
	if link != nil {
		return customer{ID: link.ID, How: howMap}, nil
	}
	id, err := c.LookupID(ctx, netsuite.TypeCustomer, ref.ExternalID)
	switch {
	case err == nil:
		return customer{ID: id, How: howExternalID}, w.customers.put(ctx, ref.ExternalID, id, howExternalID)
	case !errors.Is(err, netsuite.ErrNotFound):
		return customer{}, err
	}
	if id, ok, err := w.matchByEmail(ctx, c, ref.ExternalID, ref.Email, subsidiary); err != nil || ok {
		return customer{ID: id, How: howEmail}, err
	}
	body, err := bodyWith(ref.Record, ref.ExternalID, "", subsidiary)
	if err != nil {
		return customer{}, fmt.Errorf("customer record: %w", err)
	}
	id, err = w.upsertCustomer(ctx, c, ref.ExternalID, body)
	if err != nil {
		return customer{}, err
	}
	return customer{ID: id, How: howCreated}, w.customers.put(ctx, ref.ExternalID, id, howCreated)
}

// matchByEmail looks for a customer created outside ml-connector with the
// buyer's e-mail. E-mail is not unique in NetSuite: the choice is the
// lowest id in the subsidiary (netsuite.FindCustomerByEmail) and several
// candidates are logged. A customer of another subsidiary cannot be used
// on this subsidiary's transactions, so it is no match.
func (w *Writer) matchByEmail(ctx context.Context, c *netsuite.Client, externalID, email, subsidiary string) (string, bool, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", false, nil
	}
	found, err := c.FindCustomerByEmail(ctx, email, subsidiary)
	switch {
	case errors.Is(err, netsuite.ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, err
	case subsidiary != "" && found.Subsidiary != "" && found.Subsidiary != subsidiary:
		w.log.Info().Str("customer", externalID).Str("subsidiary", subsidiary).Str("other_subsidiary", found.Subsidiary).
			Msg("the buyer's e-mail matches a customer of another subsidiary only; creating one in this subsidiary")
		return "", false, nil
	}
	if found.Candidates > 1 {
		// The address is personal data: the log names the buyer by key.
		w.log.Info().Str("customer", externalID).Int("candidates", found.Candidates).Str("chosen", found.ID).
			Msg("several NetSuite customers share the buyer's e-mail; chose the one in the subsidiary with the lowest id")
	}
	return found.ID, true, w.customers.put(ctx, externalID, found.ID, howEmail)
}

// upsertCustomer PUTs a customer by externalId. The PUT is idempotent (an
// address book is replaced, not appended), so an unknown outcome is
// reconciled by a lookup and, if it did not land, sent again.
func (w *Writer) upsertCustomer(ctx context.Context, c *netsuite.Client, externalID string, body json.RawMessage) (string, error) {
	var opts []netsuite.WriteOption
	if hasField(body, "addressbook") {
		opts = append(opts, netsuite.Replace("addressbook"))
	}
	var err error
	for round := 0; round < 3; round++ {
		var id string
		if id, err = c.Upsert(ctx, netsuite.TypeCustomer, externalID, body, opts...); err == nil {
			return id, nil
		}
		if !errors.Is(err, netsuite.ErrAmbiguous) {
			return "", err
		}
		id, lerr := c.LookupID(ctx, netsuite.TypeCustomer, externalID)
		if lerr == nil {
			return id, nil
		}
		if !errors.Is(lerr, netsuite.ErrNotFound) {
			return "", lerr
		}
	}
	return "", err
}

// writeCustomer executes a customer command (a buyer registered in
// Commerce): our own record is updated when its content changed; a customer
// created elsewhere with the same e-mail is adopted, never overwritten;
// otherwise it is created. The map points the buyer's orders at it.
func (w *Writer) writeCustomer(ctx context.Context, c *netsuite.Client, cmd event.NetSuiteCommand, update bool) (string, error) {
	body, err := bodyWith(cmd.Record, cmd.ExternalID, "", cmd.Subsidiary)
	if err != nil {
		return "", err
	}
	id, err := c.LookupID(ctx, netsuite.TypeCustomer, cmd.ExternalID)
	switch {
	case err == nil && !update:
		return id, w.customers.put(ctx, cmd.ExternalID, id, howExternalID)
	case err == nil:
		if id, err = w.upsertCustomer(ctx, c, cmd.ExternalID, body); err != nil {
			return "", err
		}
		return id, w.customers.put(ctx, cmd.ExternalID, id, howExternalID)
	case !errors.Is(err, netsuite.ErrNotFound):
		return "", err
	}
	if id, ok, err := w.matchByEmail(ctx, c, cmd.ExternalID, stringField(cmd.Record, "email"), cmd.Subsidiary); err != nil || ok {
		return id, err
	}
	if id, err = w.upsertCustomer(ctx, c, cmd.ExternalID, body); err != nil {
		return "", err
	}
	return id, w.customers.put(ctx, cmd.ExternalID, id, howCreated)
}
