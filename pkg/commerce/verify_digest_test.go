package commerce

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
)

// base64Digest is sha256 over the whole base64 text, at every length
// around its piece boundaries.
func TestBase64Digest(t *testing.T) {
	body := make([]byte, 3*768+5)
	for i := range body {
		body[i] = byte(i*131 + 7)
	}
	for n := 0; n <= len(body); n++ {
		if n > 8 && n%768 > 3 && n%768 < 765 && n%97 != 0 {
			continue
		}
		want := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(body[:n])))
		if got := base64Digest(body[:n]); got != want {
			t.Fatalf("length %d: digest differs", n)
		}
	}
}

func FuzzBase64Digest(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte("a"))
	f.Add(benchBody())
	f.Fuzz(func(t *testing.T, raw []byte) {
		if base64Digest(raw) != sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(raw))) {
			t.Fatalf("digest of %d bytes differs", len(raw))
		}
	})
}
