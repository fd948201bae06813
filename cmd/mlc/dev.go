package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/service"
)

func newDevCmd() *cobra.Command {
	var o devstack.Options
	var logsToStdout bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: embedded JetStream, all services, and the simulators",
		Long: `Runs an embedded JetStream server (data under --dir), applies streams/, and starts
every service in-process, each on its own port. Unless real connections are configured
(MLC_NETSUITE_ACCOUNT or MLC_COMMERCE_BASE_URL set, or --no-sims) both simulators run too,
Commerce's webhooks point at ingest, and working connections to them are stored encrypted.
Service logs go to <dir>/logs/<service>.log (or stdout with --logs-stdout). Ctrl-C stops everything.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(o.Dir)
			if err != nil {
				return err
			}
			o.Dir = abs
			o.Env = service.Environ()
			if o.Env["MLC_NETSUITE_ACCOUNT"] != "" || o.Env["MLC_COMMERCE_BASE_URL"] != "" {
				o.NoSims = true
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
				printTable(out, rows)
				if st.Sims != nil {
					fmt.Fprintf(out, "Place an order: curl -s -X POST %s/_sim/orders -d '{}'\n", st.Sims.CommerceURL)
				}
				fmt.Fprintln(out, "Ctrl-C to stop.")
			}
			<-cmd.Context().Done()
			fmt.Fprintln(out, "stopping...")
			if err := st.Stop(); err != nil {
				return err
			}
			fmt.Fprintln(out, "stopped.")
			return nil
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
	return cmd
}
