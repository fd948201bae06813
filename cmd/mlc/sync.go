package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/secrets"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

func newSyncCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "sync", Short: "Run a sync now instead of waiting for its schedule"}
	cmd.AddCommand(newSyncInventoryCmd())
	return cmd
}

func newSyncInventoryCmd() *cobra.Command {
	var stores, skus []string
	var full bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Publish the NetSuite prices and stock that changed since the last run to the Commerce catalogue",
		Long: `Reads items, prices and per-location stock from NetSuite, compares every store's SKUs with what was
published last, and publishes the differences on INVENTORY; inventory-publisher's Commerce writer then
writes them (base-prices, source-items). Runs one at a time with the scheduled runs of every replica: if
one is running, this waits for it. Settings: the "inventory" document in mlc_settings (README,
"inventory-publisher").`,
		Example: `  mlc sync inventory
  mlc sync inventory --store en_us --sku "MS09-M-Red" --sku "24-MB01"
  mlc sync inventory --full --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			keys, err := secrets.LoadKeyring(os.Getenv)
			if err != nil {
				return fmt.Errorf("%w (the connections are encrypted under it)", err)
			}
			nc, js, err := stream.Connect(natsURL(cmd), os.Getenv("MLC_NATS_CREDS"), "mlc-cli", zerolog.Nop())
			if err != nil {
				return err
			}
			defer nc.Close()
			lctx, lcancel := context.WithTimeout(ctx, lookupTimeout)
			credKV, err := openBucket(lctx, js, secrets.Bucket)
			if err == nil {
				_, err = openBucket(lctx, js, event.BucketInventory)
			}
			lcancel()
			if err != nil {
				return err
			}
			pub, err := inventory.NewPublisher(ctx, js, secrets.NewStore(credKV, keys))
			if err != nil {
				return err
			}
			bars := newSyncBars(cmd.ErrOrStderr())
			sum, err := pub.Run(ctx, inventory.RunOptions{Stores: stores, SKUs: skus, Full: full, Origin: event.OriginManual, Progress: bars.update})
			bars.finish()
			if sum != nil {
				if jsonOutput(cmd) {
					if perr := printJSON(cmd.OutOrStdout(), sum); perr != nil {
						return perr
					}
				} else {
					printSyncSummary(cmd.OutOrStdout(), sum)
				}
			}
			return err
		},
	}
	cmd.Flags().StringArrayVar(&stores, "store", nil, "only this Commerce store code (repeatable; default every connected store)")
	cmd.Flags().StringArrayVar(&skus, "sku", nil, "only this SKU (repeatable; SKUs may contain commas and spaces)")
	cmd.Flags().BoolVar(&full, "full", false, "publish every SKU's price and stock, changed or not (e.g. after creating products in Commerce)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long (including waiting for a running scheduled run)")
	return cmd
}

// syncBars shows a run's progress: one bar for the NetSuite read, one per
// store for publishing. Hidden unless stderr is a terminal.
type syncBars struct {
	w       io.Writer
	visible bool
	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	phase   string
}

func newSyncBars(w io.Writer) *syncBars { return &syncBars{w: w, visible: isTerminal(w)} }

func (b *syncBars) update(p inventory.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	phase := p.Phase + " " + p.Store
	if b.bar == nil || phase != b.phase {
		if b.bar != nil {
			_ = b.bar.Finish()
		}
		desc := "reading NetSuite items"
		if p.Phase == "publish" {
			desc = "publishing changes of " + p.Store
		}
		total := int64(p.Total)
		if total <= 0 {
			total = -1 // a spinner until the size is known
		}
		b.bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(desc),
			progressbar.OptionSetVisibility(b.visible), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond))
		b.phase = phase
	}
	if p.Total > 0 && b.bar.GetMax64() != int64(p.Total) {
		b.bar.ChangeMax64(int64(p.Total))
	}
	_ = b.bar.Set(p.Done)
}

func (b *syncBars) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}

func printSyncSummary(w io.Writer, s *inventory.Summary) {
	fmt.Fprintf(w, "read %d NetSuite items (%d SKUs) in %d SuiteQL pages (items %d, stock %d, prices %d) in %s\n",
		s.Items, s.SKUs, s.Pages.Total(), s.Pages.Items, s.Pages.Stock, s.Pages.Prices, s.Duration.Round(time.Millisecond))
	fmt.Fprintf(w, "item map: %d added, %d changed, %d removed\n", s.ItemMap.Added, s.ItemMap.Changed, s.ItemMap.Removed)
	rows := [][]string{{"STORE", "ACTIVE SKUS", "PRICE CHANGES", "STOCK CHANGES", "OFF SALE", "PUBLISHED", "ALREADY PUBLISHED"}}
	for _, st := range s.Stores {
		rows = append(rows, []string{st.Store, strconv.Itoa(st.Active), strconv.Itoa(st.PriceChanges), strconv.Itoa(st.StockChanges),
			strconv.Itoa(st.Gone), strconv.Itoa(st.Published), strconv.Itoa(st.Duplicates)})
	}
	printTable(w, rows)
	if n := len(s.Problems); n > 0 {
		fmt.Fprintf(w, "%d NetSuite items skipped:\n", n)
		for i, p := range s.Problems {
			if i == 20 {
				fmt.Fprintf(w, "  ... and %d more (--json lists all)\n", n-20)
				break
			}
			fmt.Fprintf(w, "  item %s: %s\n", p.ItemID, p.Reason)
		}
	}
}
