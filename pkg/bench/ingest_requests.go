package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ml-connector/ml-connector/pkg/audit/audittest"
	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/ingest"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

// Request is one signed webhook ready to send.
type Request struct {
	Body      []byte
	Signature string
	RequestID string // X-Adobe-Commerce-Request-Id
}

// wire renders r as the HTTP/1.1 request Commerce's webhook module sends:
// the headers `mlc connect commerce` configures and the signature.
func (r Request) wire(host string) []byte {
	var b bytes.Buffer
	b.Grow(len(r.Body) + len(r.Signature) + 320)
	b.WriteString("POST /webhooks/commerce/order-placed HTTP/1.1\r\nHost: ")
	b.WriteString(host)
	b.WriteString("\r\nUser-Agent: GuzzleHttp/7\r\nContent-Type: application/json\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(r.Body)))
	b.WriteString("\r\n" + ingest.HeaderStore + ": " + benchStore + "\r\n" + ingest.HeaderRequestID + ": ")
	b.WriteString(r.RequestID)
	b.WriteString("\r\n" + commerce.HeaderWebhookSignature + ": ")
	b.WriteString(r.Signature)
	b.WriteString("\r\n\r\n")
	b.Write(r.Body)
	return b.Bytes()
}

// RequestPool makes distinct signed order webhooks: realistic bodies from
// the Commerce simulator (PHP-encoded, 2-4 KB) with the increment_id
// replaced by prefix + index, so webhook i is the same bytes in every run
// and its signature can be kept. A run must never take the same index
// twice (JetStream would drop the second as a duplicate); Take hands out
// each index once.
type RequestPool struct {
	mode      string
	key       *rsa.PrivateKey
	secret    []byte
	templates [][]byte
	prefix    string

	sigs  []string // sigs[i] signs body(i)
	next  int      // first index not handed out yet
	cache string   // file the signatures are appended to; "" keeps none
}

// poolMeta is what a cache directory remembers besides the signatures.
type poolMeta struct {
	Mode      string   `json:"mode"`
	KeyPEM    string   `json:"key_pem,omitempty"` // RSA private key: a throwaway bench key
	Secret    []byte   `json:"secret,omitempty"`
	Prefix    string   `json:"prefix"`
	Templates [][]byte `json:"templates"`
}

// OpenRequestPool loads the pool cached in dir (made on first use), or
// makes a fresh one when dir is "".
func OpenRequestPool(ctx context.Context, mode, dir string) (*RequestPool, error) {
	if mode != commerce.VerifyRSA && mode != commerce.VerifyHMAC {
		return nil, fmt.Errorf("bench: signature mode %q: want rsa or hmac", mode)
	}
	if dir == "" {
		return newPool(ctx, mode)
	}
	dir = filepath.Join(dir, "ingest-"+mode)
	if p, err := loadPool(dir, mode); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		// A damaged cache is replaced, not trusted.
		_ = os.RemoveAll(dir)
	}
	p, err := newPool(ctx, mode)
	if err != nil {
		return nil, err
	}
	if err := p.save(dir); err != nil {
		return nil, fmt.Errorf("bench: request cache %s: %w", dir, err)
	}
	return p, nil
}

func newPool(ctx context.Context, mode string) (*RequestPool, error) {
	p := &RequestPool{mode: mode, prefix: fmt.Sprintf("B%09d-", time.Now().UnixNano()%1_000_000_000)}
	var err error
	if mode == commerce.VerifyRSA {
		if p.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	} else {
		p.secret = []byte("bench-shared-secret-0123456789abcdef")
	}
	if p.templates, err = sampleBodies(ctx, 32); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *RequestPool) save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	m := poolMeta{Mode: p.mode, Secret: p.secret, Prefix: p.prefix, Templates: p.templates}
	if p.key != nil {
		m.KeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(p.key)}))
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o600); err != nil {
		return err
	}
	p.cache = filepath.Join(dir, "signatures")
	return os.WriteFile(p.cache, nil, 0o600)
}

func loadPool(dir, mode string) (*RequestPool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	var m poolMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.Mode != mode || len(m.Templates) == 0 || m.Prefix == "" {
		return nil, errors.New("bench: request cache of another kind")
	}
	p := &RequestPool{mode: mode, secret: m.Secret, prefix: m.Prefix, templates: m.Templates, cache: filepath.Join(dir, "signatures")}
	if mode == commerce.VerifyRSA {
		block, _ := pem.Decode([]byte(m.KeyPEM))
		if block == nil {
			return nil, errors.New("bench: request cache without a key")
		}
		if p.key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(p.cache)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p.sigs = append(p.sigs, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// A run killed while appending may leave a cut line: keep what verifies.
	for len(p.sigs) > 0 && !p.verifies(len(p.sigs)-1) {
		p.sigs = p.sigs[:len(p.sigs)-1]
	}
	if len(p.sigs) > 0 && !p.verifies(0) {
		return nil, errors.New("bench: request cache signatures do not verify")
	}
	return p, nil
}

// verifies reports whether sigs[i] signs body(i).
func (p *RequestPool) verifies(i int) bool {
	if p.mode == commerce.VerifyHMAC {
		return commercesim.SignHMAC(p.secret, p.body(i)) == p.sigs[i]
	}
	sig, err := base64.StdEncoding.DecodeString(p.sigs[i])
	if err != nil {
		return false
	}
	digest := sha256.Sum256([]byte(base64.StdEncoding.EncodeToString(p.body(i))))
	return rsa.VerifyPKCS1v15(&p.key.PublicKey, crypto.SHA256, digest[:], sig) == nil
}

// Webhook is the store connection's verification that matches the pool.
func (p *RequestPool) Webhook() connection.Webhook {
	if p.mode == commerce.VerifyHMAC {
		return connection.Webhook{Mode: commerce.VerifyHMAC, Secrets: []string{string(p.secret)}}
	}
	der, _ := x509.MarshalPKIXPublicKey(&p.key.PublicKey)
	return connection.Webhook{Mode: commerce.VerifyRSA, PublicKeys: []string{string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}
}

// body is webhook i's body: template i mod 32 with its own increment_id.
func (p *RequestPool) body(i int) []byte {
	tmpl := p.templates[i%len(p.templates)]
	return bytes.Replace(tmpl, incrementField(tmpl), []byte(`"increment_id":"`+p.prefix+fmt.Sprintf("%09d", i)+`"`), 1)
}

// Take returns the next n webhooks, signing (on every core, before any
// measurement) those the cache does not hold yet.
func (p *RequestPool) Take(n int, progress func()) ([]Request, error) {
	from := p.next
	if err := p.sign(from+n, progress); err != nil {
		return nil, err
	}
	p.next += n
	out := make([]Request, n)
	for k := range out {
		i := from + k
		out[k] = Request{Body: p.body(i), Signature: p.sigs[i], RequestID: fmt.Sprintf("%s%09d", p.prefix, i)}
	}
	return out, nil
}

// Cached is how many signed webhooks the pool holds.
func (p *RequestPool) Cached() int { return len(p.sigs) }

// sign extends sigs to n.
func (p *RequestPool) sign(n int, progress func()) error {
	have := len(p.sigs)
	if n <= have {
		if progress != nil {
			for range n - p.next {
				progress()
			}
		}
		return nil
	}
	if progress != nil {
		for range have - p.next {
			progress()
		}
	}
	more := make([]string, n-have)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(more) {
					return
				}
				var err error
				if p.mode == commerce.VerifyRSA {
					more[k], err = commercesim.SignRSA(p.key, p.body(have+k))
				} else {
					more[k] = commercesim.SignHMAC(p.secret, p.body(have+k))
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				if progress != nil {
					progress()
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	p.sigs = append(p.sigs, more...)
	if p.cache == "" {
		return nil
	}
	f, err := os.OpenFile(p.cache, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, s := range more {
		w.WriteString(s)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sampleBodies captures real order webhook bodies from the Commerce
// simulator (audittest.OrderBodies) that carry the increment_id the
// requests are renumbered by.
func sampleBodies(ctx context.Context, n int) ([][]byte, error) {
	bodies, err := audittest.OrderBodies(ctx, n)
	if err != nil {
		return nil, fmt.Errorf("bench: sample bodies: %w", err)
	}
	for i, b := range bodies {
		if incrementField(b) == nil {
			return nil, fmt.Errorf("bench: sample body %d has no increment_id", i)
		}
	}
	return bodies, nil
}

// incrementField returns the order's `"increment_id":"..."` bytes.
func incrementField(body []byte) []byte {
	const key = `"increment_id":"`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return nil
	}
	j := bytes.IndexByte(body[i+len(key):], '"')
	return body[i : i+len(key)+j+1]
}
