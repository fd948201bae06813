package mapping

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/event"
)

// buyer is the customer reference of an order (and its invoices): the
// buyer key (customer id, or the e-mail's hash for guests), its NetSuite
// externalId, the e-mail to match an existing customer by, and the record
// to create when there is none, built from the order's names and addresses.
func buyer(in Input, o *commercefact.Order, subsidiary string, p *problems) *event.CustomerRef {
	key := o.BuyerKey
	if key == "" {
		p.add("customer", "", "the order names neither a customer id nor an e-mail")
		return nil
	}
	ext, err := event.CustomerExternalID(in.Fact.Store, key)
	if err != nil {
		p.add("customer external id", key, err.Error())
		return nil
	}
	first, last := strings.TrimSpace(o.Customer.Firstname), strings.TrimSpace(o.Customer.Lastname)
	if b := o.BillingAddress; b != nil && first == "" && last == "" {
		first, last = strings.TrimSpace(b.Firstname), strings.TrimSpace(b.Lastname)
	}
	var phone, company string
	if b := o.BillingAddress; b != nil {
		phone, company = strings.TrimSpace(b.Telephone), strings.TrimSpace(b.Company)
	}
	c := customer{ExternalID: ext, Email: strings.TrimSpace(o.Customer.Email), Phone: phone, Subsidiary: refOf(subsidiary)}
	what := "the buyer"
	if o.Customer.Guest || o.Customer.ID == 0 {
		what = "the guest buyer"
	}
	if !setName(&c, in.Rules, first, last, company) {
		p.add("customer name", first+" "+last, what+" has no first and last name (order customer and billing address)")
	}
	c.Addressbook = orderAddressbook(o)
	rec, err := encode(c, nil)
	if err != nil {
		p.add("customer", key, err.Error())
		return nil
	}
	return &event.CustomerRef{BuyerKey: key, ExternalID: ext, Email: c.Email, Record: rec}
}

// setName makes c a person or (CustomerCompany, with a company name) a
// company; false when a person lacks a first or last name.
func setName(c *customer, r Rules, first, last, company string) bool {
	if r.Customers == CustomerCompany && company != "" {
		c.IsPerson, c.CompanyName = false, clipN(company, 83)
		return true
	}
	c.IsPerson, c.FirstName, c.LastName = true, clipN(first, 32), clipN(last, 32)
	return first != "" && last != ""
}

// orderAddressbook is the billing address (default billing) and the
// shipping address (default shipping), one entry when they are the same.
func orderAddressbook(o *commercefact.Order) *sublist[addressEntry] {
	bill, ship := addressOf(o.BillingAddress), addressOf(o.ShippingAddress)
	var entries []addressEntry
	switch {
	case bill != nil && ship != nil && sameAddress(*bill, *ship):
		entries = append(entries, addressEntry{Label: label(bill), DefaultBilling: true, DefaultShipping: true, AddressbookAddress: bill})
	default:
		if bill != nil {
			entries = append(entries, addressEntry{Label: label(bill), DefaultBilling: true, AddressbookAddress: bill})
		}
		if ship != nil {
			entries = append(entries, addressEntry{Label: label(ship), DefaultShipping: true, AddressbookAddress: ship})
		}
	}
	if len(entries) == 0 {
		return nil
	}
	return &sublist[addressEntry]{Items: entries}
}

// sameAddress compares two subrecords by value (country is a pointer).
func sameAddress(a, b address) bool {
	ca, cb := a.Country, b.Country
	a.Country, b.Country = nil, nil
	return a == b && (ca == nil) == (cb == nil) && (ca == nil || *ca == *cb)
}

func label(a *address) string {
	parts := []string{}
	for _, s := range []string{a.Addr1, a.City} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "Address"
	}
	return clipN(strings.Join(parts, ", "), 60)
}

func mapCustomer(in Input) (event.NetSuiteCommand, error) {
	f, cu := in.Fact, in.Fact.Customer
	if err := require(f, "customer "+clip(cu.BuyerKey), commercefact.PartCustomer, commercefact.PartAddresses,
		commercefact.PartRegionCode, commercefact.PartAddressDefaults); err != nil {
		return event.NetSuiteCommand{}, err
	}
	p := problems{record: "customer " + clip(cu.BuyerKey)}
	if cu.BuyerKey == "" {
		p.add("customer", "", "the customer has neither an id nor an e-mail")
		return event.NetSuiteCommand{}, p.err()
	}
	if cu.ID > 0 {
		p.record = "customer " + strconv.FormatInt(cu.ID, 10)
	}
	ext, err := event.CustomerExternalID(f.Store, cu.BuyerKey)
	if err != nil {
		p.add("external id", cu.BuyerKey, err.Error())
	}
	var sub string
	if in.OneWorld {
		sub = in.Subsidiary
		if sub == "" {
			p.add("subsidiary", f.Store, fmt.Sprintf("store %s has no NetSuite subsidiary (netsuite.subsidiaries)", clip(f.Store)))
		}
	}
	c := customer{ExternalID: ext, Email: strings.TrimSpace(cu.Email), Subsidiary: refOf(sub)}
	var billing *commercefact.Address
	var entries []addressEntry
	for i := range cu.Addresses {
		a := &cu.Addresses[i]
		isBill := a.ID != 0 && a.ID == cu.DefaultBillingID
		isShip := a.ID != 0 && a.ID == cu.DefaultShippingID
		if isBill || billing == nil {
			billing = a
		}
		na := addressOf(a)
		entries = append(entries, addressEntry{Label: label(na), DefaultBilling: isBill, DefaultShipping: isShip, AddressbookAddress: na})
	}
	if len(entries) > 0 {
		c.Addressbook = &sublist[addressEntry]{Items: entries}
	}
	var company string
	if billing != nil {
		c.Phone, company = strings.TrimSpace(billing.Telephone), strings.TrimSpace(billing.Company)
	}
	first, last := strings.TrimSpace(cu.Firstname), strings.TrimSpace(cu.Lastname)
	if !setName(&c, in.Rules, first, last, company) {
		p.add("customer name", first+" "+last, "the customer has no first and last name")
	}
	if err := p.err(); err != nil {
		return event.NetSuiteCommand{}, err
	}
	rec, err := encode(c, nil)
	if err != nil {
		return event.NetSuiteCommand{}, err
	}
	return event.NetSuiteCommand{Kind: event.KindCustomer, Store: f.Store, SourceID: cu.BuyerKey, ExternalID: ext, Record: rec,
		Subsidiary: sub}, nil
}
