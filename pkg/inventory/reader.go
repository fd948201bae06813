package inventory

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/shopspring/decimal"
	"golang.org/x/sync/errgroup"

	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/stock"
)

// Catalogue is what one run read from NetSuite.
type Catalogue struct {
	// Items is the whole item table (or the items of the SKUs asked for), in id order.
	Items []stock.Item
	// Levels are the stock levels by item id.
	Levels map[string][]stock.Level
	// Prices are the lowest-tier prices by price key, then item id.
	Prices map[PriceKey]map[string]*decimal.Decimal
	// Pages counts the SuiteQL pages read per table.
	Pages PageCounts
}

// PriceKey selects a price list: NetSuite price level and currency ids.
type PriceKey struct{ Level, Currency string }

// PageCounts are SuiteQL pages read, per table.
type PageCounts struct {
	Items  int64 `json:"items"`
	Stock  int64 `json:"stock"`
	Prices int64 `json:"prices"`
	Other  int64 `json:"other"`
}

// Total is every page.
func (p PageCounts) Total() int64 { return p.Items + p.Stock + p.Prices + p.Other }

// reader reads the catalogue with keyset paging (ref §8): every query is
// "... WHERE key > ? ORDER BY key", restarted after the last key of each
// page, so no offset rule or 100,000-row cap applies.
type reader struct {
	ns       *netsuite.Client
	pageSize int
	// progress is told the item table's size (first page) and each item row.
	total func(n int)
	row   func()
}

// Currencies maps NetSuite currency ids to their symbols (ISO codes).
func (r *reader) Currencies(ctx context.Context, pages *int64) (map[string]string, error) {
	out := map[string]string{}
	err := r.walk(ctx, stock.CurrencyQuery, nil, "id", true, pages, nil, func(row netsuite.Row) error {
		sym := row.String("symbol")
		if sym == "" {
			sym = row.String("name")
		}
		out[row.String("id")] = sym
		return nil
	})
	return out, err
}

// Read reads items, stock levels and the price lists keys asks for, the
// three tables at once. With pick (a run for some SKUs) the items come
// first and only the levels and prices of the item ids pick returns are
// read. Rows that do not parse fail the run: a catalogue read halfway must
// not be diffed (it would zero what it missed).
func (r *reader) Read(ctx context.Context, keys []PriceKey, pick func([]stock.Item) []string) (*Catalogue, error) {
	cat := &Catalogue{Levels: map[string][]stock.Level{}, Prices: map[PriceKey]map[string]*decimal.Decimal{}}
	readItems := func(ctx context.Context) error {
		return r.walk(ctx, stock.ItemQuery, nil, "id", true, &cat.Pages.Items, r.total, func(row netsuite.Row) error {
			it, err := stock.ParseItem(row)
			if err != nil {
				return err
			}
			if r.row != nil {
				r.row()
			}
			cat.Items = append(cat.Items, it)
			return nil
		})
	}
	var itemIDs []string
	g, gctx := errgroup.WithContext(ctx)
	if pick == nil {
		g.Go(func() error { return readItems(gctx) })
	} else {
		if err := readItems(ctx); err != nil {
			return nil, err
		}
		itemIDs = pick(cat.Items)
		if itemIDs == nil {
			itemIDs = []string{}
		}
	}
	var mu sync.Mutex
	g.Go(func() error {
		return r.walkAll(gctx, queries(stock.LevelQuery, "a.item", nil, itemIDs), &cat.Pages.Stock, func(row netsuite.Row) error {
			item, l, err := stock.ParseLevel(row)
			if err != nil {
				return err
			}
			mu.Lock()
			cat.Levels[item] = append(cat.Levels[item], l)
			mu.Unlock()
			return nil
		})
	})
	for _, k := range keys {
		prices := map[string]*decimal.Decimal{}
		cat.Prices[k] = prices
		g.Go(func() error {
			var item string
			var tiers []stock.Tier
			flush := func() {
				if item != "" {
					prices[item] = stock.Lowest(tiers)
				}
				item, tiers = "", tiers[:0]
			}
			qs := queries(stock.PriceQuery, "p.item", []string{k.Level, k.Currency}, itemIDs)
			err := r.walkAll(gctx, qs, &cat.Pages.Prices, func(row netsuite.Row) error {
				id, tier, err := stock.ParsePrice(row)
				if err != nil {
					return fmt.Errorf("price level %s currency %s: %w", k.Level, k.Currency, err)
				}
				if id != item {
					flush()
					item = id
				}
				tiers = append(tiers, tier)
				return nil
			})
			flush()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return cat, nil
}

// maxInList is how many ids one IN (...) binds (Oracle allows 1000).
const maxInList = 500

type query struct {
	q    string
	args []string // before the cursor
}

// queries is q with params, or, when ids is not nil (a run for some SKUs),
// one query per chunk of ids with "<col> IN (?, ...)" before the keyset
// condition.
func queries(q, col string, params, ids []string) []query {
	if ids == nil {
		return []query{{q, params}}
	}
	var out []query
	for start := 0; start < len(ids); start += maxInList {
		chunk := ids[start:min(start+maxInList, len(ids))]
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		out = append(out, query{strings.Replace(q, col+" > ?", col+" IN ("+marks+") AND "+col+" > ?", 1),
			append(append([]string(nil), params...), chunk...)})
	}
	return out
}

// walkAll walks each query, grouped by item.
func (r *reader) walkAll(ctx context.Context, qs []query, pages *int64, fn func(netsuite.Row) error) error {
	for _, q := range qs {
		if err := r.walk(ctx, q.q, q.args, "item", false, pages, nil, fn); err != nil {
			return err
		}
	}
	return nil
}

// walk pages q by its key column. q's last placeholder is the keyset
// cursor. A unique key moves the cursor to the last row's key. A key that
// repeats (an item's stock at several locations, its price tiers) must
// not split an item across pages: a full page's last item is dropped and
// read again at the start of the next page. fn sees rows in order.
func (r *reader) walk(ctx context.Context, q string, params []string, key string, unique bool, pages *int64, total func(int), fn func(netsuite.Row) error) error {
	cursor := "0"
	for first := true; ; first = false {
		args := append(append(make([]string, 0, len(params)+1), params...), cursor)
		page, err := r.ns.SuiteQL(ctx, q, args, netsuite.Limit(r.pageSize))
		if err != nil {
			return err
		}
		atomic.AddInt64(pages, 1)
		if first && total != nil {
			total(page.TotalResults)
		}
		rows := page.Items
		full := len(rows) >= r.pageSize && page.HasMore
		end := len(rows)
		if full && !unique {
			last := rows[len(rows)-1].String(key)
			for end > 0 && rows[end-1].String(key) == last {
				end--
			}
			if end == 0 {
				return fmt.Errorf("netsuite: %s %s has more than %d rows: raise the page size", key, last, r.pageSize)
			}
		}
		for _, row := range rows[:end] {
			if err := fn(row); err != nil {
				return err
			}
		}
		if !full {
			return nil
		}
		next := rows[end-1].String(key)
		if next == "" || next == cursor {
			return fmt.Errorf("netsuite: keyset paging on %s stuck at %q", key, cursor)
		}
		cursor = next
	}
}
