package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func newDevCmd() *cobra.Command {
	var o devstack.Options
	var logsToStdout bool
	var demo demoFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: embedded JetStream, all services, and the simulators",
		Long: `Runs an embedded JetStream server (data under --dir), applies streams/, and starts
every service in-process, each on its own port. Unless real connections are configured
(MLC_NETSUITE_ACCOUNT or MLC_COMMERCE_BASE_URL set, or --no-sims) both simulators run too,
Commerce's webhooks point at ingest, and working connections to them are stored encrypted.
When a clickhouse-server binary is on the machine (or MLC_CLICKHOUSE_DSN is set) the
audit-mirror writes every event into ClickHouse (data under <dir>/clickhouse).
Service logs go to <dir>/logs/<service>.log (or stdout with --logs-stdout). Ctrl-C stops everything.

--demo places orders at a steady rate (webhooks duplicated and dropped now and then, so the
backfill poll has work), captures invoices, signs buyers up and changes NetSuite stock and
prices, with a status line every second. --demo-orders N --exit-when-done stops after N
orders and exits non-zero unless every order is in NetSuite exactly once with its invoice
and customer and every stock change reached Commerce.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if demo.orders < 0 || demo.rate <= 0 || demo.drain <= 0 {
				return fmt.Errorf("--demo-orders must not be negative, --demo-rate and --demo-drain must be positive")
			}
			if demo.orders > 0 {
				demo.on = true
			}
			if demo.exitWhenDone && demo.orders == 0 {
				return fmt.Errorf("--exit-when-done needs --demo-orders N")
			}
			if demo.on {
				o.DemoSettings = true
				wh := &o.Sims.Commerce.Webhooks
				if wh.DropRate == 0 && wh.DuplicateRate == 0 {
					wh.DropRate, wh.DuplicateRate = 0.05, 0.1
				}
			}
			abs, err := filepath.Abs(o.Dir)
			if err != nil {
				return err
			}
			o.Dir = abs
			o.Env = service.Environ()
			if o.Env["MLC_NETSUITE_ACCOUNT"] != "" || o.Env["MLC_COMMERCE_BASE_URL"] != "" {
				o.NoSims = true
			}
			if demo.on && o.NoSims {
				return fmt.Errorf("--demo needs the simulators: unset MLC_NETSUITE_ACCOUNT / MLC_COMMERCE_BASE_URL and drop --no-sims")
			}
			if logsToStdout {
				o.LogOut = cmd.OutOrStdout()
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "starting ml-connector dev stack (data in %s)\n", o.Dir)
			st, err := devstack.Start(cmd.Context(), o)
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				v := map[string]any{"nats": st.NATS.ClientURL(), "services": st.Services}
				if st.Sims != nil {
					v["commerce_sim"], v["netsuite_sim"] = st.Sims.CommerceURL, st.Sims.NetSuiteURL
				}
				_ = printJSON(out, v)
			} else {
				rows := [][]string{{"COMPONENT", "LISTENS ON", "STATUS"}, {"nats (jetstream)", st.NATS.ClientURL(), "ready"}}
				for _, r := range st.Services {
					rows = append(rows, []string{r.Name, "http://" + r.Addr, r.Status})
				}
				if st.Sims != nil {
					rows = append(rows,
						[]string{"commerce simulator", st.Sims.CommerceURL, "webhooks -> ingest"},
						[]string{"netsuite simulator", st.Sims.NetSuiteURL, "connected"})
				}
				if st.ClickHouse != nil {
					rows = append(rows, []string{"clickhouse (audit)", st.AuditDSN, "started, data in " + filepath.Join(o.Dir, "clickhouse")})
				} else if st.AuditDSN != "" {
					rows = append(rows, []string{"clickhouse (audit)", st.AuditDSN, "MLC_CLICKHOUSE_DSN"})
				}
				printTable(out, rows)
				if st.Sims != nil && !demo.on {
					fmt.Fprintf(out, "Place an order: curl -s -X POST %s/_sim/orders -d '{}'\n", st.Sims.CommerceURL)
				}
				fmt.Fprintln(out, "Ctrl-C to stop.")
			}
			var demoErr error
			if demo.on {
				demoErr = runDemo(cmd.Context(), out, st, demo)
			}
			if !demo.exitWhenDone {
				<-cmd.Context().Done()
			}
			fmt.Fprintln(out, "stopping...")
			if err := st.Stop(); err != nil {
				return err
			}
			fmt.Fprintln(out, "stopped.")
			return demoErr
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", ".mlc", "data directory for JetStream, keys and logs")
	f.IntVar(&o.NATSPort, "nats-port", 4222, "embedded NATS client port (-1 = random)")
	f.IntVar(&o.HTTPPort, "http-port", 8081, "port of the first service; the others follow (0 = random)")
	f.BoolVar(&o.SyncAlways, "sync-always", false, "fsync every JetStream write (the production setting)")
	f.BoolVar(&logsToStdout, "logs-stdout", false, "write service logs to stdout instead of <dir>/logs")
	f.BoolVar(&o.NoSims, "no-sims", false, "do not run the simulators (use connections made with mlc connect)")
	f.StringVar(&o.Sims.CommerceAddr, "commerce-sim-addr", "127.0.0.1:8091", "Commerce simulator address")
	f.StringVar(&o.Sims.NetSuiteAddr, "netsuite-sim-addr", "127.0.0.1:8092", "NetSuite simulator address")
	f.Float64Var(&o.OrdersPerSecond, "orders-per-second", 0, "generate storefront orders at this rate in the Commerce simulator")
	f.BoolVar(&o.NoClickHouse, "no-clickhouse", false, "do not start clickhouse-server for the audit even when it is installed")
	f.BoolVar(&demo.on, "demo", false, "run demo traffic: orders, invoices, buyers, NetSuite stock and price changes, a status line a second")
	f.IntVar(&demo.orders, "demo-orders", 0, "stop the demo after N orders (implies --demo)")
	f.Float64Var(&demo.rate, "demo-rate", 5, "demo orders per second")
	f.BoolVar(&demo.exitWhenDone, "exit-when-done", false, "with --demo-orders: check the flow once it settles and exit (non-zero unless every promise held)")
	f.DurationVar(&demo.drain, "demo-drain", 2*time.Minute, "with --exit-when-done: how long the flow may take to settle after the last order")
	return cmd
}
