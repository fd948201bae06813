package commerce

import (
	"strings"
	"testing"
)

// A realistic order webhook body (~2.5 KB) for the hot-path benchmarks.
func benchBody() []byte {
	var b strings.Builder
	b.WriteString(`{"eventName":"sales_order_place_after","data":{"order":{"increment_id":"000001234","store_id":1,` +
		`"customer_email":"zo\u00eb@example.com","base_currency_code":"USD","grand_total":104.59,"items":[`)
	for i := range 12 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"sku":"MS09-M-Red","name":"Helios Tee","qty_ordered":1,"price":32,"url":"https:\/\/shop.example.com\/helios"}`)
	}
	b.WriteString(`],"addresses":[{"address_type":"shipping","firstname":"Zo\u00eb","street":["1 Main St"],"city":"Austin"}],` +
		`"payment":{"method":"checkmo"},"extension_attributes":[]}}}`)
	return []byte(b.String())
}

// go test -run x -bench 'Verify|Decode' ./pkg/commerce/
func BenchmarkVerifyRSA(b *testing.B) {
	key, _ := testKeys(b)
	body := benchBody()
	v, err := NewRSAVerifier(pubPEM(b, key))
	if err != nil {
		b.Fatal(err)
	}
	h := hdr(HeaderWebhookSignature, commerceSign(b, key, body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(body, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyHMAC(b *testing.B) {
	body := benchBody()
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := NewHMACVerifier(secret)
	if err != nil {
		b.Fatal(err)
	}
	h := hdr(HeaderWebhookSignature, hmacSig(secret, body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(body, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeOrderPlaced(b *testing.B) {
	body := benchBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeOrderPlaced(body); err != nil {
			b.Fatal(err)
		}
	}
}
