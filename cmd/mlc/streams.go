package main

import (
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/stream"
)

func newStreamsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "streams", Short: "Manage the JetStream streams, consumers and KV buckets of streams/"}
	var replicas int
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Create or update every stream, consumer and bucket (a second run changes nothing)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, js, err := connectNATS(cmd)
			if err != nil {
				return err
			}
			res, err := stream.ApplyDeclared(cmd.Context(), js, nil, stream.WithReplicas(replicas), stream.WithDeclaredRuntimeValues())
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), res)
			}
			rows := [][]string{{"KIND", "NAME", "ACTION"}}
			for _, r := range res {
				rows = append(rows, []string{r.Kind, r.Name, string(r.Action)})
			}
			printTable(cmd.OutOrStdout(), rows)
			return nil
		},
	}
	apply.Flags().IntVar(&replicas, "replicas", 0, "override num_replicas (production: 3); 0 keeps the files' value")
	cmd.AddCommand(apply)
	return cmd
}

// connectNATS dials NATS as the operator: --server / MLC_NATS_URL, with the
// deployment's MLC_NATS_CREDS, MLC_NATS_NKEY_FILE and MLC_NATS_TLS_* files.
func connectNATS(cmd *cobra.Command) (*nats.Conn, jetstream.JetStream, error) {
	sec, err := stream.SecurityFromEnv(os.Getenv).Options()
	if err != nil {
		return nil, nil, err
	}
	return stream.Connect(natsURL(cmd), os.Getenv("MLC_NATS_CREDS"), "mlc-cli", zerolog.Nop(), sec...)
}

func natsURL(cmd *cobra.Command) string {
	if u, _ := cmd.Flags().GetString("server"); u != "" {
		return u
	}
	if u := os.Getenv("MLC_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}
