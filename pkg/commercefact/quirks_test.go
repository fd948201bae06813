package commercefact

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ml-connector/ml-connector/pkg/event"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s).Normalize() }

func orderHook(model string) string {
	return `{"eventName":"sales_order_place_after","data":{"order":` + model + `}}`
}

func readHook(t *testing.T, kind, body string) (Fact, error) {
	t.Helper()
	m := wrapNoKey(t, kind, "default", event.SchemaWebhook, []byte(body))
	return Read(m.subject, m.hdr, m.data)
}

// wrapNoKey wraps like ingest but without Mlc-Key (the tests here are
// about the data, not the key).
func wrapNoKey(t *testing.T, kind, store, schema string, raw []byte) message {
	t.Helper()
	m := wrap(t, kind, store, "x", event.OriginWebhook, schema, raw)
	m.hdr.Del(event.HeaderKey)
	return m
}

func TestPHPQuirksOrderModel(t *testing.T) {
	const line = `"sku":"S","name":"N","product_type":"simple","price":1,"row_total":1,"original_price":1,"discount_amount":0,"tax_amount":0,"tax_percent":0`
	cases := []struct {
		name  string
		model string
		check func(t *testing.T, o *Order, f Fact)
	}{
		{"numbers as strings", `{"increment_id":100000001,"store_id":"2","customer_id":"5","customer_is_guest":"0",
			"customer_group_id":"1","customer_email":"a@example.com","grand_total":"104.5900","subtotal":"100","discount_amount":"-0.00",
			"tax_amount":"0","shipping_amount":"4.59",
			"items":[{"item_id":"7","parent_item_id":null,"qty_ordered":"1.0000","sku":12345,"name":"N","product_type":"simple",
			"price":"32.5000","row_total":"32.50","original_price":"32.5","discount_amount":"0","tax_amount":"2.68","tax_percent":"8.2500"}],
			"addresses":[{"address_type":"billing","postcode":78701,"telephone":5550100,"street":"1 Main St","region_id":"57"}]}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.IncrementID != "100000001" || o.StoreID != 2 || o.Customer.ID != 5 || o.Customer.Guest || o.Customer.GroupID != 1 {
					t.Errorf("ids %+v", o)
				}
				if !o.Totals.GrandTotal.Equal(dec("104.59")) || o.Totals.GrandTotal.String() != "104.59" || o.Totals.Discount != (decimal.Decimal{}) {
					t.Errorf("totals %+v", o.Totals)
				}
				l := o.Lines[0]
				if l.ItemID != 7 || l.SKU != "12345" || l.Qty.String() != "1" || l.Price.String() != "32.5" || l.TaxPercent.String() != "8.25" {
					t.Errorf("line %+v", l)
				}
				if a := o.BillingAddress; a == nil || a.Postcode != "78701" || a.Telephone != "5550100" || a.RegionID != 57 {
					t.Errorf("address %+v", a)
				}
				if o.BuyerKey != "5" {
					t.Errorf("buyer key %q", o.BuyerKey)
				}
			}},
		{"integral floats", `{"increment_id":"1","store_id":1.0,"customer_group_id":0.0,"items":[{"item_id":7.0,"parent_item_id":5.0,"qty_ordered":2.0,` + line + `}],"grand_total":5.0,"subtotal":1.0E+2}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.StoreID != 1 || o.Lines[0].ItemID != 7 || o.Lines[0].ParentItemID != 5 || o.Lines[0].Qty.String() != "2" {
					t.Errorf("order %+v", o)
				}
				if f.Lacks(PartLineIDs) || f.Lacks(PartLineParents) || f.Lacks(PartLineAmounts) {
					t.Errorf("line parts missing: %v", f.Missing)
				}
			}},
		{"[] for empty objects and lists", `{"increment_id":"1","payment":[],"extension_attributes":[],"addresses":[],"items":[],
			"status_histories":[],"subject":[]}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.Payment != (Payment{}) || o.BillingAddress != nil || o.ShippingAddress != nil || o.Lines != nil {
					t.Errorf("order %+v", o)
				}
				// An order always has a billing address: an empty list is not the whole list.
				if f.Lacks(PartPayment) || !f.Lacks(PartBillingAddress) || f.Lacks(PartLines) || !f.Lacks(PartPaymentTitle) {
					t.Errorf("missing %v", f.Missing)
				}
			}},
		{"virtual order: nothing to ship, no shipping address", `{"increment_id":"1","shipping_method":null,"shipping_description":null,
			"addresses":[{"address_type":"billing","city":"Austin","region_code":"TX"}]}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.ShippingAddress != nil || o.BillingAddress == nil || f.Lacks(PartShippingAddress) || f.Lacks(PartBillingAddress) {
					t.Errorf("addresses %+v %+v missing %v", o.BillingAddress, o.ShippingAddress, f.Missing)
				}
			}},
		{"ships, but the shipping address is not in the list", `{"increment_id":"1","shipping_method":"flatrate_flatrate",
			"shipping_description":"Flat Rate","addresses":[{"address_type":"billing","region_code":"TX"}]}`,
			func(t *testing.T, o *Order, f Fact) {
				if !f.Lacks(PartShippingAddress) || f.Lacks(PartBillingAddress) || o.Shipping.Method != "flatrate_flatrate" {
					t.Errorf("shipping %+v missing %v", o.Shipping, f.Missing)
				}
			}},
		{"false, null and empty string for no value", `{"increment_id":"1","coupon_code":false,"discount_description":null,
			"customer_id":false,"customer_is_guest":false,"customer_email":null,"discount_amount":"","shipping_method":null,"shipping_description":false,
			"addresses":[{"address_type":"billing","company":false,"region":null,"street":"","email":null}]}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.CouponCode != "" || !o.Customer.Guest || o.Customer.ID != 0 || o.Totals.Discount != (decimal.Decimal{}) {
					t.Errorf("order %+v", o)
				}
				a := o.BillingAddress
				if a == nil || a.Company != "" || a.Street != nil || a.Region != "" {
					t.Errorf("address %+v", a)
				}
				if f.Lacks(PartCoupon) || f.Lacks(PartShipping) {
					t.Errorf("missing %v", f.Missing)
				}
			}},
		{"non-sequential array as an object", `{"increment_id":"1","items":{"3":{"item_id":4,"qty_ordered":1,` + line + `},
			"1":{"item_id":2,"qty_ordered":1,` + strings.Replace(line, `"S"`, `"T"`, 1) + `}}}`,
			func(t *testing.T, o *Order, f Fact) {
				if len(o.Lines) != 2 || o.Lines[0].ItemID != 4 || o.Lines[1].SKU != "T" {
					t.Errorf("lines %+v", o.Lines)
				}
			}},
		{"street as one string or a list", `{"increment_id":"1","addresses":[
			{"address_type":"billing","street":"1 Main St\nApt 4\/B","region_code":"TX"},
			{"address_type":"shipping","street":["2 Side St","Suite 5"],"region":{"region_code":"OR","region":"Oregon","region_id":49}}]}`,
			func(t *testing.T, o *Order, f Fact) {
				if b := o.BillingAddress; b == nil || !slices.Equal(b.Street, []string{"1 Main St", "Apt 4/B"}) || b.RegionCode != "TX" {
					t.Errorf("billing %+v", b)
				}
				if s := o.ShippingAddress; s == nil || !slices.Equal(s.Street, []string{"2 Side St", "Suite 5"}) ||
					s.RegionCode != "OR" || s.Region != "Oregon" || s.RegionID != 49 {
					t.Errorf("shipping %+v", s)
				}
				if f.Lacks(PartRegionCode) {
					t.Errorf("region code listed missing though both addresses carry one: %v", f.Missing)
				}
			}},
		{"PHP escapes", `{"increment_id":"1","customer_firstname":"Zo\u00eb","customer_lastname":"O'Brien & <S\u00f8n>",
			"items":[{"item_id":1,"qty_ordered":1,"sku":"A\/B","name":"Caf\u00e9 \ud83d\udeb2","product_type":"simple","price":1,"row_total":1}]}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.Customer.Firstname != "Zoë" || o.Customer.Lastname != "O'Brien & <Søn>" || o.Lines[0].SKU != "A/B" || o.Lines[0].Name != "Café 🚲" {
					t.Errorf("text %+v %+v", o.Customer, o.Lines[0])
				}
				if !f.Lacks(PartLineAmounts) || f.Lacks(PartLineIDs) {
					t.Errorf("missing %v", f.Missing)
				}
			}},
		{"no entity id before save", `{"increment_id":"1","entity_id":null,"created_at":null,"updated_at":"2026-01-02 03:04:05"}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.EntityID != 0 || !o.UpdatedAt.IsZero() || !f.Lacks(PartEntityID) || !f.Lacks(PartTimestamps) {
					t.Errorf("order %+v missing %v", o, f.Missing)
				}
			}},
		{"timestamps, RFC 3339 too", `{"increment_id":"1","entity_id":"9","created_at":"2026-01-02 03:04:05","updated_at":"2026-01-02T04:04:05+01:00"}`,
			func(t *testing.T, o *Order, f Fact) {
				want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				if o.EntityID != 9 || !o.CreatedAt.Equal(want) || !o.UpdatedAt.Equal(want) || f.Lacks(PartTimestamps) || f.Lacks(PartEntityID) {
					t.Errorf("order %+v missing %v", o, f.Missing)
				}
			}},
		{"coupon carried", `{"increment_id":"1","coupon_code":" SAVE10 ","discount_description":"SAVE10 (10% off)","discount_amount":-3.5}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.CouponCode != "SAVE10" || o.DiscountDescription != "SAVE10 (10% off)" || f.Lacks(PartCoupon) {
					t.Errorf("coupon %q %q missing %v", o.CouponCode, o.DiscountDescription, f.Missing)
				}
			}},
		{"payment title", `{"increment_id":"1","payment":{"method":"checkmo","additional_information":{"method_title":"Check \/ Money order"}}}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.Payment != (Payment{Method: "checkmo", Title: "Check / Money order"}) || f.Lacks(PartPayment) || f.Lacks(PartPaymentTitle) {
					t.Errorf("payment %+v missing %v", o.Payment, f.Missing)
				}
			}},
		{"guest flag wins over a stale customer id", `{"increment_id":"1","customer_id":7,"customer_is_guest":true,"customer_email":" Ann@Example.com ",
			"customer_firstname":"A","customer_lastname":"B"}`,
			func(t *testing.T, o *Order, f Fact) {
				if !o.Customer.Guest || o.Customer.ID != 0 || o.Customer.Email != "Ann@Example.com" ||
					o.BuyerKey != "e71d4f55f72fa128d" { // sha256("ann@example.com"), the guest key of DESIGN §3
					t.Errorf("buyer %+v key %q", o.Customer, o.BuyerKey)
				}
			}},
		{"a partly described line makes all lines missing", `{"increment_id":"1","items":[{"item_id":1,` + line + `,"qty_ordered":1},{"item_id":2,"sku":"X"}]}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.Lines != nil || !f.Lacks(PartLines) || f.Lacks(PartLineIDs) {
					t.Errorf("lines %+v missing %v", o.Lines, f.Missing)
				}
			}},
		{"a partly carried part is zero, not half filled", `{"increment_id":"1","subtotal":10,"grand_total":12}`,
			func(t *testing.T, o *Order, f Fact) {
				if o.Totals != (Totals{}) || !f.Lacks(PartTotals) {
					t.Errorf("totals %+v missing %v", o.Totals, f.Missing)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := readHook(t, event.OrderPlaced, orderHook(c.model))
			if err != nil {
				t.Fatal(err)
			}
			if f.Order == nil || f.Invoice != nil || f.Customer != nil || f.Kind != event.OrderPlaced {
				t.Fatalf("fact %+v", f)
			}
			c.check(t, f.Order, f)
		})
	}
}

func TestPHPQuirksInvoiceAndCustomerModels(t *testing.T) {
	inv, err := readHook(t, event.InvoiceCaptured, `{"eventName":"sales_order_invoice_save_after","data":{"data_object":[],
		"invoice":{"increment_id":"000000009","entity_id":"9","order_id":"3","order":{"increment_id":"000000003"},"state":"2.0",
		"store_id":1,"order_currency_code":"USD","created_at":"2026-01-02 03:04:05","updated_at":"2026-01-02 03:04:05",
		"subtotal":"10.0","discount_amount":-1.0,"tax_amount":"0.83","shipping_amount":5,"grand_total":"14.83",
		"items":{"5":{"order_item_id":"4","sku":"S","qty":"1.0000","price":"10","row_total":10.0,"tax_amount":"0.83","discount_amount":"1"}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	i := inv.Invoice
	if i == nil || !inv.Complete() || i.OrderIncrementID != "000000003" || i.State != InvoicePaid || !i.Captured() ||
		len(i.Lines) != 1 || i.Lines[0].OrderItemID != 4 || i.Lines[0].Qty.String() != "1" || i.Totals.GrandTotal.String() != "14.83" {
		t.Errorf("invoice %+v missing %v", i, inv.Missing)
	}

	cu, err := readHook(t, event.CustomerCreated, `{"eventName":"customer_register_success","data":{"account_controller":[],
		"customer":{"entity_id":"12","email":"ann@example.com","firstname":"Ann","lastname":"Lee","group_id":"1","store_id":"1",
		"website_id":"1","created_at":"2026-01-02 03:04:05","updated_at":"2026-01-02 03:04:05","default_billing":"30","default_shipping":"31",
		"addresses":[{"id":30,"street":"1 Main St","region":{"region_code":null,"region":"London","region_id":0},"email":"x@example.com"},
		{"entity_id":"31","street":["2 Side St"],"region_code":"TX"}]}}}`)
	if err != nil {
		t.Fatal(err)
	}
	c := cu.Customer
	if c == nil || !cu.Complete() || c.ID != 12 || c.BuyerKey != "12" || c.DefaultBillingID != 30 || c.DefaultShippingID != 31 ||
		len(c.Addresses) != 2 || c.Addresses[0].ID != 30 || c.Addresses[0].Email != "" || c.Addresses[0].Region != "London" ||
		c.Addresses[1].ID != 31 || c.Addresses[1].RegionCode != "TX" {
		t.Errorf("customer %+v missing %v", c, cu.Missing)
	}

	byEmail, err := readHook(t, event.CustomerCreated, `{"data":{"customer":{"email":" Bob@Example.com"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if c := byEmail.Customer; c.ID != 0 || c.BuyerKey != event.BuyerKey(0, "bob@example.com") || !byEmail.Lacks(PartEntityID) || !byEmail.Lacks(PartAddresses) {
		t.Errorf("customer by e-mail %+v missing %v", c, byEmail.Missing)
	}
}

func TestPHPQuirksRejected(t *testing.T) {
	long := strings.Repeat("9", maxIncrementID+1)
	cases := []struct{ name, model, why string }{
		{"price is text", `{"increment_id":"1","items":[{"price":"abc"}]}`, `"abc" is not a number`},
		{"price is a list", `{"increment_id":"1","items":[{"price":[1]}]}`, `"[1]" is not a number`},
		{"price is an object", `{"increment_id":"1","grand_total":{"a":1}}`, "is not a number"},
		{"exponent beyond decimal's limit", `{"increment_id":"1","grand_total":1e2000000000}`, `"1e2000000000" is not a number`},
		{"amount out of range", `{"increment_id":"1","grand_total":"1e25"}`, "out of range"},
		{"tiny amount out of range", `{"increment_id":"1","grand_total":1e-200}`, "out of range"},
		{"too many digits", `{"increment_id":"1","subtotal":1234567890123456789012.5}`, "out of range"},
		{"negative id", `{"increment_id":"1","entity_id":-4}`, "negative"},
		{"fractional id", `{"increment_id":"1","store_id":1.5}`, "is not an id"},
		{"bool id", `{"increment_id":"1","store_id":true}`, "is not an id"},
		{"increment id too long", `{"increment_id":"` + long + `"}`, "over 64"},
		{"no increment id", `{"entity_id":1}`, "increment_id missing"},
		{"items not a list", `{"increment_id":"1","items":"x"}`, "is not a list"},
		{"address not an object", `{"increment_id":"1","addresses":[1]}`, "is not an object"},
		{"timestamp garbage", `{"increment_id":"1","created_at":"yesterday"}`, "is not a timestamp"},
		{"name is a list", `{"increment_id":"1","customer_firstname":["A"]}`, "is not a string"},
		{"guest flag garbage", `{"increment_id":"1","customer_is_guest":"maybe"}`, "is not a boolean"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readHook(t, event.OrderPlaced, orderHook(c.model))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) {
				t.Fatalf("got %v, want ErrMalformed saying %q", err, c.why)
			}
		})
	}
}

func TestRESTOrderQuirks(t *testing.T) {
	rest := `{"entity_id":"12","increment_id":" 000000012 ","store_id":"3","state":"processing","status":"processing",
		"created_at":"2026-01-02 03:04:05","updated_at":"2026-01-02 03:04:06","customer_email":"Guest@Example.com","customer_is_guest":"1",
		"customer_group_id":0,"order_currency_code":"EUR","grand_total":"90.5","subtotal":100.0,"discount_amount":-10,"tax_amount":0.5,
		"shipping_amount":0,"coupon_code":"SAVE10","discount_description":"Ten off",
		"items":[{"item_id":5,"sku":"KIT","name":"Kit","product_type":"bundle","qty_ordered":1,"price":100,"row_total":100,"tax_percent":"0.5000"},
			{"item_id":"6","parent_item_id":"5","parent_item":{"item_id":5},"sku":"PART","name":"Part","product_type":"simple","qty_ordered":"1.0000","price":0}],
		"billing_address":{"address_type":"billing","street":["1 Rue de la Paix"],"city":"Paris","country_id":"FR","region":null},
		"payment":{"method":"free","additional_information":[]},
		"extension_attributes":{"payment_additional_info":[{"key":"method_title","value":"No Payment Information Required"}]}}`
	m := wrapNoKey(t, event.OrderPlaced, "en_us", event.SchemaRESTOrder, []byte(rest))
	f, err := Read(m.subject, m.hdr, m.data)
	if err != nil {
		t.Fatal(err)
	}
	o := f.Order
	if !f.Complete() || o.IncrementID != "000000012" || o.EntityID != 12 || o.StoreID != 3 || !o.Customer.Guest || o.Customer.ID != 0 ||
		o.BuyerKey != event.BuyerKey(0, "guest@example.com") || o.Currency != "EUR" {
		t.Errorf("order %+v missing %v", o, f.Missing)
	}
	if o.CouponCode != "SAVE10" || o.DiscountDescription != "Ten off" || o.Totals.Discount.String() != "-10" || o.Totals.Subtotal.String() != "100" {
		t.Errorf("discount %q %q %+v", o.CouponCode, o.DiscountDescription, o.Totals)
	}
	if len(o.Lines) != 2 || o.Lines[1].ParentItemID != 5 || len(o.Children(5)) != 1 || len(o.TopLevel()) != 1 || o.Lines[0].TaxPercent.String() != "0.5" {
		t.Errorf("lines %+v", o.Lines)
	}
	if o.ShippingAddress != nil || o.BillingAddress == nil || o.BillingAddress.City != "Paris" {
		t.Errorf("addresses %+v %+v", o.BillingAddress, o.ShippingAddress)
	}
	if o.Payment != (Payment{Method: "free", Title: "No Payment Information Required"}) {
		t.Errorf("payment %+v", o.Payment)
	}
	// The fact marshals with the same decimals whatever the input's form.
	b, _ := json.Marshal(o.Totals)
	if string(b) != `{"subtotal":"100","discount":"-10","tax":"0.5","shipping":"0","grand_total":"90.5"}` {
		t.Errorf("totals JSON %s", b)
	}
}

func TestIOEventStoreFromMetadata(t *testing.T) {
	body := `{"specversion":"1.0","id":"c1","event_id":"ev-1","type":"com.adobe.commerce.observer.sales_order_place_after",
		"data":{"key":"k","value":{"increment_id":"3000000001","entity_id":9},"_metadata":{"storeId":"3","websiteId":"1"}}}`
	m := wrapNoKey(t, event.OrderPlaced, "en_us", event.SchemaIOEvent, []byte(body))
	f, err := Read(m.subject, m.hdr, m.data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Order.StoreID != 3 || f.Lacks(PartStoreID) || f.Source.IOEventID != "ev-1" || f.Source.CommerceEvent != "sales_order_place_after" {
		t.Errorf("order %+v source %+v missing %v", f.Order, f.Source, f.Missing)
	}
	if f.Order.EntityID != 9 || !f.Lacks(PartLines) || !f.Lacks(PartTotals) || !f.Lacks(PartCustomer) {
		t.Errorf("a sparse subscription must list what it lacks: %v", f.Missing)
	}
}
