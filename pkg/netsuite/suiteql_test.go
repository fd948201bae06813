package netsuite

import (
	"testing"
)

func TestParsePageAndRow(t *testing.T) {
	body := `{"links":[{"rel":"next","href":"https://h/services/rest/query/v1/suiteql?limit=2&offset=2"}],"count":"2","hasMore":true,"offset":0,"totalResults":"5400",
	"items":[{"links":[],"id":"98","itemid":"TEE-M","unitprice":"19.99","isinactive":"F","qty":12,"flag":true,"gone":null},
	         {"links":[],"id":"99","ITEMID":"TEE-L","isinactive":"T"}]}`
	p, err := parsePage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if p.Count != 2 || !p.HasMore || p.TotalResults != 5400 || len(p.Items) != 2 || p.Links[0].Rel != "next" {
		t.Fatalf("page = %+v", p)
	}
	r := p.Items[0]
	if r.String("itemid") != "TEE-M" || r.String("ItemID") != "TEE-M" || r.Has("links") || r.Has("gone") {
		t.Fatalf("row = %v", r)
	}
	if n, err := r.Int64("id"); err != nil || n != 98 {
		t.Errorf("Int64 = %d %v", n, err)
	}
	if n, err := r.Int64("qty"); err != nil || n != 12 {
		t.Errorf("numeric value: %d %v", n, err)
	}
	if d, err := r.Decimal("unitprice"); err != nil || d.String() != "19.99" {
		t.Errorf("Decimal = %v %v", d, err)
	}
	if b, err := r.Bool("isinactive"); err != nil || b {
		t.Errorf("Bool F = %v %v", b, err)
	}
	if b, err := r.Bool("flag"); err != nil || !b {
		t.Errorf("JSON true = %v %v", b, err)
	}
	if b, _ := p.Items[1].Bool("isinactive"); !b || p.Items[1].String("itemid") != "TEE-L" {
		t.Errorf("second row = %v", p.Items[1])
	}
	if _, err := r.Int64("gone"); err == nil {
		t.Error("Int64 of a null column must fail")
	}
	if _, err := r.Decimal("itemid"); err == nil {
		t.Error("Decimal of text must fail")
	}
	if _, err := (Row{"b": "maybe"}).Bool("b"); err == nil {
		t.Error("Bool of junk must fail")
	}
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`{"count":"1","hasMore":false,"items":[{"id":"1","x":"T"}]}`))
	f.Add([]byte(`{"count":1,"hasMore":"T","items":[{"id":1.5e3,"x":null}]}`))
	f.Add([]byte(`{"items":[{"id":{"a":1}}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePage(b)
		if err == nil {
			for _, r := range p.Items {
				if r == nil {
					t.Fatal("nil row")
				}
			}
		}
	})
}
