package netsuite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// GovernanceLimits is GET /system/v1/governanceLimits (administrators only).
type GovernanceLimits struct {
	AccountConcurrencyLimit            int    `json:"accountConcurrencyLimit"`
	AccountUnallocatedConcurrencyLimit int    `json:"accountUnallocatedConcurrencyLimit"`
	IntegrationConcurrencyLimit        int    `json:"integrationConcurrencyLimit,omitempty"` // 0 unless integrationSpecific
	IntegrationLimitType               string `json:"integrationLimitType"`
}

// GovernanceLimits reads the account's concurrency limits. The integration
// role is usually not allowed to (403): then keep the configured setting.
func (c *Client) GovernanceLimits(ctx context.Context) (GovernanceLimits, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: govPath, op: "GET governanceLimits"})
	if err != nil {
		return GovernanceLimits{}, err
	}
	var raw struct {
		Account     flexInt `json:"accountConcurrencyLimit"`
		Unallocated flexInt `json:"accountUnallocatedConcurrencyLimit"`
		Integration flexInt `json:"integrationConcurrencyLimit"`
		Type        string  `json:"integrationLimitType"`
	}
	if err := json.Unmarshal(resp.body, &raw); err != nil {
		return GovernanceLimits{}, fmt.Errorf("netsuite: decode governanceLimits: %w", err)
	}
	return GovernanceLimits{AccountConcurrencyLimit: int(raw.Account), AccountUnallocatedConcurrencyLimit: int(raw.Unallocated),
		IntegrationConcurrencyLimit: int(raw.Integration), IntegrationLimitType: raw.Type}, nil
}

// Customer is a customer found by SuiteQL.
type Customer struct {
	ID         string
	EntityID   string
	Email      string
	Subsidiary string
	// Candidates is how many customers share the e-mail; more than one is
	// an ambiguity worth logging.
	Candidates int
}

// FindCustomerByEmail matches a buyer by e-mail, case-insensitively (ref §6).
// E-mail is not unique in NetSuite, so the pick is deterministic: a customer
// in preferSubsidiary first (if given), then the lowest id. No match is
// ErrNotFound.
func (c *Client) FindCustomerByEmail(ctx context.Context, email, preferSubsidiary string) (Customer, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return Customer{}, errors.New("netsuite: empty e-mail")
	}
	var found []Customer
	err := c.QueryKeyset(ctx,
		"SELECT id, entityid, email, subsidiary FROM customer WHERE LOWER(email) = LOWER(?) AND id > ? ORDER BY id",
		[]string{email}, func(r Row) error {
			found = append(found, Customer{ID: r.String("id"), EntityID: r.String("entityid"),
				Email: r.String("email"), Subsidiary: r.String("subsidiary")})
			return nil
		})
	if err != nil {
		return Customer{}, fmt.Errorf("netsuite: find customer by e-mail: %w", err)
	}
	if len(found) == 0 {
		return Customer{}, fmt.Errorf("%w: no customer with that e-mail", ErrNotFound)
	}
	sort.SliceStable(found, func(i, j int) bool {
		si, sj := found[i].Subsidiary == preferSubsidiary, found[j].Subsidiary == preferSubsidiary
		if preferSubsidiary != "" && si != sj {
			return si
		}
		return idLess(found[i].ID, found[j].ID)
	})
	best := found[0]
	best.Candidates = len(found)
	return best, nil
}

// idLess orders numeric ids numerically ("9" < "10").
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Subsidiary is a OneWorld subsidiary.
type Subsidiary struct {
	ID       string
	Name     string
	Parent   string
	Inactive bool
}

// ListSubsidiaries reads every subsidiary ordered by id.
func (c *Client) ListSubsidiaries(ctx context.Context) ([]Subsidiary, error) {
	var out []Subsidiary
	err := c.QueryKeyset(ctx, "SELECT id, name, parent, isinactive FROM subsidiary WHERE id > ? ORDER BY id", nil,
		func(r Row) error {
			inactive, err := r.Bool("isinactive")
			if err != nil {
				return err
			}
			out = append(out, Subsidiary{ID: r.String("id"), Name: r.String("name"), Parent: r.String("parent"), Inactive: inactive})
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("netsuite: list subsidiaries: %w", err)
	}
	return out, nil
}

// IsOneWorld guesses whether the account is OneWorld: more than one
// subsidiary. How a non-OneWorld account answers a subsidiary query is not
// documented (a 400 or a single row are both taken as "no"), so treat this
// as a hint for "mlc connect" and let the subsidiary setting decide.
func (c *Client) IsOneWorld(ctx context.Context) (bool, error) {
	subs, err := c.ListSubsidiaries(ctx)
	if errors.Is(err, ErrBadRequest) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(subs) > 1, nil
}
