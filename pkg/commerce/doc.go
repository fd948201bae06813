// Package commerce is the only code that talks to Adobe Commerce: the REST
// client (OAuth 1.0a on PaaS, IMS on SaaS), incremental reads of orders and
// invoices, price and stock writes, and the verification and decoding of
// inbound webhooks and Adobe I/O Events deliveries.
//
// The API facts it relies on are in shared/reference/adobe-commerce.md; the
// section numbers in comments ("ref §8") point there.
package commerce
