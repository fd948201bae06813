package service

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPOption configures NewHTTPServer.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	maxHeaderBytes int
	maxConns       int
}

// WithMaxHeaderBytes bounds a request's header block; the server answers
// 431 above it (net/http allows 4 KiB of slack).
func WithMaxHeaderBytes(n int) HTTPOption { return func(o *httpOptions) { o.maxHeaderBytes = n } }

// WithMaxConns bounds the connections served at once.
func WithMaxConns(n int) HTTPOption { return func(o *httpOptions) { o.maxConns = n } }

// refusal is written to a connection over the limit: an answer a webhook
// sender logs and retries (I/O Events) or the backfill poll covers
// (Commerce), instead of a connection left hanging in the backlog.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n" +
	"Connection: close\r\nContent-Length: 46\r\n\r\n{\"error\":\"too many connections, retry later\"}\n"

// limitListener serves at most cap(slots) connections at once and refuses
// the others with a 503 straight away.
type limitListener struct {
	net.Listener
	slots    chan struct{}
	refusing chan struct{} // bounds the refusals in progress
	refused  prometheus.Counter
}

func newLimitListener(ln net.Listener, n int, reg prometheus.Registerer) net.Listener {
	l := &limitListener{Listener: ln, slots: make(chan struct{}, max(n, 1)), refusing: make(chan struct{}, 64),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mlc_http_connections_refused_total", Help: "Connections answered 503 because MLC_HTTP_MAX_CONNS were open.",
		})}
	reg.MustRegister(l.refused)
	return l
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
		}
		l.refused.Inc()
		select {
		case l.refusing <- struct{}{}:
			go func() {
				defer func() { <-l.refusing }()
				refuse(c)
			}()
		default:
			c.Close() // a flood: not even an answer
		}
	}
}

// refuse answers 503 and closes. The request's header block is read first
// (clients take an answer that comes before their request for a broken
// connection), and the rest drained briefly after: a close with unread
// bytes resets the connection, and the client would see the reset instead.
func refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	var head []byte
	for !bytes.Contains(head, []byte("\r\n\r\n")) && len(head) < 64<<10 {
		n, err := c.Read(buf)
		head = append(head, buf[:n]...)
		if err != nil {
			return
		}
	}
	_, _ = c.Write([]byte(refusal))
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// CloseWrite half-closes a TCP connection, for a server that answers and
// then lingers before closing (ingest's, as net/http does itself).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
