package writer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
)

// SettingsKey is the writer's document in mlc_settings.
const SettingsKey = "writer"

// Defaults of the writer's settings.
const (
	// DefaultAccountLimit is the concurrency limit assumed when neither the
	// settings nor governanceLimits say: every NetSuite tier allows at
	// least 5 (Standard, development and partner accounts; ref §11.1).
	DefaultAccountLimit = 5
	// DefaultHeadroom leaves one request of the account to everything else
	// (inventory-publisher's reads, other integrations, the UI's SuiteQL).
	DefaultHeadroom = 1
	// DefaultInvoiceWait is how long an invoice waits for its sales order.
	DefaultInvoiceWait = time.Hour
	// maxConcurrency bounds a configured budget: 20 is the largest base tier
	// and each SuiteCloud Plus licence adds 10.
	maxConcurrency = 500
)

// Settings is the writer's mlc_settings document ("writer"). Every field
// is optional; NewSettings holds the defaults.
type Settings struct {
	// Concurrency is how many NetSuite requests the writer keeps in flight
	// across all its replicas (its consumer's max_ack_pending and every
	// replica's limiter). 0 derives it: the account's limit less Headroom.
	Concurrency int `json:"concurrency,omitempty"`
	// AccountLimit is the account's (or this integration's) concurrency
	// limit, for accounts whose integration role may not read
	// governanceLimits. 0: governanceLimits, else the limit `mlc connect`
	// stored, else DefaultAccountLimit.
	AccountLimit int `json:"account_limit,omitempty"`
	// Headroom is how many of the account's requests the writer leaves to
	// other integrations when it derives Concurrency.
	Headroom int `json:"headroom"`
	// InvoiceWait is how long an invoice waits for its sales order to be in
	// NetSuite before it goes to the DLQ.
	InvoiceWait Duration `json:"invoice_wait,omitempty"`
}

// NewSettings returns the defaults (what an unset document means).
func NewSettings() *Settings {
	return &Settings{Headroom: DefaultHeadroom, InvoiceWait: Duration(DefaultInvoiceWait)}
}

// Validate checks the ranges.
func (s *Settings) Validate() error {
	var errs []error
	if s.Concurrency < 0 || s.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency %d: want 0 (derive) to %d", s.Concurrency, maxConcurrency))
	}
	if s.AccountLimit < 0 || s.AccountLimit > maxConcurrency {
		errs = append(errs, fmt.Errorf("account_limit %d: want 0 (discover) to %d", s.AccountLimit, maxConcurrency))
	}
	if s.Headroom < 0 || s.Headroom > maxConcurrency {
		errs = append(errs, fmt.Errorf("headroom %d: want 0 to %d", s.Headroom, maxConcurrency))
	}
	if w := time.Duration(s.InvoiceWait); w < time.Second || w > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("invoice_wait %v: want 1s to 720h", w))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writer settings: %w", err)
	}
	return nil
}

// Duration is a time.Duration written as a Go duration string ("90m").
type Duration time.Duration

// MarshalJSON writes "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "90m" (or a number of seconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		secs, nerr := strconv.ParseFloat(string(b), 64)
		if nerr != nil || secs < 0 || secs > 1e9 {
			return fmt.Errorf("duration %s: want a string such as \"90m\" or seconds", b)
		}
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Budget is the writer's share of the account's concurrency and where the
// number came from, for the log and /metrics.
type Budget struct {
	N      int
	Source string
}

// ComputeBudget is the number of NetSuite requests the writer may have in
// flight across all replicas: Settings.Concurrency when set, else the
// account's limit less Headroom (at least 1). The limit is, in order:
// Settings.AccountLimit, what governanceLimits says now (the integration's
// own allocation when it has one), what `mlc connect` stored, 5.
func ComputeBudget(s Settings, gl *netsuite.GovernanceLimits, ns *connection.NetSuiteSettings) Budget {
	if s.Concurrency > 0 {
		return Budget{N: s.Concurrency, Source: "settings writer.concurrency"}
	}
	limit, src := DefaultAccountLimit, "default account limit"
	switch {
	case s.AccountLimit > 0:
		limit, src = s.AccountLimit, "settings writer.account_limit"
	case gl != nil && gl.IntegrationLimitType == "integrationSpecific" && gl.IntegrationConcurrencyLimit > 0:
		limit, src = gl.IntegrationConcurrencyLimit, "governanceLimits integrationConcurrencyLimit"
	case gl != nil && gl.AccountConcurrencyLimit > 0:
		limit, src = gl.AccountConcurrencyLimit, "governanceLimits accountConcurrencyLimit"
	case ns != nil && ns.AccountConcurrencyLimit > 0:
		limit, src = ns.AccountConcurrencyLimit, "netsuite.subsidiaries account_concurrency_limit"
	}
	n := max(1, limit-s.Headroom)
	return Budget{N: n, Source: fmt.Sprintf("%s %d less headroom %d", src, limit, s.Headroom)}
}
