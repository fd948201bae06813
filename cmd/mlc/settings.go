package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/itemmap"
	"github.com/ml-connector/ml-connector/pkg/mapping"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/settings"
	"github.com/ml-connector/ml-connector/pkg/writer"
)

// settingKind is a kind of document in mlc_settings: how it is decoded and
// validated, and what it is for. A service that owns keys adds its kind to
// settingKinds.
type settingKind struct {
	// key is the key, or the prefix of a per-store key ("mapping.").
	key      string
	perStore bool
	what     string
	newDoc   func() settings.Validator
}

func settingKinds() []settingKind {
	return []settingKind{
		{key: mapping.SettingsKey, what: "transform: how Commerce records map to NetSuite (every store)",
			newDoc: func() settings.Validator { return &mapping.Settings{} }},
		{key: mapping.SettingsKey + ".", perStore: true, what: "transform: one store's overrides of mapping",
			newDoc: func() settings.Validator { return &mapping.Settings{} }},
		{key: connection.NetSuiteSettingsKey, what: "OneWorld subsidiary per store or website, NetSuite concurrency (mlc connect netsuite)",
			newDoc: func() settings.Validator { return &connection.NetSuiteSettings{} }},
		{key: writer.SettingsKey, what: "netsuite-writer: concurrency budget, headroom, how long an invoice waits for its order",
			newDoc: func() settings.Validator { return writer.NewSettings() }},
		{key: inventory.SettingsKey, what: "inventory-publisher: schedule, SKU field, price level, locations to MSI sources, safety buffer, stock basis",
			newDoc: func() settings.Validator { return inventory.DefaultSettings() }},
	}
}

// kindOf finds the kind of a stored key.
func kindOf(key string) (settingKind, string, bool) {
	for _, k := range settingKinds() {
		if k.perStore {
			if store, ok := mapping.StoreFromKey(key); ok && strings.HasPrefix(key, k.key) {
				return k, store, true
			}
			continue
		}
		if key == k.key {
			return k, "", true
		}
	}
	return settingKind{}, "", false
}

// settingKey turns the command line's key (and --store) into the KV key:
// `mapping --store en_us` and the listed `mapping.en__us` are the same.
func settingKey(arg, store string) (string, error) {
	if store == "" {
		return arg, nil
	}
	for _, k := range settingKinds() {
		if k.perStore && k.key == arg+"." {
			return mapping.StoreKey(store), nil
		}
	}
	return "", fmt.Errorf("%s has no per-store documents (--store is for %s)", arg, mapping.SettingsKey)
}

func knownKinds() string {
	var names []string
	for _, k := range settingKinds() {
		if k.perStore {
			names = append(names, k.key+"<store> (--store)")
		} else {
			names = append(names, k.key)
		}
	}
	return strings.Join(names, ", ")
}

func newSettingsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "settings",
		Short: "Show, change and check the non-secret settings in mlc_settings (mapping, subsidiaries, ...)",
	}
	cmd.AddCommand(newSettingsListCmd(), newSettingsGetCmd(), newSettingsSetCmd(), newSettingsCheckCmd())
	return cmd
}

// openSettings connects and opens mlc_settings.
func openSettings(cmd *cobra.Command) (*settings.Store, jetstream.KeyValue, func(), error) {
	nc, js, err := connectNATS(cmd)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), lookupTimeout)
	defer cancel()
	kv, err := openBucket(ctx, js, event.BucketSettings)
	if err != nil {
		nc.Close()
		return nil, nil, nil, err
	}
	return settings.New(kv), kv, nc.Close, nil
}

type settingRow struct {
	Key   string `json:"key"`
	Store string `json:"store,omitempty"`
	Set   bool   `json:"set"`
	What  string `json:"what"`
}

func newSettingsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the settings documents: every key that is set, and the known ones left at their defaults",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, closeFn, err := openSettings(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			keys, err := s.Keys(cmd.Context())
			if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
				return err
			}
			set := map[string]bool{}
			for _, k := range keys {
				set[k] = true
			}
			var rows []settingRow
			for _, k := range settingKinds() {
				if !k.perStore && !set[k.key] {
					rows = append(rows, settingRow{Key: k.key, What: k.what + " [defaults]"})
				}
			}
			for _, k := range keys {
				r := settingRow{Key: k, Set: true, What: "(not a known document)"}
				if kind, store, ok := kindOf(k); ok {
					r.Store, r.What = store, kind.what
				}
				rows = append(rows, r)
			}
			sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), rows)
			}
			table := [][]string{{"KEY", "STORE", "SET", "WHAT"}}
			for _, r := range rows {
				table = append(table, []string{r.Key, r.Store, map[bool]string{true: "yes", false: "no"}[r.Set], r.What})
			}
			printTable(cmd.OutOrStdout(), table)
			return nil
		},
	}
}

func newSettingsGetCmd() *cobra.Command {
	var store string
	var resolved bool
	cmd := &cobra.Command{
		Use:   "get <key>",
		Short: "Print a settings document (--resolved: the effective mapping of a store, defaults applied)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := settingKey(args[0], store)
			if err != nil {
				return err
			}
			s, _, closeFn, err := openSettings(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			ctx := cmd.Context()
			if resolved {
				if key != mapping.SettingsKey && !strings.HasPrefix(key, mapping.SettingsKey+".") {
					return fmt.Errorf("--resolved is for %s", mapping.SettingsKey)
				}
				if code, ok := mapping.StoreFromKey(key); ok {
					store = code
				}
				r, err := storeRules(ctx, s, store)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), r.Settings)
			}
			b, err := s.Raw(ctx, key)
			if errors.Is(err, settings.ErrNotFound) {
				kind, _, known := kindOf(key)
				if !known {
					return fmt.Errorf("%w (known documents: %s)", err, knownKinds())
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s is not set: these are the defaults\n", key)
				return printJSON(cmd.OutOrStdout(), kind.newDoc())
			}
			if err != nil {
				return err
			}
			var v any
			if json.Unmarshal(b, &v) != nil {
				_, err := cmd.OutOrStdout().Write(append(b, '\n'))
				return err
			}
			return printJSON(cmd.OutOrStdout(), v)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "the store of a per-store document (mapping --store en_us)")
	cmd.Flags().BoolVar(&resolved, "resolved", false, "print the store's effective mapping settings: defaults, base and overrides merged")
	return cmd
}

// storeRules resolves the mapping of a store from what is stored.
func storeRules(ctx context.Context, s *settings.Store, store string) (mapping.Rules, error) {
	var base, over mapping.Settings
	if err := s.Load(ctx, mapping.SettingsKey, &base); err != nil && !errors.Is(err, settings.ErrNotFound) {
		return mapping.Rules{}, err
	}
	if store != "" {
		if err := s.Load(ctx, mapping.StoreKey(store), &over); err != nil && !errors.Is(err, settings.ErrNotFound) {
			return mapping.Rules{}, err
		}
	}
	r, err := mapping.Resolve(mapping.Merge(base, over))
	if err != nil && store != "" {
		return r, fmt.Errorf("store %s: %w", store, err)
	}
	return r, err
}

func newSettingsSetCmd() *cobra.Command {
	var store, fromFile, value string
	cmd := &cobra.Command{
		Use:   "set <key>",
		Short: "Replace a settings document with JSON from --value, --from-file or stdin, after strict validation",
		Long: "Replace a settings document. The JSON is decoded strictly (an unknown field is refused) and validated;\n" +
			"for the mapping, the store's resulting settings must also resolve (an item mode needs its item).\n" +
			"Known documents: " + knownKinds() + ".",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := settingKey(args[0], store)
			if err != nil {
				return err
			}
			kind, code, ok := kindOf(key)
			if !ok {
				return fmt.Errorf("%q is not a settings document mlc knows (known: %s)", key, knownKinds())
			}
			raw, err := readSecretValue(fromFile, cmd.Flags().Changed("from-file"), value, cmd.Flags().Changed("value"), cmd.InOrStdin())
			if err != nil {
				return err
			}
			doc := kind.newDoc()
			if err := settings.Decode(key, raw, doc); err != nil {
				return err
			}
			s, _, closeFn, err := openSettings(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			ctx := cmd.Context()
			if m, isMapping := doc.(*mapping.Settings); isMapping {
				if err := checkMappingChange(ctx, s, key, code, *m); err != nil {
					return err
				}
			}
			if err := s.Save(ctx, key, doc); err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), map[string]any{"key": key, "store": code, "saved": doc})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %s; services pick it up without a restart (check NetSuite with `mlc settings check`)\n", key)
			return nil
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "the store of a per-store document (mapping --store en_us)")
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read the JSON document from this file")
	cmd.Flags().StringVar(&value, "value", "", "the JSON document itself")
	return cmd
}

// checkMappingChange refuses a mapping document with which some store's
// settings would not resolve.
func checkMappingChange(ctx context.Context, s *settings.Store, key, store string, doc mapping.Settings) error {
	if store != "" {
		var base mapping.Settings
		if err := s.Load(ctx, mapping.SettingsKey, &base); err != nil && !errors.Is(err, settings.ErrNotFound) {
			return err
		}
		if _, err := mapping.Resolve(mapping.Merge(base, doc)); err != nil {
			return fmt.Errorf("store %s with these overrides: %w", store, err)
		}
		return nil
	}
	if _, err := mapping.Resolve(doc); err != nil {
		return err
	}
	keys, err := s.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return err
	}
	for _, k := range keys {
		code, ok := mapping.StoreFromKey(k)
		if !ok || k == key {
			continue
		}
		var over mapping.Settings
		if err := s.Load(ctx, k, &over); err != nil {
			continue // an unusable override is reported by check, not by this change
		}
		if _, err := mapping.Resolve(mapping.Merge(doc, over)); err != nil {
			return fmt.Errorf("store %s (%s) would not resolve: %w", code, k, err)
		}
	}
	return nil
}

// finding is one thing `mlc settings check` reports.
type finding struct {
	Kind    string   `json:"kind"` // subsidiary, location, currency, ship method, price level, item, settings, store
	ID      string   `json:"id"`
	Problem string   `json:"problem"`
	UsedBy  []string `json:"used_by"`
}

func newSettingsCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check every NetSuite record the settings and the item map refer to (subsidiaries, locations, currencies, items, ship methods, price levels)",
		Long: "Reads NetSuite through the stored connection (SuiteQL) and reports every referenced subsidiary, location,\n" +
			"currency, item, ship method and price level that does not exist, is inactive, or is not available to the\n" +
			"store's subsidiary, before the first order fails on it. Exits non-zero when it finds a problem.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := openCredStore(cmd, true)
			if err != nil {
				return err
			}
			defer cs.Close()
			ctx := cmd.Context()
			in, err := loadCheckInput(ctx, cs)
			if err != nil {
				return err
			}
			conn, err := connection.LoadNetSuite(ctx, cs.secrets)
			if err != nil {
				return err
			}
			client, err := conn.Client()
			if err != nil {
				return err
			}
			found, err := checkSettings(ctx, in, client)
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				if found == nil {
					found = []finding{}
				}
				if err := printJSON(cmd.OutOrStdout(), found); err != nil {
					return err
				}
			} else {
				printFindings(cmd.OutOrStdout(), in, found)
			}
			if len(found) > 0 {
				return fmt.Errorf("%d problem(s) in the settings", len(found))
			}
			return nil
		},
	}
}

func printFindings(w io.Writer, in checkInput, found []finding) {
	if len(found) == 0 {
		fmt.Fprintf(w, "ok: %d store(s), %d mapped SKU(s); every referenced NetSuite record exists and is usable\n",
			len(in.stores), len(in.items))
		return
	}
	rows := [][]string{{"KIND", "ID", "PROBLEM", "USED BY"}}
	for _, f := range found {
		used := strings.Join(f.UsedBy, ", ")
		if len(used) > 120 {
			used = used[:117] + "..."
		}
		rows = append(rows, []string{f.Kind, f.ID, f.Problem, used})
	}
	printTable(w, rows)
}

// checkInput is what the check reads from mlc_settings, mlc_item_map and
// the stored connections.
type checkInput struct {
	netsuite connection.NetSuiteSettings
	base     mapping.Settings
	baseErr  error
	// stores are every store the settings or connections name.
	stores    []string
	overrides map[string]mapping.Settings
	overErrs  map[string]error
	items     map[string]string // SKU -> item id
	badItems  []string          // mlc_item_map keys whose value does not decode
}

func loadCheckInput(ctx context.Context, cs *credStore) (checkInput, error) {
	in := checkInput{overrides: map[string]mapping.Settings{}, overErrs: map[string]error{}, items: map[string]string{}}
	s := settings.New(cs.settings)
	var err error
	if in.netsuite, err = connection.LoadNetSuiteSettings(ctx, cs.settings); err != nil && !errors.Is(err, connection.ErrNotConnected) {
		return in, err
	}
	if err := s.Load(ctx, mapping.SettingsKey, &in.base); err != nil && !errors.Is(err, settings.ErrNotFound) {
		in.baseErr = err
	}
	stores := map[string]bool{}
	keys, err := s.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return in, err
	}
	for _, k := range keys {
		code, ok := mapping.StoreFromKey(k)
		if !ok {
			continue
		}
		stores[code] = true
		var doc mapping.Settings
		if err := s.Load(ctx, k, &doc); err != nil {
			in.overErrs[code] = err
			continue
		}
		in.overrides[code] = doc
	}
	for code := range in.netsuite.ByStore {
		stores[code] = true
	}
	conns, err := connection.ListCommerce(ctx, cs.secrets)
	if err != nil {
		return in, err
	}
	for _, c := range conns {
		stores[c.Store] = true
	}
	if len(stores) == 0 {
		stores["default"] = true
	}
	for code := range stores {
		in.stores = append(in.stores, code)
	}
	sort.Strings(in.stores)
	js, err := jetstream.New(cs.nc)
	if err != nil {
		return in, err
	}
	kv, err := openBucket(ctx, js, event.BucketItemMap)
	if err != nil {
		return in, err
	}
	entries, bad, err := itemmap.All(ctx, kv)
	if err != nil {
		return in, err
	}
	for sku, v := range entries {
		in.items[sku] = v.ItemID
	}
	in.badItems = bad
	return in, nil
}

// record is a NetSuite record the check found.
type record struct {
	name, typ, subsidiary string
	inactive              bool
}

// checker collects findings, merging the users of one problem.
type checker struct {
	found map[string]*finding
	order []string
}

func (c *checker) add(kind, id, problem, usedBy string) {
	k := kind + "\x00" + id + "\x00" + problem
	f, ok := c.found[k]
	if !ok {
		f = &finding{Kind: kind, ID: id, Problem: problem}
		c.found[k] = f
		c.order = append(c.order, k)
	}
	for _, u := range f.UsedBy {
		if u == usedBy {
			return
		}
	}
	f.UsedBy = append(f.UsedBy, usedBy)
}

func (c *checker) list() []finding {
	var out []finding
	for _, k := range c.order {
		out = append(out, *c.found[k])
	}
	return out
}

// checkSettings reads the referenced NetSuite records and reports what is
// missing, inactive or not available to the store's subsidiary.
func checkSettings(ctx context.Context, in checkInput, ns *netsuite.Client) ([]finding, error) {
	c := &checker{found: map[string]*finding{}}
	if in.baseErr != nil {
		c.add("settings", mapping.SettingsKey, in.baseErr.Error(), "every store")
	}
	for _, k := range in.badItems {
		c.add("item map", k, "the entry does not decode (pkg/itemmap): its SKU has no item", event.BucketItemMap)
	}
	type use struct {
		id, by, subsidiary string
	}
	var subs, locs, curs, ships, levels, items []use
	for _, sub := range in.netsuite.MappedSubsidiaries() {
		subs = append(subs, use{id: sub, by: connection.NetSuiteSettingsKey})
	}
	storeSub := map[string]string{}
	for _, store := range in.stores {
		key := mapping.StoreKey(store)
		if err := in.overErrs[store]; err != nil {
			c.add("settings", key, err.Error(), "store "+store)
			continue
		}
		r, err := mapping.Resolve(mapping.Merge(in.base, in.overrides[store]))
		if err != nil {
			c.add("settings", key, err.Error(), "store "+store)
			continue
		}
		sub := in.netsuite.SubsidiaryFor(store, "")
		storeSub[store] = sub
		if in.netsuite.OneWorld && sub == "" && len(in.netsuite.ByWebsite) == 0 {
			c.add("store", store, "no NetSuite subsidiary (netsuite.subsidiaries): its orders cannot be mapped", "store "+store)
		}
		by := func(field string) string { return "store " + store + " " + field }
		if r.Location != "" {
			locs = append(locs, use{r.Location, by("location"), sub})
		}
		for _, code := range sortedKeys(r.Currencies) {
			curs = append(curs, use{r.Currencies[code], by("currencies." + code), sub})
		}
		for _, m := range sortedKeys(r.ShipMethods) {
			ships = append(ships, use{r.ShipMethods[m], by("ship_methods." + m), sub})
		}
		if r.DefaultShipMethod != "" {
			ships = append(ships, use{r.DefaultShipMethod, by("default_ship_method"), sub})
		}
		if r.PriceLevel != "" && r.PriceLevel != "-1" {
			levels = append(levels, use{r.PriceLevel, by("price_level"), sub})
		}
		if r.Discounts != mapping.DiscountNet {
			items = append(items, use{r.DiscountItem, by("discount_item"), sub})
		}
		if r.Tax == mapping.TaxAmounts {
			items = append(items, use{r.TaxItem, by("tax_item"), sub})
		}
	}
	for _, sku := range sortedKeys(in.items) {
		items = append(items, use{in.items[sku], "SKU " + sku, ""})
	}

	read := func(what, q string, cols func(netsuite.Row) record) (map[string]record, error) {
		out := map[string]record{}
		err := ns.QueryKeyset(ctx, q, nil, func(r netsuite.Row) error {
			out[r.String("id")] = cols(r)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read NetSuite %s: %w", what, err)
		}
		return out, nil
	}
	inactive := func(r netsuite.Row) bool { return r.String("isinactive") == "T" }
	if in.netsuite.OneWorld || len(subs) > 0 {
		have, err := read("subsidiaries", "SELECT id, name, isinactive FROM subsidiary WHERE id > ? ORDER BY id", func(r netsuite.Row) record {
			return record{name: r.String("name"), inactive: inactive(r)}
		})
		if err != nil {
			return nil, err
		}
		for _, u := range subs {
			exists(c, "subsidiary", u.id, u.by, have, "")
		}
	}
	if len(locs) > 0 {
		have, err := read("locations", "SELECT id, name, subsidiary, isinactive FROM location WHERE id > ? ORDER BY id", func(r netsuite.Row) record {
			return record{name: r.String("name"), subsidiary: r.String("subsidiary"), inactive: inactive(r)}
		})
		if err != nil {
			return nil, err
		}
		for _, u := range locs {
			if rec, ok := exists(c, "location", u.id, u.by, have, ""); ok && in.netsuite.OneWorld && u.subsidiary != "" &&
				rec.subsidiary != "" && rec.subsidiary != u.subsidiary {
				c.add("location", u.id, fmt.Sprintf("%s belongs to subsidiary %s, not the store's %s", rec.name, rec.subsidiary, u.subsidiary), u.by)
			}
		}
	}
	if len(curs) > 0 {
		have, err := read("currencies", "SELECT id, name FROM currency WHERE id > ? ORDER BY id", func(r netsuite.Row) record {
			return record{name: r.String("name")}
		})
		if err != nil {
			return nil, err
		}
		for _, u := range curs {
			exists(c, "currency", u.id, u.by, have, "")
		}
	}
	if len(levels) > 0 {
		have, err := read("price levels", "SELECT id, name, isinactive FROM pricelevel WHERE id > ? ORDER BY id", func(r netsuite.Row) record {
			return record{name: r.String("name"), inactive: inactive(r)}
		})
		if err != nil {
			return nil, err
		}
		for _, u := range levels {
			exists(c, "price level", u.id, u.by, have, "")
		}
	}
	if len(items) > 0 || len(ships) > 0 {
		ids := map[string]bool{}
		for _, u := range append(append([]use(nil), items...), ships...) {
			ids[u.id] = true
		}
		have, err := readItems(ctx, ns, sortedSet(ids))
		if err != nil {
			return nil, err
		}
		for _, u := range ships {
			exists(c, "ship method", u.id, u.by, have, "ShipItem")
		}
		for _, u := range items {
			want := ""
			if strings.HasSuffix(u.by, " discount_item") {
				want = "Discount"
			}
			exists(c, "item", u.id, u.by, have, want)
		}
	}
	return c.list(), nil
}

// exists reports a missing or inactive record (or one of the wrong item
// type) and returns the record when it can be used.
func exists(c *checker, kind, id, by string, have map[string]record, wantType string) (record, bool) {
	rec, ok := have[id]
	switch {
	case id == "":
		c.add(kind, id, "no id", by)
	case !ok:
		c.add(kind, id, "does not exist in NetSuite", by)
	case rec.inactive:
		c.add(kind, id, rec.name+" is inactive", by)
	case wantType != "" && rec.typ != wantType:
		c.add(kind, id, fmt.Sprintf("%s is of item type %s, not %s", rec.name, rec.typ, wantType), by)
	default:
		return rec, true
	}
	return rec, false
}

// readItems reads the items with these ids, a few hundred per query.
func readItems(ctx context.Context, ns *netsuite.Client, ids []string) (map[string]record, error) {
	const chunk = 200
	out := map[string]record{}
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		q := "SELECT id, itemid, itemtype, isinactive FROM item WHERE id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ") + ")"
		err := ns.QueryAll(ctx, q, part, func(r netsuite.Row) error {
			out[r.String("id")] = record{name: r.String("itemid"), typ: r.String("itemtype"), inactive: r.String("isinactive") == "T"}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read NetSuite items: %w", err)
		}
	}
	return out, nil
}

func sortedSet(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
