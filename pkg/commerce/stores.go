package commerce

import (
	"context"
	"fmt"
	"net/http"
)

// StoreView is one store view of GET V1/store/storeViews.
type StoreView struct {
	ID           Int    `json:"id"`
	Code         string `json:"code"`
	Name         string `json:"name"`
	WebsiteID    Int    `json:"website_id"`
	StoreGroupID Int    `json:"store_group_id"`
	IsActive     Int    `json:"is_active"`
}

// StoreViews lists every store view (including admin, id 0).
func (c *Client) StoreViews(ctx context.Context) ([]StoreView, error) {
	var views []StoreView
	err := c.Do(ctx, http.MethodGet, "V1/store/storeViews", nil, nil, &views)
	return views, err
}

// StoreID returns the numeric id of the store view with code: orders,
// invoices and webhook payloads carry the id, never the code.
func (c *Client) StoreID(ctx context.Context, code string) (int64, error) {
	views, err := c.StoreViews(ctx)
	if err != nil {
		return 0, err
	}
	for _, v := range views {
		if v.Code == code {
			return int64(v.ID), nil
		}
	}
	return 0, fmt.Errorf("commerce: no store view with code %q: %w", code, ErrNotFound)
}
