// Package freeport finds loopback ports for servers whose address must be
// known before they start (a simulator's webhook target, a dev stack's
// services). Ports come from below the kernel's ephemeral range, so an
// outgoing connection cannot take one between the check and the bind, the
// race that port 0 plus close-then-reuse loses under load.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Addr returns 127.0.0.1:<port> with a port that was free just now.
func Addr() (string, error) {
	lo, hi := candidateRange()
	for range 200 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+rand.IntN(hi-lo)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if err := ln.Close(); err != nil {
			return "", err
		}
		return addr, nil
	}
	return "", fmt.Errorf("freeport: no free port in %d-%d", lo, hi)
}

// candidateRange is the 10,000 ports below the ephemeral range (Linux
// default 32768-60999), never below 1024.
func candidateRange() (lo, hi int) {
	ephemeralLow := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				ephemeralLow = n
			}
		}
	}
	hi = ephemeralLow
	lo = max(1024, hi-10000)
	return lo, hi
}
