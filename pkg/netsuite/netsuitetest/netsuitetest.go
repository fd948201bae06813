// Package netsuitetest is the NetSuite client's conformance suite: one set of
// tests that every implementation of SuiteTalk REST the client talks to must
// pass (watermill style). pkg/netsuite runs it against the simulator
// (pkg/sim/netsuitesim) and against a scripted server that answers with the
// bodies of shared/reference/netsuite-rest.md verbatim, so that the client
// and the simulator cannot drift together away from the documented API.
//
// The suite drives the client (pkg/netsuite) and also inspects the wire: it
// records every request the client sends and every answer it gets, and
// checks both against the reference (Bearer on every call, the validation
// header on writes, Prefer: transient on SuiteQL, 204 without a body,
// strings for every SuiteQL value, the exact 429 body, ...).
package netsuitetest

import (
	"testing"

	"github.com/ml-connector/ml-connector/pkg/netsuite"
)

// Backend is one running NetSuite implementation.
type Backend struct {
	// BaseURL is what the client gets through netsuite.WithBaseURL.
	BaseURL string
	// Credentials are accepted by the backend's token endpoint.
	Credentials netsuite.Credentials
	// Fixture is the data the backend holds.
	Fixture Fixture
	// Fail makes the next API call whose path starts with pathPrefix
	// (relative to /services/rest/, e.g. "record/v1/customer") answer with f.
	Fail func(pathPrefix string, f Fault)
	// ExpireTokens ends the life of every access token issued so far, so
	// that the next API call gets 401 INVALID_LOGIN.
	ExpireTokens func()
}

// Fixture describes the backend's data the suite relies on.
type Fixture struct {
	// ItemID is an active item that can go on a sales order.
	ItemID string
	// UnknownItemID is an item id that does not exist ("9999" in ref §5).
	UnknownItemID string
	// SubsidiaryID is a subsidiary customers and orders can use.
	SubsidiaryID string
	// Items is the whole item table in id order, as SuiteQL returns it.
	// None of them has a UPC code (so the column is null and missing).
	Items []Item
	// Governance is what GET governanceLimits answers.
	Governance netsuite.GovernanceLimits
}

// Item is one row of the SuiteQL item table.
type Item struct {
	ID       string
	ItemID   string // "Item Name/Number"
	Type     string // itemtype, e.g. InvtPart
	Inactive bool
}

// Fault is a failure the suite asks a backend to inject.
type Fault int

const (
	// FaultConcurrencyLimit is HTTP 429 with the documented body of ref §10.
	FaultConcurrencyLimit Fault = iota + 1
	// FaultUnexpectedError is HTTP 500 UNEXPECTED_ERROR with an Error ID.
	FaultUnexpectedError
)

// Options are the documented variants a backend is asked to produce. The
// reference allows both forms of each, so the client must take both.
type Options struct {
	// EnumsAsObjects: enums as {"id","refName"} instead of plain strings (ref §3).
	EnumsAsObjects bool
	// ExpiresInString: the token response's expires_in as "3600", not 3600 (ref §2.2).
	ExpiresInString bool
	// LowercaseTokenType: token_type "bearer" (Oracle's table) instead of
	// "Bearer" (Oracle's sample).
	LowercaseTokenType bool
}

// NewBackend starts a backend producing opts, stopped when t ends. ok is
// false when the backend cannot produce that variant; the test is skipped.
type NewBackend func(t *testing.T, opts Options) (b *Backend, ok bool)

// Documented429Body is the 429 body of ref §10, byte for byte.
const Documented429Body = `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Bad Request","status":429,"o:errorCode":"USER_ERROR","o:errorDetails":[{"detail":"Concurrent request limit exceeded. Request blocked.","o:errorCode":"CONCURRENCY_LIMIT_EXCEEDED"}]}`

// DocumentedGovernanceLimitsBody is the governanceLimits example of ref §11.1.
const DocumentedGovernanceLimitsBody = `{"accountConcurrencyLimit":5,"accountUnallocatedConcurrencyLimit":3,"integrationConcurrencyLimit":2,"integrationLimitType":"integrationSpecific"}`

// DocumentedGovernanceLimits returns the numbers of that example; backends
// should serve them.
func DocumentedGovernanceLimits() netsuite.GovernanceLimits {
	return netsuite.GovernanceLimits{AccountConcurrencyLimit: 5, AccountUnallocatedConcurrencyLimit: 3,
		IntegrationConcurrencyLimit: 2, IntegrationLimitType: "integrationSpecific"}
}

// Queries the suite sends; a scripted backend recognises them verbatim.
const (
	// QueryActiveItems is the SuiteQL request of ref §8.
	QueryActiveItems = "SELECT id, itemid, upccode FROM item WHERE isinactive = 'F' AND id > ? ORDER BY id"
	// QueryItemsKeyset is the SKU matching query of ref §9, keyset-paged.
	QueryItemsKeyset = "SELECT id, itemid, displayname, upccode, externalid, itemtype, isinactive FROM item WHERE id > ? ORDER BY id"
)

// External ids the suite writes.
const (
	CustomerExternalID = "mlc-cust-default-5521"     // ref §6
	OrderExternalID    = "mlc-so-default-000001234"  // ref §5, §4.1
	InvoiceExternalID  = "mlc-inv-default-000001234" // ref §7
	BadOrderExternalID = "mlc-so-default-000009999"
	MissingExternalID  = "mlc-so-default-404"
)

// CustomerBody is the customer of ref §6 (without externalId: the upsert
// carries it in the URL).
func CustomerBody(subsidiary string) map[string]any {
	return map[string]any{"isPerson": true, "firstName": "Ann", "lastName": "Lee",
		"email": "ann@example.com", "phone": "555-0100", "subsidiary": map[string]any{"id": subsidiary}}
}

// OrderBody is a sales order in the shape of ref §5 with one line of
// quantity 1 at 39.95 (so total is 39.95, as in the read example of ref §3)
// and the tranDate of that example.
func OrderBody(customerID, subsidiary, itemID string) map[string]any {
	return map[string]any{
		"entity": map[string]any{"id": customerID}, "subsidiary": map[string]any{"id": subsidiary},
		"tranDate": "2020-07-29", "otherRefNum": "000001234", "memo": "Commerce order 000001234", "orderStatus": "B",
		"item": map[string]any{"items": []any{map[string]any{"item": map[string]any{"id": itemID}, "quantity": 1, "rate": 39.95,
			"description": "Tee / M"}}},
	}
}
