package event

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// MaxExternalIDLen keeps external ids well under NetSuite's (unconfirmed)
// limit; see reference/netsuite-rest.md §4.1.
const MaxExternalIDLen = 100

// EncodeIDPart maps any string into NetSuite's external id charset
// [A-Za-z0-9_-] injectively: letters, digits and '-' stay, '_' becomes "__"
// and every other byte becomes "_XX" (uppercase hex). Decoding is
// unambiguous because '_' is always followed by '_' or two hex digits.
func EncodeIDPart(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b.WriteByte(c)
		case c == '_':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02X", c)
		}
	}
	return b.String()
}

// ExternalID builds mlc-<prefix>-<store>-<key> with both parts encoded.
// The encoded store contains no '-' (encodeStore escapes it), so the first
// '-' after the prefix ends the store and the whole id stays injective.
func ExternalID(prefix, store, key string) (string, error) {
	id := "mlc-" + prefix + "-" + encodeStore(store) + "-" + EncodeIDPart(key)
	if len(id) > MaxExternalIDLen {
		return "", fmt.Errorf("external id for %s %q/%q is %d characters, over %d", prefix, store, key, len(id), MaxExternalIDLen)
	}
	return id, nil
}

func encodeStore(store string) string {
	return strings.ReplaceAll(EncodeIDPart(store), "-", "_2D")
}

// SalesOrderExternalID is mlc-so-<store>-<increment_id>.
func SalesOrderExternalID(store, incrementID string) (string, error) {
	return ExternalID("so", store, incrementID)
}

// InvoiceExternalID is mlc-inv-<store>-<increment_id>.
func InvoiceExternalID(store, incrementID string) (string, error) {
	return ExternalID("inv", store, incrementID)
}

// BuyerKey is the business key of a buyer, the same for ingest's subjects
// and the writer's customer externalId: the Commerce customer id when
// there is one, else "e" and the first 16 hex digits of
// sha256(lower(trim(email))), so a guest's orders share one customer
// without the address itself becoming a subject, a message id or an
// external id. It is "" when there is neither an id nor an e-mail.
func BuyerKey(customerID int64, email string) string {
	if customerID > 0 {
		return strconv.FormatInt(customerID, 10)
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(email))
	return "e" + hex.EncodeToString(sum[:])[:16]
}

// CustomerExternalID is mlc-cust-<store>-<buyer key> (BuyerKey): the
// customer id for registered buyers, e<hash> for guests (DESIGN.md §3).
func CustomerExternalID(store, buyerKey string) (string, error) {
	if buyerKey == "" {
		return "", fmt.Errorf("customer external id for store %q: no buyer key (neither customer id nor e-mail)", store)
	}
	return ExternalID("cust", store, buyerKey)
}
