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
every service in-process, each on its own port. Without real connections configured
(MLC_NETSUITE_ACCOUNT, MLC_COMMERCE_BASE_URL) both simulators run too.
Service logs go to <dir>/logs/<service>.log (or stdout with --logs-stdout). Ctrl-C stops everything.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(o.Dir)
			if err != nil {
				return err
			}
			o.Dir = abs
			o.Env = service.Environ()
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
				_ = printJSON(out, map[string]any{"nats": st.NATS.ClientURL(), "services": st.Services})
			} else {
				rows := [][]string{{"COMPONENT", "LISTENS ON", "STATUS"}, {"nats (jetstream)", st.NATS.ClientURL(), "ready"}}
				for _, r := range st.Services {
					rows = append(rows, []string{r.Name, "http://" + r.Addr, "ready"})
				}
				printTable(out, rows)
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
	f.StringVar(&o.Dir, "dir", ".mlc", "data directory for JetStream and logs")
	f.IntVar(&o.NATSPort, "nats-port", 4222, "embedded NATS client port (-1 = random)")
	f.IntVar(&o.HTTPPort, "http-port", 8081, "port of the first service; the others follow (0 = random)")
	f.BoolVar(&o.SyncAlways, "sync-always", false, "fsync every JetStream write (the production setting)")
	f.BoolVar(&logsToStdout, "logs-stdout", false, "write service logs to stdout instead of <dir>/logs")
	return cmd
}
