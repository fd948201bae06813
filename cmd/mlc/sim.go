package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/devstack"
	"github.com/ml-connector/ml-connector/pkg/sim/commercesim"
)

func newSimCmd() *cobra.Command {
	var (
		o        devstack.SimOptions
		rate     float64
		store    string
		latency  time.Duration
		tokenTTL time.Duration
		hmac     string
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the NetSuite and Commerce simulators stand-alone",
		Long: `Serves both simulators so services (or curl) can be pointed at them like at a real
account. Keys live in --dir and are reused, so connections made with
'mlc connect' against the simulators keep working across restarts.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			abs, err := filepath.Abs(o.Dir)
			if err != nil {
				return err
			}
			o.Dir = abs
			o.NetSuite.Latency, o.NetSuite.TokenLifetime = latency, tokenTTL
			o.Commerce.Latency = latency
			if hmac != "" {
				o.Commerce.Webhooks.Mode, o.Commerce.Webhooks.Secret = "hmac", []byte(hmac)
			}
			sims, err := devstack.StartSims(o)
			if err != nil {
				return err
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = sims.Stop(ctx)
			}()
			out := cmd.OutOrStdout()
			if jsonOutput(cmd) {
				_ = printJSON(out, map[string]any{
					"netsuite_url": sims.NetSuiteURL, "commerce_url": sims.CommerceURL,
					"netsuite_account": devstack.SimAccountID, "netsuite_client_id": devstack.SimClientID,
					"netsuite_certificate_id": devstack.SimCertificateID, "netsuite_key_file": sims.KeyFile,
				})
			} else {
				printSimSummary(cmd, sims)
			}
			if rate > 0 {
				go func() { _ = sims.Commerce.RunGenerator(cmd.Context(), rate, store) }()
			}
			<-cmd.Context().Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", filepath.Join(".mlc", "sim"), "where the simulators' keys are kept")
	f.StringVar(&o.NetSuiteAddr, "netsuite-addr", "127.0.0.1:8092", "NetSuite simulator address")
	f.StringVar(&o.CommerceAddr, "commerce-addr", "127.0.0.1:8091", "Commerce simulator address")
	f.StringVar(&o.Commerce.Webhooks.BaseURL, "webhook-url", "", "send Commerce webhooks to this base URL (e.g. http://127.0.0.1:8081/webhooks/commerce)")
	f.StringVar(&hmac, "webhook-hmac-secret", "", "sign webhooks with this shared secret instead of the RSA key")
	f.Float64Var(&o.Commerce.Webhooks.DropRate, "drop-rate", 0, "fraction of webhooks silently not sent")
	f.Float64Var(&o.Commerce.Webhooks.DuplicateRate, "duplicate-rate", 0, "fraction of webhooks sent twice")
	f.Int64Var(&o.NetSuite.Seed, "seed", 1, "random seed of both simulators")
	f.BoolVar(&o.NetSuite.OneWorld, "oneworld", true, "NetSuite OneWorld mode (subsidiary required)")
	f.IntVar(&o.NetSuite.ConcurrencyLimit, "concurrency-limit", 5, "NetSuite account concurrency limit (429 beyond it)")
	f.Float64Var(&o.NetSuite.ErrorRate, "error-rate", 0, "fraction of NetSuite calls answered 500")
	f.DurationVar(&latency, "latency", 0, "latency added to every simulated API call")
	f.DurationVar(&tokenTTL, "token-lifetime", time.Hour, "NetSuite access token lifetime")
	f.Float64Var(&rate, "orders-per-second", 0, "generate storefront orders at this rate")
	f.StringVar(&store, "store", "default", "store the generator places orders in")
	cmd.PreRun = func(*cobra.Command, []string) { o.Commerce.Seed = o.NetSuite.Seed }
	cmd.AddCommand(newSimAssertionCmd())
	return cmd
}

func printSimSummary(cmd *cobra.Command, sims *devstack.Sims) {
	out := cmd.OutOrStdout()
	printTable(out, [][]string{
		{"SIMULATOR", "URL", "CREDENTIALS"},
		{"netsuite", sims.NetSuiteURL, fmt.Sprintf("account %s, client id %s, certificate id %s, key %s",
			devstack.SimAccountID, devstack.SimClientID, devstack.SimCertificateID, sims.KeyFile)},
		{"commerce", sims.CommerceURL, "OAuth 1.0a: the simulator's default integration (see mlc connect commerce below)"},
	})
	oa := commercesim.DefaultOAuth1()
	fmt.Fprintf(out, `
Connect the services to them:
  mlc connect netsuite --account %s --client-id %s --cert-id %s --key-file %s --base-url %s --default-subsidiary 1
  mlc connect commerce --store default --base-url %s --auth oauth1 \
    --consumer-key %s --consumer-secret %s --access-token %s --access-token-secret %s \
    %s
Place an order:  curl -s -X POST %s/_sim/orders -d '{}'
Ctrl-C to stop.
`, devstack.SimAccountID, devstack.SimClientID, devstack.SimCertificateID, sims.KeyFile, sims.NetSuiteURL,
		sims.Commerce.StoreBaseURL("default"), oa.ConsumerKey, oa.ConsumerSecret, oa.AccessToken, oa.AccessTokenSecret,
		webhookFlags(sims), sims.CommerceURL)
}

// webhookFlags are the `mlc connect commerce` flags matching how the
// simulator signs its webhooks.
func webhookFlags(sims *devstack.Sims) string {
	wh := sims.Commerce.Config().Webhooks
	switch wh.Mode {
	case "rsa":
		return "--webhook-mode rsa --webhook-public-key-file " + sims.WebhookPublicKeyFile
	case "hmac":
		return "--webhook-mode hmac --webhook-secret '" + string(wh.Secret) + "'"
	}
	// Ingest refuses unverified webhooks unless MLC_INGEST_ALLOW_UNVERIFIED=true.
	return "--webhook-mode none   # unsigned: ingest accepts these only with MLC_INGEST_ALLOW_UNVERIFIED=true"
}

// newSimAssertionCmd prints a client assertion for the NetSuite simulator,
// for trying its token endpoint with curl.
func newSimAssertionCmd() *cobra.Command {
	var dir, baseURL string
	cmd := &cobra.Command{
		Use:   "assertion",
		Short: "Print a signed client assertion (JWT) for the NetSuite simulator's token endpoint",
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := os.ReadFile(filepath.Join(dir, "netsuite-client-key.pem"))
			if err != nil {
				return fmt.Errorf("%w (start `mlc sim` once to create the key)", err)
			}
			conn := connection.NetSuite{AccountID: devstack.SimAccountID, ClientID: devstack.SimClientID,
				CertificateID: devstack.SimCertificateID, PrivateKeyPEM: string(key), BaseURL: baseURL}
			c, err := conn.Client()
			if err != nil {
				return err
			}
			a, err := c.ClientAssertion()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), a)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", filepath.Join(".mlc", "sim"), "the simulators' key directory")
	cmd.Flags().StringVar(&baseURL, "base-url", "http://127.0.0.1:8092", "the NetSuite simulator's URL (the assertion's audience)")
	return cmd
}
