package commercesim_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// A Commerce client test: start the simulator, place an order, read it back
// through REST signed with OAuth 1.0a. In tests use NewTestServer instead of
// New + httptest.
func Example() {
	sim := commercesim.New(commercesim.Config{Seed: 1})
	ts := httptest.NewServer(sim)
	defer ts.Close()
	defer sim.Close()
	sim.SetBaseURL(ts.URL)

	o, err := sim.PlaceOrder(context.Background(), "default", commercesim.OrderSpec{
		Buyer: commercesim.BuyerGuest, Email: "zoe@example.com", Firstname: "Zoë",
		Lines: []commercesim.LineSpec{{SKU: "WB04", Qty: 1}}, NoDiscount: true,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(o.IncrementID, o.GrandTotal)

	req, _ := http.NewRequest("GET", sim.StoreBaseURL("default")+
		"/V1/orders?fields=items[increment_id,grand_total],total_count&searchCriteria[pageSize]=10", nil)
	n := make([]byte, 16)
	_, _ = rand.Read(n)
	if err := commercesim.SignOAuth1(req, commercesim.DefaultOAuth1(), hex.EncodeToString(n), time.Now()); err != nil {
		panic(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b))
	// Output:
	// 000000001 53.71
	// 200 {"items":[{"grand_total":53.71,"increment_id":"000000001"}],"total_count":1}
}
