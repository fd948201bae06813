package main

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/bench"
	"github.com/ml-connector/ml-connector/pkg/inventory"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func newBenchInventoryCmd() *cobra.Command {
	var (
		o           bench.InventoryOptions
		rounds      int
		gomemlimit  string
		memoryLimit string
		cpuProfile  string
		memProfile  string
	)
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Time inventory-publisher's scheduled run over a large catalogue with 1 % changed",
		Args:  cobra.NoArgs,
		Long: `Starts an embedded JetStream server and both simulators with a catalogue of --items
(NetSuite items with a price and stock, the same SKUs as Commerce products), NetSuite
answering every call after --latency. inventory-publisher's Commerce writer runs in this
process; its publisher (the NetSuite side, which holds the snapshot and reads the
catalogue) runs as a process of its own, built as the service builds it, soft memory limit
included, so its memory is measured apart from JetStream and the simulators.

A first, full run publishes and writes every SKU. Then each of --rounds changes the price
of one item in --every (a different slice each round) and runs again:

  RUN TIME        the publisher's run: read NetSuite (keyset-paged SuiteQL), diff, publish
  UNTIL WRITTEN   from the run's start until every change has its SYNC outcome
  SUITEQL PAGES   pages the run read; NETSUITE CALLS every NetSuite API call it made
  COMMERCE CALLS  Commerce requests in the round (base-prices, source-items)

and the publisher's peak resident set (VmHWM) and Go heap over the rounds.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if memoryLimit != "" {
				if _, err := inventory.ParseMemoryLimit(memoryLimit); err != nil {
					return fmt.Errorf("--memory-limit: %w", err)
				}
				o.Env = append(o.Env, "MLC_INVENTORY_MEMORY_LIMIT="+memoryLimit)
			}
			if gomemlimit != "" {
				o.Env = append(o.Env, "GOMEMLIMIT="+gomemlimit)
			}
			if cpuProfile != "" {
				o.Env = append(o.Env, "MLC_BENCH_CPUPROFILE="+cpuProfile)
			}
			if memProfile != "" {
				o.Env = append(o.Env, "MLC_BENCH_MEMPROFILE="+memProfile)
			}
			if o.Items < 1 || o.Every < 1 || rounds < 1 || o.Latency < 0 {
				return fmt.Errorf("--items, --every and --rounds must be positive, --latency not negative")
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			o.Publisher = exec.Command(self, "bench", "inventory", "publisher")
			o.Log = cmd.ErrOrStderr()
			errOut := cmd.ErrOrStderr()
			res, err := bench.RunInventory(cmd.Context(), o, rounds, func(s string) {
				fmt.Fprintf(errOut, "%s %s\n", time.Now().Format("15:04:05"), s)
			})
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), res)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%d items, NetSuite latency %v, 1 item in %d changed per round\n\n", res.Items, res.Latency, o.Every)
			rows := [][]string{{"RUN", "CHANGED", "RUN TIME", "UNTIL WRITTEN", "SUITEQL PAGES", "NETSUITE CALLS", "COMMERCE CALLS"}}
			row := func(name string, r bench.InventoryRound) []string {
				return []string{name, fmt.Sprint(r.Changed), secs(r.Run), secs(r.Written), fmt.Sprint(r.Pages), fmt.Sprint(r.NetSuiteRequests),
					fmt.Sprint(r.CommerceRequests)}
			}
			rows = append(rows, row("first (full)", res.First))
			for i, r := range res.Rounds {
				rows = append(rows, row(fmt.Sprintf("round %d", i+1), r))
			}
			printTable(out, rows)
			p := res.Publisher
			fmt.Fprintf(out, "\npublisher (memory limit %s): peak RSS %.0f MiB, peak Go heap %.0f MiB over the rounds; peak RSS %.0f MiB before (start-up and the first run)\n",
				p.MemoryLimit, p.RoundsRSS/(1<<20), p.RoundsHeap/(1<<20), p.FirstRSS/(1<<20))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Items, "items", 100_000, "items in the catalogue")
	f.DurationVar(&o.Latency, "latency", 50*time.Millisecond, "NetSuite simulator's answer time for every call")
	f.IntVar(&o.Every, "every", 100, "each round changes one item in this many (100 = 1 %)")
	f.IntVar(&rounds, "rounds", 3, "timed rounds after the first, full run")
	f.StringVar(&memoryLimit, "memory-limit", "", "the publisher's MLC_INVENTORY_MEMORY_LIMIT (default: the service's, 150MiB; off for none)")
	f.StringVar(&gomemlimit, "gomemlimit", "", "the publisher's GOMEMLIMIT (overrides its memory limit)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write the publisher's CPU profile of the rounds to this file")
	f.StringVar(&memProfile, "memprofile", "", "write the publisher's heap profile at the end to this file")
	cmd.AddCommand(&cobra.Command{
		Use:    "publisher",
		Short:  "The benchmark's publisher process (commands on stdin)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.ServePublisher(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), service.Environ())
		},
	})
	return cmd
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
