// Package mapping turns canonical Commerce facts (pkg/commercefact) into
// NetSuite commands (event.NetSuiteCommand): a sales order per placed
// order, an AR invoice per captured invoice, a customer per new buyer. It
// is pure: Map reads only its Input (the fact, the store's resolved
// settings, its subsidiary and the SKU -> item map) and never the clock, so
// a redelivered fact gives a byte-identical command.
//
// The rules, each with its setting in Settings (documented defaults):
//
//   - Sales order: externalId mlc-so-<store>-<increment_id>, subsidiary of
//     the store (OneWorld), currency (Settings.Currencies), tranDate = the
//     order's creation day in Settings.TimeZone, otherRefNum = increment id,
//     memo with the coupon code, orderStatus, location, shipMethod (mapped
//     from Commerce's method), shippingCost (0 on free shipping, so NetSuite
//     never prices shipping itself), shipping and billing address
//     subrecords, toBeEmailed false (NetSuite must not mail the shopper),
//     and one item line per real item (configurable and bundle handling in
//     selectLines). The buyer travels as a CustomerRef for the writer to
//     resolve (entity is not in the record).
//   - Discounts: net line amounts, a discount line per discounted line, or
//     one discount line per order (Settings.Discounts).
//   - Tax: NetSuite computes it, or Commerce's tax is passed as a tax line
//     (Settings.Tax). Either way the command's Totals compare Commerce's
//     grand total with the NetSuite total the record will have, and flag a
//     variance beyond Settings.VarianceTolerance (optionally written to a
//     custbody field). The rounding rule is in money.go.
//   - Invoice: by !transform/invoice from the sales order (partial invoices
//     bill exactly the invoiced quantities) or direct, same customer and
//     subsidiary as the order.
//   - Customer: person or company, e-mail, phone, subsidiary, address book;
//     externalId mlc-cust-<store>-<buyer key> (guests by e-mail hash).
//
// What cannot be mapped is an *UnmappableError naming the record, the field
// and the value ("order 000001234: SKU TEE-M-RED has no NetSuite item").
package mapping
