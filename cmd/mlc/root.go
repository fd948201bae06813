package main

import (
	"github.com/spf13/cobra"
)

// newRootCmd builds the command tree. Each command group lives in its own
// file as newXxxCmd() and is registered here.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mlc",
		Short:         "ml-connector: Adobe Commerce <-> Oracle NetSuite, event-driven",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().Bool("json", false, "print machine-readable JSON instead of tables")
	root.PersistentFlags().String("server", "", "NATS URL (default $MLC_NATS_URL or nats://127.0.0.1:4222)")
	root.AddCommand(
		newDevCmd(),
		newSimCmd(),
		newStreamsCmd(),
		newConnectCmd(),
		newCredentialsCmd(),
		newSettingsCmd(),
		newBenchCmd(),
		newSyncCmd(),
		newAuditCmd(),
		newReplayCmd(),
		newDLQCmd(),
	)
	return root
}
