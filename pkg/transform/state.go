package transform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/commercefact"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/mapping"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// state is everything the mapping depends on besides the fact, kept
// current by KV watches: the mapping settings (base and per store), the
// OneWorld subsidiaries, the SKU -> item map and the store connections.
// Handlers read it concurrently.
type state struct {
	log zerolog.Logger
	hc  *http.Client

	mu        sync.RWMutex
	base      mapping.Settings
	overrides map[string]mapping.Settings // by store code
	rules     map[string]rulesOrErr       // resolved per store, dropped on every settings change
	netsuite  connection.NetSuiteSettings
	stores    map[string]*store

	items     sync.Map // itemmap.Key(sku) -> itemmap.Value
	itemCount atomic.Int64
	itemsDone chan struct{} // closed once the item map's initial values are in
	itemsOnce sync.Once
}

type rulesOrErr struct {
	rules mapping.Rules
	err   error
}

// store is one connected Commerce store.
type store struct {
	code      string
	client    *commerce.Client
	completer *commercefact.Completer

	mu      sync.Mutex
	website string // website id, looked up once
}

func newState(log zerolog.Logger, hc *http.Client) *state {
	return &state{log: log, hc: hc, overrides: map[string]mapping.Settings{}, rules: map[string]rulesOrErr{},
		stores: map[string]*store{}, itemsDone: make(chan struct{})}
}

// rulesFor returns the store's resolved rules; an error says what is wrong
// with the settings (an item mode without its item, ...).
func (s *state) rulesFor(code string) (mapping.Rules, error) {
	s.mu.RLock()
	r, ok := s.rules[code]
	s.mu.RUnlock()
	if ok {
		return r.rules, r.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.rules[code]; ok {
		return r.rules, r.err
	}
	rules, err := mapping.Resolve(mapping.Merge(s.base, s.overrides[code]))
	if err != nil {
		err = fmt.Errorf("store %s: %w (mlc settings get %s; mlc settings get %s)", code, err, mapping.SettingsKey, mapping.StoreKey(code))
	}
	s.rules[code] = rulesOrErr{rules, err}
	return rules, err
}

func (s *state) netsuiteSettings() connection.NetSuiteSettings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.netsuite
}

func (s *state) store(code string) (*store, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.stores[code]
	return st, ok
}

// ItemID implements mapping.Items over mlc_item_map (pkg/itemmap): the
// SKU's item when it is usable (active).
func (s *state) ItemID(sku string) (string, bool) {
	v, ok := s.item(sku)
	if !ok || !v.Usable() {
		return "", false
	}
	return v.ItemID, true
}

// InactiveItem implements mapping.InactiveItems: the SKU's item is known
// but inactive in NetSuite.
func (s *state) InactiveItem(sku string) (string, bool) {
	v, ok := s.item(sku)
	if !ok || v.Active || v.ItemID == "" {
		return "", false
	}
	return v.ItemID, true
}

func (s *state) item(sku string) (itemmap.Value, bool) {
	e, ok := s.items.Load(itemmap.Key(sku))
	if !ok {
		return itemmap.Value{}, false
	}
	v := e.(itemmap.Value)
	return v, v.SKU == sku // a hashed key names its SKU in the value
}

func (s *state) setBase(doc mapping.Settings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = doc
	clear(s.rules)
}

func (s *state) setOverride(code string, doc *mapping.Settings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if doc == nil {
		delete(s.overrides, code)
	} else {
		s.overrides[code] = *doc
	}
	clear(s.rules)
}

func (s *state) setNetSuite(n connection.NetSuiteSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.netsuite = n
}

func (s *state) setStore(c connection.Commerce) error {
	if err := c.Validate(); err != nil {
		return err
	}
	client, err := commerce.NewFromConfig(c.ClientConfig(), commerce.WithHTTPClient(s.hc), commerce.WithUserAgent("ml-connector-transform"),
		commerce.WithRetries(2, 200*time.Millisecond, 2*time.Second))
	if err != nil {
		return fmt.Errorf("store %s: %w", c.Store, err)
	}
	st := &store{code: c.Store, client: client, completer: commercefact.NewCompleter(client)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stores[c.Store] = st
	return nil
}

func (s *state) removeStore(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.stores, code)
}

// websiteID is the store view's website id, from Commerce once.
func (st *store) websiteID(ctx context.Context) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.website != "" {
		return st.website, nil
	}
	views, err := st.client.StoreViews(ctx)
	if err != nil {
		return "", fmt.Errorf("store %s: look up its website: %w", st.code, err)
	}
	for _, v := range views {
		if v.Code == st.code {
			st.website = strconv.FormatInt(int64(v.WebsiteID), 10)
			return st.website, nil
		}
	}
	return "", fmt.Errorf("store %s: no store view with this code: %w", st.code, commerce.ErrNotFound)
}

// order reads an invoice's order through REST, within the store.
func (st *store) order(ctx context.Context, incrementID string, storeID int64) (*commercefact.Order, error) {
	sc := commerce.SearchCriteria{}.Where(commerce.F("increment_id", commerce.CondEq, incrementID))
	if storeID > 0 {
		sc = sc.Where(commerce.F("store_id", commerce.CondEq, strconv.FormatInt(storeID, 10)))
	}
	res, err := st.client.ListOrders(ctx, sc.Page(2, 1))
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", incrementID, err)
	}
	for _, ro := range res.Items {
		if ro.IncrementID != incrementID {
			continue
		}
		f, err := commercefact.OrderFact(st.code, ro)
		if err != nil {
			return nil, fmt.Errorf("read order %s: %w", incrementID, err)
		}
		return f.Order, nil
	}
	return nil, fmt.Errorf("order %s is not visible through REST: %w", incrementID, commerce.ErrNotFound)
}

// watchItems keeps the item map current; itemsDone closes once the
// bucket's values at start are all in.
func (s *state) watchItems(ctx context.Context, kv jetstream.KeyValue) error {
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("item map: %w", err)
	}
	if st.Values() == 0 {
		s.itemsOnce.Do(func() { close(s.itemsDone) })
	}
	return stream.WatchKV(ctx, kv, ">", func(e jetstream.KeyValueEntry, deleted bool) {
		var v itemmap.Value
		ok := false
		if !deleted {
			var err error
			if v, err = itemmap.Decode(e.Value()); err != nil || itemmap.Key(v.SKU) != e.Key() {
				s.log.Warn().Err(err).Str("key", e.Key()).Msg("mlc_item_map entry unusable; its SKU stays unmapped")
			} else {
				ok = true
			}
		}
		prev, had := s.items.Load(e.Key())
		wasUsable := had && prev.(itemmap.Value).Usable()
		if ok {
			s.items.Store(e.Key(), v)
		} else if had {
			s.items.Delete(e.Key())
		}
		switch isUsable := ok && v.Usable(); {
		case isUsable && !wasUsable:
			s.itemCount.Add(1)
		case !isUsable && wasUsable:
			s.itemCount.Add(-1)
		}
		if e.Delta() == 0 {
			s.itemsOnce.Do(func() { close(s.itemsDone) })
		}
	})
}

// loadSettings reads the mapping documents now; watchSettings keeps them.
func (s *state) loadSettings(ctx context.Context, kv jetstream.KeyValue) error {
	store := settings.New(kv)
	var base mapping.Settings
	if err := store.Load(ctx, mapping.SettingsKey, &base); err != nil && !errors.Is(err, settings.ErrNotFound) {
		// A bad document must not stop the service: the defaults hold
		// and the handler reports what the settings lack.
		s.log.Error().Err(err).Msg("mapping settings unusable; using the defaults until they are fixed")
	}
	s.setBase(base)
	keys, err := store.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return err
	}
	for _, k := range keys {
		code, ok := mapping.StoreFromKey(k)
		if !ok {
			continue
		}
		var doc mapping.Settings
		if err := store.Load(ctx, k, &doc); err != nil {
			s.log.Error().Err(err).Str("key", k).Msg("store mapping settings unusable; ignored until fixed")
			continue
		}
		s.setOverride(code, &doc)
	}
	n, err := connection.LoadNetSuiteSettings(ctx, kv)
	if err != nil && !errors.Is(err, connection.ErrNotConnected) {
		return err
	}
	s.setNetSuite(n)
	return nil
}

func (s *state) watchSettings(ctx context.Context, kv jetstream.KeyValue) error {
	onDoc := func(e jetstream.KeyValueEntry, deleted bool) {
		code, isStore := mapping.StoreFromKey(e.Key())
		if !isStore && e.Key() != mapping.SettingsKey {
			return
		}
		var doc mapping.Settings
		if !deleted {
			if err := settings.Decode(e.Key(), e.Value(), &doc); err != nil {
				s.log.Error().Err(err).Str("key", e.Key()).Msg("mapping settings changed but are unusable; keeping the previous ones")
				return
			}
		}
		switch {
		case !isStore:
			s.setBase(doc)
		case deleted:
			s.setOverride(code, nil)
		default:
			s.setOverride(code, &doc)
		}
		s.log.Info().Str("key", e.Key()).Bool("deleted", deleted).Msg("mapping settings loaded")
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return stream.WatchKV(gctx, kv, mapping.SettingsKey, onDoc) })
	g.Go(func() error { return stream.WatchKV(gctx, kv, mapping.StoreKeys, onDoc) })
	g.Go(func() error {
		return connection.WatchNetSuiteSettings(gctx, kv, func(n connection.NetSuiteSettings, deleted bool, err error) {
			if err != nil {
				s.log.Error().Err(err).Msg("netsuite settings changed but are unusable; keeping the previous ones")
				return
			}
			s.setNetSuite(n)
			s.log.Info().Bool("one_world", n.OneWorld).Bool("deleted", deleted).Msg("netsuite settings loaded")
		})
	})
	return g.Wait()
}
