package event

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Traceparent is a W3C trace context (version 00):
// 00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>.
type Traceparent struct {
	TraceID string
	SpanID  string
	Flags   string
}

// ParseTraceparent reads a traceparent header strictly: anything but the
// 55-character version-00 form, or an all-zero id, is rejected, so an
// oversized or hostile value never travels on.
func ParseTraceparent(s string) (Traceparent, bool) {
	if len(s) != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' || s[:2] != "00" {
		return Traceparent{}, false
	}
	tp := Traceparent{TraceID: s[3:35], SpanID: s[36:52], Flags: s[53:55]}
	if !lowerHex(tp.TraceID) || !lowerHex(tp.SpanID) || !lowerHex(tp.Flags) ||
		strings.Trim(tp.TraceID, "0") == "" || strings.Trim(tp.SpanID, "0") == "" {
		return Traceparent{}, false
	}
	return tp, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// NewTraceparent starts a trace (sampled).
func NewTraceparent() Traceparent {
	return Traceparent{TraceID: randomHex(16), SpanID: randomHex(8), Flags: "01"}
}

// Child is the context of the next hop: same trace, new span.
func (t Traceparent) Child() Traceparent {
	return Traceparent{TraceID: t.TraceID, SpanID: randomHex(8), Flags: t.Flags}
}

func (t Traceparent) String() string { return "00-" + t.TraceID + "-" + t.SpanID + "-" + t.Flags }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
