package ingest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/ml-connector/ml-connector/pkg/service"
)

// Ingest serves its listener with fasthttp, not net/http: per webhook
// net/http spent ~0.1 ms of CPU more (a goroutine watching each request's
// connection, header maps, a buffered writer per answer), a fifth of what
// ingest spends. The other services keep pkg/service's net/http server.

// Handler serves the webhook endpoints and hands every other request to
// fallback (the service's mux: /healthz, /readyz, /metrics). Nothing of a
// request outlives the handler: what is kept is copied.
func (h *Webhooks) Handler(fallback http.Handler) fasthttp.RequestHandler {
	rest := fasthttpadaptor.NewFastHTTPHandler(fallback)
	return func(c *fasthttp.RequestCtx) {
		p := c.URI().PathOriginal()
		switch {
		case bytes.HasPrefix(p, pathCommerce):
			segs, status := segments(p[len(pathCommerce):], 2)
			switch {
			case status != 0:
				c.Error(http.StatusText(status), status)
			case !c.IsPost():
				// As the patterns "POST /webhooks/commerce/..." answered.
				c.Error(http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
				c.Response.Header.Set("Allow", http.MethodPost) // after Error, which resets the headers
			case len(segs) == 1:
				h.commerce(c, "", segs[0])
			default:
				h.commerce(c, segs[0], segs[1])
			}
		case bytes.Equal(p, pathIOEvents):
			h.ioEvents(c, "")
		case bytes.HasPrefix(p, pathIOEvents) && p[len(pathIOEvents)] == '/':
			segs, status := segments(p[len(pathIOEvents)+1:], 1)
			if status != 0 {
				c.Error(http.StatusText(status), status)
				return
			}
			h.ioEvents(c, segs[0])
		case c.Request.Header.ContentLength() > 0 || c.Request.Header.ContentLength() == -1:
			// The adaptor would read the whole body first, and none of the
			// mux's routes takes one.
			c.Error(http.StatusText(http.StatusNotFound), http.StatusNotFound)
		default:
			rest(c)
		}
	}
}

var (
	pathCommerce = []byte("/webhooks/commerce/")
	pathIOEvents = []byte("/webhooks/adobe-io")
)

// segments splits the rest of a path into 1 to n path-unescaped segments,
// as net/http's {name} wildcards matched them: none empty, and "." or ".."
// is not a name. status is 404 for a path of another shape, 400 for a bad
// escape.
func segments(p []byte, n int) (segs []string, status int) {
	for {
		seg, rest, more := bytes.Cut(p, []byte("/"))
		if len(segs) == n || len(seg) == 0 || string(seg) == "." || string(seg) == ".." {
			return nil, http.StatusNotFound
		}
		s := string(seg)
		if bytes.IndexByte(seg, '%') >= 0 {
			var err error
			if s, err = url.PathUnescape(s); err != nil {
				return nil, http.StatusBadRequest
			}
		}
		segs = append(segs, s)
		if !more {
			return segs, 0
		}
		p = rest
	}
}

// newServer is the fasthttp server of ingest's listener, keeping
// pkg/service's limits as net/http kept them.
func newServer(handler fasthttp.RequestHandler, l service.Limits, log zerolog.Logger) *server {
	s := &server{conns: map[net.Conn]struct{}{}}
	s.srv = &fasthttp.Server{
		Handler: handler,
		// The header block must fit the read buffer: 431 above it, with the
		// same 4 KiB of slack net/http allowed.
		ReadBufferSize: l.MaxHeaderBytes + 4096,
		// The first byte to the end of the headers (net/http's
		// ReadHeaderTimeout); once they are in, the body gets ReadTimeout.
		ReadTimeout: l.ReadHeaderTimeout,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			// A body limit of one byte makes fasthttp call the handler after
			// at most one byte of the body instead of the first 8 KB: the
			// handler refuses an unknown store before reading a body, and
			// reads the rest itself, bounded by the body limit.
			return fasthttp.RequestConfig{ReadTimeout: l.ReadTimeout, MaxRequestBodySize: 1}
		},
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		WriteTimeout:                 l.WriteTimeout,
		IdleTimeout:                  l.IdleTimeout,
		CloseOnShutdown:              true,
		NoDefaultServerHeader:        true,
		SecureErrorLogMessage:        true, // no request values in fasthttp's own messages
		Logger:                       fastLog{log},
		ConnState:                    s.track,
	}
	return s
}

// server adapts fasthttp's server to service.Server: it also remembers
// the open connections, which Close closes (fasthttp has no Close).
type server struct {
	srv   *fasthttp.Server
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (s *server) Serve(ln net.Listener) error { return s.srv.Serve(lingerListener{ln}) }

func (s *server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

func (s *server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if lc, ok := c.(*lingerConn); ok {
			c = lc.Conn // at once, no lingering
		}
		_ = c.Close()
	}
	return nil
}

func (s *server) track(c net.Conn, st fasthttp.ConnState) {
	switch st {
	case fasthttp.StateNew:
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}
}

// lingerListener's connections linger before they close.
type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c}, nil
}

// lingerConn closes as net/http closes a connection it answered before
// reading all of the request (a 413, a 401 of an unknown store, a 431):
// it half-closes, then reads and drops what the client still sends for
// a moment. Closed at once with unread data, the kernel would answer with
// a reset, and a client still writing its request would lose the answer.
type lingerConn struct {
	net.Conn
	once sync.Once
	err  error
}

// How long, and how much, a closing connection reads of what the client
// still sends.
const (
	lingerFor = 500 * time.Millisecond
	lingerMax = 4 << 20
)

func (c *lingerConn) Close() error {
	c.once.Do(func() {
		// Only a client still sending needs the wait; an idle connection
		// (most closes, all of Shutdown's) closes at once.
		var probe [512]byte
		_ = c.Conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		n, _ := c.Conn.Read(probe[:])
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && n > 0 && cw.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerFor))
			_, _ = io.CopyN(io.Discard, c.Conn, lingerMax)
		}
		c.err = c.Conn.Close()
	})
	return c.err
}

// fastLog takes fasthttp's messages (connections that failed: timeouts,
// malformed requests) at debug level: the answer already told the client.
type fastLog struct{ log zerolog.Logger }

func (f fastLog) Printf(format string, args ...any) { f.log.Debug().Msgf(format, args...) }

// answer is an http.ResponseWriter over a RequestCtx's response, for
// pkg/commerce's WriteChallenge.
type answer struct {
	c     *fasthttp.RequestCtx
	hdr   http.Header
	wrote bool
}

func (a *answer) Header() http.Header {
	if a.hdr == nil {
		a.hdr = http.Header{}
	}
	return a.hdr
}

func (a *answer) WriteHeader(status int) {
	if a.wrote {
		return
	}
	a.wrote = true
	for k, vs := range a.hdr {
		for _, v := range vs {
			a.c.Response.Header.Add(k, v)
		}
	}
	a.c.SetStatusCode(status)
}

func (a *answer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.c.Write(b)
}
