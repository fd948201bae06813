package commerce

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

// Customer is the REST customer (ref §9); the connector only reads them.
type Customer struct {
	ID              Int               `json:"id"`
	Email           string            `json:"email"`
	Firstname       string            `json:"firstname"`
	Lastname        string            `json:"lastname"`
	GroupID         Int               `json:"group_id"`
	WebsiteID       Int               `json:"website_id"`
	StoreID         Int               `json:"store_id"`
	CreatedAt       Time              `json:"created_at"`
	UpdatedAt       Time              `json:"updated_at"`
	DefaultBilling  Int               `json:"default_billing,omitempty"`
	DefaultShipping Int               `json:"default_shipping,omitempty"`
	Addresses       []CustomerAddress `json:"addresses"`
}

// CustomerAddress is one address book entry.
type CustomerAddress struct {
	ID              Int            `json:"id"`
	CustomerID      Int            `json:"customer_id"`
	Firstname       string         `json:"firstname"`
	Lastname        string         `json:"lastname"`
	Company         string         `json:"company,omitempty"`
	Street          []string       `json:"street"`
	City            string         `json:"city"`
	Region          CustomerRegion `json:"region"`
	RegionID        Int            `json:"region_id,omitempty"`
	Postcode        string         `json:"postcode"`
	CountryID       string         `json:"country_id"`
	Telephone       string         `json:"telephone"`
	DefaultBilling  Bool           `json:"default_billing,omitempty"`
	DefaultShipping Bool           `json:"default_shipping,omitempty"`
}

// CustomerRegion is an address region. Commerce's customer address has an
// object here (RegionInterface); a plain string (the order-address shape) and
// PHP's [] are accepted too.
type CustomerRegion struct {
	RegionCode string `json:"region_code"`
	Region     string `json:"region"`
	RegionID   Int    `json:"region_id"`
}

func (r *CustomerRegion) UnmarshalJSON(b []byte) error {
	if isEmptyObject(b) {
		*r = CustomerRegion{}
		return nil
	}
	var name string
	if json.Unmarshal(b, &name) == nil {
		*r = CustomerRegion{Region: name}
		return nil
	}
	type plain CustomerRegion
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = CustomerRegion(p)
	return nil
}

// GetCustomer reads one customer by id.
func (c *Client) GetCustomer(ctx context.Context, id int64) (Customer, error) {
	var cu Customer
	err := c.Do(ctx, http.MethodGet, "V1/customers/"+strconv.FormatInt(id, 10), nil, nil, &cu)
	return cu, err
}

// SearchCustomers runs one search of V1/customers/search.
func (c *Client) SearchCustomers(ctx context.Context, sc SearchCriteria) (SearchResult[Customer], error) {
	var res SearchResult[Customer]
	err := c.Do(ctx, http.MethodGet, "V1/customers/search", sc.Values(), nil, &res)
	return res, err
}

// WalkCustomers pages through a customer search.
func (c *Client) WalkCustomers(ctx context.Context, sc SearchCriteria, fn func(ctx context.Context, page []Customer) error) error {
	return walk(ctx, c, "V1/customers/search", sc, func(cu Customer) int64 { return int64(cu.ID) }, fn)
}
