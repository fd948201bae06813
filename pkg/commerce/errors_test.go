package commerce

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestRenderMessage(t *testing.T) {
	cases := []struct{ tmpl, params, want string }{
		{"Invalid product data: %1", `["Invalid attribute set entity type"]`, "Invalid product data: Invalid attribute set entity type"},
		{"%1 and %2", `["a", 2]`, "a and 2"},
		{"%10|%1|%11", `["one","2","3","4","5","6","7","8","9","ten","eleven"]`, "ten|one|eleven"},
		{"%1%1", `["x"]`, "xx"},
		{"missing %2", `["x"]`, "missing %2"},
		{"The consumer isn't authorized to access %resources.", `{"resources":"Magento_Catalog::products"}`, "The consumer isn't authorized to access Magento_Catalog::products."},
		{"%fieldName = %fieldValue, %field", `{"field":"F","fieldName":"SKU","fieldValue":"A-1"}`, "SKU = A-1, F"},
		{"null %1", `[null]`, "null "},
		{"float %1", `[104.59]`, "float 104.59"},
		{"no params %1", ``, "no params %1"},
		{"scalar %1", `"x"`, "scalar %1"},
		{"no placeholder", `["x"]`, "no placeholder"},
	}
	for _, c := range cases {
		if got := RenderMessage(c.tmpl, json.RawMessage(c.params)); got != c.want {
			t.Errorf("%q %s: got %q, want %q", c.tmpl, c.params, got, c.want)
		}
	}
}

func TestNewError(t *testing.T) {
	e := newError("GET", "V1/products", 401, []byte(`{"message":"The consumer isn't authorized to access %resources.","parameters":{"resources":"Magento_Catalog::products"}}`), nil)
	if !errors.Is(e, ErrUnauthorized) || errors.Is(e, ErrNotFound) {
		t.Fatal("401 sentinels")
	}
	for _, want := range []string{"Magento_Catalog::products", "Allow OAuth Access Tokens to be used as standalone Bearer tokens", "OAuth 1.0a signing"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("401 text %q lacks %q", e.Error(), want)
		}
	}
	if e.Message != consumerNotAuthorized {
		t.Errorf("template not kept: %q", e.Message)
	}

	e = newError("GET", "V1/orders/9", 500, []byte(`{"message":"Internal Error. Details are available in Magento log file. Report ID: webapi-6512a3c1e5b2f","code":0}`), nil)
	if e.ReportID != "webapi-6512a3c1e5b2f" || !errors.Is(e, ErrServer) || !e.Temporary() {
		t.Errorf("500: %+v", e)
	}

	h := http.Header{}
	h.Set("Retry-After", "3")
	e = newError("GET", "V1/orders", 429, []byte(`{"message":"Too Many Requests","trace":null}`), h)
	if !errors.Is(e, ErrRateLimited) || e.RetryAfter != "3" || !e.Temporary() {
		t.Errorf("429: %+v", e)
	}

	e = newError("PUT", "V1/products/X", 400, []byte(`{"message":"Invalid product data: %1","parameters":["bad"],"errors":[{"message":"Field %fieldName","parameters":{"fieldName":"price"}}],"code":"7"}`), nil)
	if e.Rendered != "Invalid product data: bad" || e.Code != 7 || !errors.Is(e, ErrBadRequest) || e.Temporary() ||
		!strings.Contains(e.Error(), "Field price") {
		t.Errorf("400: %+v %s", e, e)
	}

	e = newError("GET", "V1/x", 502, []byte("<html>Bad gateway</html>"), nil)
	if e.Message != "<html>Bad gateway</html>" || !errors.Is(e, ErrServer) {
		t.Errorf("html body: %+v", e)
	}
	if e := newError("GET", "V1/orders/1", 404, []byte(`{"message":"The entity that was requested doesn't exist. Verify the entity and try again."}`), nil); !errors.Is(e, ErrNotFound) {
		t.Error("404")
	}
}

// Commerce's batch endpoints send the parameters of a named template as a
// list (PriceUpdateResultInterface::getParameters is string[]):
// `Invalid attribute %fieldName = %fieldValue.` with ["Price","-1"]. Its
// admin (Magento_Ui/js/model/messages) fills a named placeholder the list
// has no key for with the next list value, in order.
func TestRenderMessageNamedPlaceholdersFromAList(t *testing.T) {
	cases := []struct{ tmpl, params, want string }{
		{"Invalid attribute %fieldName = %fieldValue.", `["Price","-1"]`, "Invalid attribute Price = -1."},
		{"Requested product doesn't exist: %sku", `["MH05-M-Green"]`, "Requested product doesn't exist: MH05-M-Green"},
		{"%fieldName %1 %fieldValue", `["a","b"]`, "a a b"},
		{"%a %b %c", `["x"]`, "x %b %c"},
		{"100% sure: %1", `["x"]`, "100% sure: x"},
		{"%_x and %x_1", `["p","q"]`, "p and q"},
		{"Invalid attribute %fieldName = %fieldValue.", `{"fieldName":"Price","fieldValue":"-1"}`, "Invalid attribute Price = -1."},
	}
	for _, c := range cases {
		if got := RenderMessage(c.tmpl, json.RawMessage(c.params)); got != c.want {
			t.Errorf("%q %s: got %q, want %q", c.tmpl, c.params, got, c.want)
		}
	}
	pf := &PartialFailureError{Endpoint: "V1/products/base-prices", Total: 2}
	for _, r := range []ItemMessage{{Message: "Invalid attribute %fieldName = %fieldValue.", Parameters: json.RawMessage(`["Price","-1"]`)}} {
		pf.Failures = append(pf.Failures, ItemFailure{Message: r.Message, Parameters: r.Parameters, Rendered: r.Rendered()})
	}
	if msg := pf.Error(); strings.Contains(msg, "%") || !strings.Contains(msg, "Invalid attribute Price = -1.") {
		t.Errorf("partial failure: %s", msg)
	}
}

func FuzzRenderMessage(f *testing.F) {
	f.Add("Invalid attribute %fieldName = %fieldValue.", `["Price","-1"]`)
	f.Add("%1 %2 %10", `["a","b"]`)
	f.Add("%x", `{"x":"%y","y":"z"}`)
	f.Add("%", `[`)
	f.Fuzz(func(t *testing.T, tmpl, params string) {
		out := RenderMessage(tmpl, json.RawMessage(params))
		if !strings.Contains(tmpl, "%") && out != tmpl {
			t.Fatalf("no placeholder, yet %q became %q", tmpl, out)
		}
	})
}
