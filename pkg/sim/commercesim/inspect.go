package commercesim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// handleInspect serves /_sim/: our own JSON (encoding/json), for `mlc sim`
// and the dev stack.
//
//	GET  /_sim/deliveries, /_sim/io-events, /_sim/orders, /_sim/invoices, /_sim/customers
//	GET  /_sim/price-writes?sku=, /_sim/stock-writes?sku=, /_sim/requests
//	POST /_sim/orders         {"store":"default","lines":[{"sku":"MS09","qty":1}],"buyer":"guest",...}
//	POST /_sim/invoices       {"order_id":12,"state":2}
//	POST /_sim/customers      {"store":"default","email":...}
//	POST /_sim/bulk-consumer  {"running":false}
//	POST /_sim/io-events/challenge  (runs ChallengeIOEvents)
func (s *Server) handleInspect(w http.ResponseWriter, r *http.Request) {
	what := strings.TrimPrefix(r.URL.Path, "/_sim/")
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, err error) { reply(status, map[string]string{"error": err.Error()}) }
	switch r.Method + " " + what {
	case "GET deliveries":
		reply(http.StatusOK, s.deliveryViews())
	case "GET io-events":
		reply(http.StatusOK, s.ioEventViews())
	case "POST io-events/challenge":
		if err := s.ChallengeIOEvents(r.Context()); err != nil {
			fail(http.StatusBadGateway, err)
			return
		}
		reply(http.StatusOK, map[string]bool{"echoed": true})
	case "GET orders":
		reply(http.StatusOK, s.Orders())
	case "GET invoices":
		reply(http.StatusOK, s.Invoices())
	case "GET customers":
		reply(http.StatusOK, s.Customers())
	case "GET requests":
		reply(http.StatusOK, s.Requests())
	case "GET price-writes":
		reply(http.StatusOK, s.PriceWrites(r.URL.Query().Get("sku")))
	case "GET stock-writes":
		reply(http.StatusOK, s.StockWrites(r.URL.Query().Get("sku")))
	case "POST orders":
		var in struct {
			Store          string     `json:"store"`
			Lines          []LineSpec `json:"lines"`
			Buyer          BuyerKind  `json:"buyer"`
			CustomerID     int        `json:"customer_id"`
			Email          string     `json:"email"`
			Firstname      string     `json:"firstname"`
			Lastname       string     `json:"lastname"`
			Discount       string     `json:"discount"`
			PaymentMethod  string     `json:"payment_method"`
			ShippingMethod string     `json:"shipping_method"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil && err.Error() != "EOF" {
			fail(http.StatusBadRequest, err)
			return
		}
		spec := OrderSpec{Lines: in.Lines, Buyer: in.Buyer, CustomerID: in.CustomerID, Email: in.Email, Firstname: in.Firstname,
			Lastname: in.Lastname, PaymentMethod: in.PaymentMethod, ShippingMethod: in.ShippingMethod}
		if in.Discount != "" {
			d, err := decimal.NewFromString(in.Discount)
			if err != nil {
				fail(http.StatusBadRequest, err)
				return
			}
			spec.Discount = d
		}
		if in.Store == "" {
			in.Store = s.stores[0].Code
		}
		o, err := s.PlaceOrder(r.Context(), in.Store, spec)
		if err != nil && o.IncrementID == "" {
			fail(http.StatusBadRequest, err)
			return
		}
		reply(http.StatusOK, o)
	case "POST invoices":
		var in struct {
			OrderID int `json:"order_id"`
			State   int `json:"state"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(http.StatusBadRequest, err)
			return
		}
		if in.State == 0 {
			in.State = InvoicePaid
		}
		inv, err := s.SaveInvoice(r.Context(), in.OrderID, in.State)
		if err != nil && inv.IncrementID == "" {
			fail(http.StatusBadRequest, err)
			return
		}
		reply(http.StatusOK, inv)
	case "POST customers":
		var in struct {
			Store string `json:"store"`
			CustomerSpec
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil && err.Error() != "EOF" {
			fail(http.StatusBadRequest, err)
			return
		}
		if in.Store == "" {
			in.Store = s.stores[0].Code
		}
		c, err := s.RegisterCustomer(r.Context(), in.Store, in.CustomerSpec)
		if err != nil && c.ID == 0 {
			fail(http.StatusBadRequest, err)
			return
		}
		reply(http.StatusOK, c)
	case "POST bulk-consumer":
		var in struct {
			Running bool `json:"running"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(http.StatusBadRequest, err)
			return
		}
		if in.Running {
			s.StartBulkConsumer()
		} else {
			s.StopBulkConsumer()
		}
		reply(http.StatusOK, in)
	default:
		reply(http.StatusNotFound, map[string]string{"error": "unknown simulator endpoint " + strconv.Quote(r.Method+" "+r.URL.Path)})
	}
}

// deliveryView is a Delivery with the body as text.
type deliveryView struct {
	Delivery
	Body       string `json:"Body"`
	DurationMS int64  `json:"DurationMS"`
}

func (s *Server) deliveryViews() []deliveryView {
	ds := s.Deliveries()
	out := make([]deliveryView, len(ds))
	for i, d := range ds {
		out[i] = deliveryView{Delivery: d, Body: string(d.Body), DurationMS: d.Duration.Milliseconds()}
	}
	return out
}

// ioEventView is an IOEventDelivery with the body as text.
type ioEventView struct {
	IOEventDelivery
	Body        string `json:"Body"`
	StatusCodes []int  `json:"StatusCodes"`
}

func (s *Server) ioEventViews() []ioEventView {
	ds := s.IOEventDeliveries()
	out := make([]ioEventView, len(ds))
	for i, d := range ds {
		out[i] = ioEventView{IOEventDelivery: d, Body: string(d.Body), StatusCodes: d.StatusCodes()}
	}
	return out
}
