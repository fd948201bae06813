// Package commercefact reads COMMERCE messages back into canonical facts.
//
// Ingest stores what Commerce sent byte-for-byte, in one of three shapes
// (the envelope's dataschema): a Commerce Webhooks body with the order,
// invoice or customer MODEL data, an Adobe I/O Events CloudEvent with the
// subscribed fields, or a REST record the backfill poll read. Read turns any
// of them into one Fact (an Order, Invoice or Customer) with the same
// field values whichever shape carried it, and lists in Fact.Missing the
// parts the shape did not carry (the order webhook fires before the order
// is saved: no entity id, no line ids or parent/child links; I/O Events
// carry no addresses or payment unless subscribed). A Completer re-reads
// such a fact through REST; the result equals the REST shape's fact.
//
// PHP's encoding quirks are accepted everywhere: numbers as strings and
// strings as numbers, integral floats ("1.0"), false, "" or [] for "no
// value", [] for an empty object, non-sequential arrays as objects, the
// address model's street as one newline-separated string.
package commercefact
