package writer

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// callCount counts the NetSuite API calls one command makes (token
// requests excluded: they are not the command's and not governed).
type callCount struct{ n atomic.Int64 }

type callCountKey struct{}

func withCallCount(ctx context.Context, c *callCount) context.Context {
	return context.WithValue(ctx, callCountKey{}, c)
}

// countingTransport counts every request the NetSuite client sends: per
// command (through the request's context) and in the metrics.
type countingTransport struct {
	base http.RoundTripper
	m    *Metrics
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	token := strings.HasSuffix(r.URL.Path, "/auth/oauth2/v1/token")
	if !token {
		if c, ok := r.Context().Value(callCountKey{}).(*callCount); ok {
			c.n.Add(1)
		}
	}
	resp, err := t.base.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	if token {
		t.m.TokenRequests.WithLabelValues(status).Inc()
	} else {
		t.m.Calls.WithLabelValues(r.Method, status).Inc()
	}
	return resp, err
}

// newHTTPClient is the NetSuite client's transport: enough idle
// connections for the whole budget (the default keeps 2 per host, so a
// budget of 45 would open a connection per request) and the counting.
func newHTTPClient(m *Metrics) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = maxConcurrency
	tr.MaxIdleConnsPerHost = maxConcurrency
	return &http.Client{Transport: countingTransport{base: tr, m: m}}
}
