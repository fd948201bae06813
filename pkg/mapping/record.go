package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// NetSuite REST bodies (netsuite-rest.md §5-§7). Field order is fixed by
// the structs and custom fields are appended in name order, so the same
// input always encodes to the same bytes.

type ref struct {
	ID string `json:"id"`
}

func refOf(id string) *ref {
	if id == "" {
		return nil
	}
	return &ref{ID: id}
}

type address struct {
	Addressee string `json:"addressee,omitempty"`
	Attention string `json:"attention,omitempty"`
	Addr1     string `json:"addr1,omitempty"`
	Addr2     string `json:"addr2,omitempty"`
	Addr3     string `json:"addr3,omitempty"`
	City      string `json:"city,omitempty"`
	State     string `json:"state,omitempty"`
	Zip       string `json:"zip,omitempty"`
	Country   *ref   `json:"country,omitempty"`
	AddrPhone string `json:"addrPhone,omitempty"`
}

type line struct {
	Item        *ref         `json:"item"`
	Quantity    *json.Number `json:"quantity,omitempty"`
	Rate        json.Number  `json:"rate"`
	Description string       `json:"description,omitempty"`
	Price       *ref         `json:"price,omitempty"`
	TaxCode     *ref         `json:"taxCode,omitempty"`
}

type sublist[T any] struct {
	Items []T `json:"items"`
}

type salesOrder struct {
	ExternalID      string         `json:"externalId"`
	Subsidiary      *ref           `json:"subsidiary,omitempty"`
	Currency        *ref           `json:"currency,omitempty"`
	TranDate        string         `json:"tranDate"`
	OtherRefNum     string         `json:"otherRefNum"`
	Memo            string         `json:"memo"`
	OrderStatus     string         `json:"orderStatus,omitempty"`
	Email           string         `json:"email,omitempty"`
	ToBeEmailed     bool           `json:"toBeEmailed"`
	Location        *ref           `json:"location,omitempty"`
	ShipMethod      *ref           `json:"shipMethod,omitempty"`
	ShippingCost    *json.Number   `json:"shippingCost,omitempty"`
	ShippingAddress *address       `json:"shippingAddress,omitempty"`
	BillingAddress  *address       `json:"billingAddress,omitempty"`
	Item            *sublist[line] `json:"item,omitempty"`
}

// transformLine overrides one sales order line in !transform/invoice.
type transformLine struct {
	OrderLine int          `json:"orderLine"`
	Quantity  *json.Number `json:"quantity,omitempty"`
	Rate      *json.Number `json:"rate,omitempty"`
}

type invoiceTransform struct {
	ExternalID   string                  `json:"externalId"`
	TranDate     string                  `json:"tranDate"`
	OtherRefNum  string                  `json:"otherRefNum"`
	Memo         string                  `json:"memo"`
	ShippingCost *json.Number            `json:"shippingCost,omitempty"`
	Item         *sublist[transformLine] `json:"item,omitempty"`
}

type customer struct {
	ExternalID  string                 `json:"externalId"`
	IsPerson    bool                   `json:"isPerson"`
	CompanyName string                 `json:"companyName,omitempty"`
	FirstName   string                 `json:"firstName,omitempty"`
	LastName    string                 `json:"lastName,omitempty"`
	Email       string                 `json:"email,omitempty"`
	Phone       string                 `json:"phone,omitempty"`
	Subsidiary  *ref                   `json:"subsidiary,omitempty"`
	Addressbook *sublist[addressEntry] `json:"addressbook,omitempty"`
}

type addressEntry struct {
	Label              string   `json:"label"`
	DefaultBilling     bool     `json:"defaultBilling"`
	DefaultShipping    bool     `json:"defaultShipping"`
	AddressbookAddress *address `json:"addressbookaddress"`
}

// encode marshals a record and appends custom fields (name -> value).
func encode(rec any, custom map[string]any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, fmt.Errorf("encode NetSuite record: %w", err)
	}
	b := bytes.TrimRight(buf.Bytes(), "\n")
	if len(custom) == 0 {
		return b, nil
	}
	names := make([]string, 0, len(custom))
	for k := range custom {
		names = append(names, k)
	}
	sort.Strings(names)
	out := append([]byte(nil), b[:len(b)-1]...)
	for _, k := range names {
		v, err := json.Marshal(custom[k])
		if err != nil {
			return nil, fmt.Errorf("encode custom field %s: %w", k, err)
		}
		out = append(out, ',')
		out = append(out, '"')
		out = append(out, k...)
		out = append(out, '"', ':')
		out = append(out, v...)
	}
	return append(out, '}'), nil
}
