// Command healthcheck is the HEALTHCHECK of the service images: the
// distroless base has no shell and no curl, so this static binary asks the
// service's own /healthz (or the path given, e.g. /readyz) on the port of
// MLC_HTTP_ADDR and exits 0 when it answers 200.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	path := "/healthz"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := check(os.Getenv("MLC_HTTP_ADDR"), path, 3*time.Second); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

// check GETs path on the loopback address of the service's listener.
func check(addr, path string, timeout time.Duration) error {
	u, err := target(addr, path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return nil
}

// target turns MLC_HTTP_ADDR (":8080", "0.0.0.0:9000", "[::]:8080", empty
// for the default) into the URL to ask: the service listens there, so the
// loopback address of the same port reaches it from inside the container.
func target(addr, path string) (string, error) {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("MLC_HTTP_ADDR %q: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	if len(path) == 0 || path[0] != '/' {
		return "", fmt.Errorf("path %q must start with /", path)
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
