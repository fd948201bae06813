// Package netsuitesim is a strict, in-process simulator of NetSuite SuiteTalk
// REST, built from /shared/reference/netsuite-rest.md (§13 lists what it must
// do). Nobody can reach a real NetSuite from tests or `mlc dev`, so wherever
// the real API is strict the simulator is too: a kinder simulator would hide
// production bugs.
//
// Usage in a test:
//
//	s := netsuitesim.NewTestServer(t, netsuitesim.Config{ConcurrencyLimit: 2})
//	s.RegisterCertificate("cert-1", &key.PublicKey) // the JWT kid
//	// point the client at s.URL(); the token aud is s.URL()+"/services/rest/auth/oauth2/v1/token"
//	...
//	recs := s.Records("salesOrder")           // what the client wrote
//	st := s.Stats()                            // st.DuplicateExternalIDs must stay empty
//
// What it simulates:
//
//   - OAuth 2.0 client credentials with a JWT assertion (PS256/384/512,
//     ES256/384/512; RS256 gets a bare 500 server_error), opaque access
//     tokens that expire after Config.TokenLifetime, 401 INVALID_LOGIN after.
//   - Record API for customer, salesOrder and invoice (POST, PUT eid: upsert,
//     PATCH, GET, DELETE, list with q=), read-only item, subsidiary, location
//     and currency records, and salesOrder/{id}/!transform/invoice. References
//     are validated; unkeyed item lines are appended on update unless
//     ?replace=item; unknown fields fail under
//     X-NetSuite-PropertyNameValidation: Error.
//   - SuiteQL by query shape (one table, AND-ed conditions, ORDER BY), not a
//     SQL engine; every value a string, nulls left out, T/F booleans, the
//     paging rules, and a deterministic scramble when there is no ORDER BY.
//   - The account concurrency limit with the exact 429 body (or the 401 quirk),
//     governanceLimits, latency, random and scripted faults (FailNext), and
//     async writes with idempotency keys.
//   - An inspection API for tools and the dev stack: GET /_sim/stats,
//     GET /_sim/records/{type}, GET /_sim/requests, POST /_sim/reset.
//
// Not simulated: batch (collection) writes, customerPayment and other record
// types, stock commitment by orders, tax, field-level permissions, the
// 15-minute request limit.
package netsuitesim
