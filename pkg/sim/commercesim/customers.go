package commercesim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// CustomerSpec fixes parts of a new customer; zero fields are random.
type CustomerSpec struct {
	Email     string
	Firstname string
	Lastname  string
	GroupID   int // default 1 (General)
	Address   *Address
}

// RegisterCustomer signs a customer up through the storefront and fires
// observer.customer_register_success.
func (s *Server) RegisterCustomer(ctx context.Context, store string, spec CustomerSpec) (Customer, error) {
	st, ok := s.storeByCode(store)
	if !ok {
		if store != "" {
			return Customer{}, fmt.Errorf("register customer: store %q: %w", store, ErrNotFound)
		}
		st = s.stores[0]
	}
	s.mu.Lock()
	now := s.nowLocked()
	s.nextCustomerID++
	c := &Customer{ID: s.nextCustomerID, Email: spec.Email, Firstname: spec.Firstname, Lastname: spec.Lastname, GroupID: spec.GroupID,
		Store: st.Code, StoreID: st.ID, WebsiteID: st.WebsiteID, CreatedIn: st.Name, CreatedAt: now, UpdatedAt: now}
	if c.Firstname == "" {
		c.Firstname = firstNames()[s.rng.IntN(len(firstNames()))]
	}
	if c.Lastname == "" {
		c.Lastname = lastNames()[s.rng.IntN(len(lastNames()))]
	}
	if c.Email == "" {
		c.Email = fmt.Sprintf("%s.%s%d@example.com", asciiLower(c.Firstname), asciiLower(c.Lastname), c.ID)
	}
	for _, other := range s.customers {
		if other.WebsiteID == c.WebsiteID && strings.EqualFold(other.Email, c.Email) {
			s.nextCustomerID--
			s.mu.Unlock()
			return Customer{}, fmt.Errorf("register customer %s: a customer with the same email address already exists in an associated website", c.Email)
		}
	}
	if c.GroupID == 0 {
		c.GroupID = 1
	}
	if spec.Address != nil {
		a := *spec.Address
		c.Addresses = []Address{a}
	} else if s.rng.IntN(2) == 0 {
		c.Addresses = []Address{s.randomAddressLocked(st, c.Firstname, c.Lastname, c.Email)}
	}
	for i := range c.Addresses {
		s.nextItemID++
		c.Addresses[i].ID = s.nextItemID
	}
	addrs := []any{}
	for _, a := range c.Addresses {
		m := a.model("")
		m = append(Object{{"entity_id", a.ID}, {"parent_id", c.ID}}, m[1:]...)
		addrs = append(addrs, m)
	}
	custModel := Object{
		{"id", c.ID}, {"email", c.Email}, {"firstname", c.Firstname}, {"lastname", c.Lastname}, {"group_id", c.GroupID},
		{"store_id", c.StoreID}, {"website_id", c.WebsiteID}, {"created_in", c.CreatedIn}, {"addresses", addrs},
		{"created_at", ts(c.CreatedAt)}, {"updated_at", ts(c.UpdatedAt)}, {"disable_auto_group_change", 0},
		{"extension_attributes", Object{}},
	}
	body := Object{{"eventName", "customer_register_success"}, {"data", Object{{"customer", custModel}, {"account_controller", Object{}}}}}
	s.mu.Unlock()

	d, aborted := s.fire(ctx, "customer_register_success", "/customer-created", st.Code, fmt.Sprint(c.ID), body)
	c.Delivery = d
	if aborted {
		return c.clone(), fmt.Errorf("register customer %s: %w", c.Email, ErrCheckoutAborted)
	}
	s.mu.Lock()
	s.customers = append(s.customers, c)
	out := c.clone()
	value := customerIOValue(c)
	s.mu.Unlock()
	s.emitIOEvent("customer_register_success", st, fmt.Sprint(c.ID), value)
	return out, nil
}

func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "x"
	}
	return b.String()
}

// Customers returns every registered customer.
func (s *Server) Customers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Customer, len(s.customers))
	for i, c := range s.customers {
		out[i] = c.clone()
	}
	return out
}

func customerREST(c *Customer) Object {
	addrs := []any{}
	for i, a := range c.Addresses {
		r := a.customerREST(c.ID)
		if i == 0 {
			r = append(r, KV{"default_billing", true}, KV{"default_shipping", true})
		}
		addrs = append(addrs, r)
	}
	o := Object{{"id", c.ID}, {"group_id", c.GroupID}}
	if len(c.Addresses) > 0 {
		o = append(o, KV{"default_billing", fmt.Sprint(c.Addresses[0].ID)}, KV{"default_shipping", fmt.Sprint(c.Addresses[0].ID)})
	}
	o = append(o, Object{
		{"created_at", ts(c.CreatedAt)}, {"updated_at", ts(c.UpdatedAt)}, {"created_in", c.CreatedIn}, {"email", c.Email},
		{"firstname", c.Firstname}, {"lastname", c.Lastname}, {"store_id", c.StoreID}, {"website_id", c.WebsiteID},
		{"addresses", addrs}, {"disable_auto_group_change", 0},
		{"extension_attributes", Object{{"is_subscribed", false}}},
	}...)
	return o
}

func customerColumns() map[string]bool {
	return map[string]bool{
		"id": true, "email": true, "firstname": true, "lastname": true, "group_id": true, "store_id": true,
		"website_id": true, "created_at": true, "updated_at": true, "created_in": true,
	}
}

func (s *Server) hSearchCustomers(rq *apiRequest) (int, any) {
	s.mu.Lock()
	recs := make([]record, 0, len(s.customers))
	for _, c := range s.customers {
		recs = append(recs, customerREST(c))
	}
	s.mu.Unlock()
	return s.listResponse(rq, recs, customerColumns(), nil)
}

func (s *Server) hGetCustomer(rq *apiRequest) (int, any) {
	id, _ := atoiParam(rq.params["customerId"])
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.customers {
		if c.ID == id {
			return http.StatusOK, customerREST(c)
		}
	}
	return notFound("No such entity with %fieldName = %fieldValue", Object{{"fieldName", "customerId"}, {"fieldValue", id}})
}
