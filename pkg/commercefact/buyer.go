package commercefact

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// buyerKey is the business key of a buyer: the customer id in decimal, or
// "e" and the first 16 hex digits of sha256(lower(trim(email))) for guests,
// so the address itself never becomes a subject or an id. "" when neither
// is known.
//
// TODO(lead): replace the body with event.BuyerKey(id, email) once it exists
// (same semantics as ingest.CustomerKey today); keep the "" guard.
func buyerKey(id int64, email string) string {
	email = strings.TrimSpace(email)
	switch {
	case id > 0:
		return strconv.FormatInt(id, 10)
	case email == "":
		return ""
	}
	sum := sha256.Sum256([]byte(strings.ToLower(email)))
	return "e" + hex.EncodeToString(sum[:])[:16]
}
