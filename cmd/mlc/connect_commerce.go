package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/commerce"
	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/ingest"
)

func newConnectCommerceCmd() *cobra.Command {
	var (
		c         connection.Commerce
		keyFiles  []string
		ingestURL string
	)
	cmd := &cobra.Command{
		Use:   "commerce",
		Short: "Verify a Commerce store's REST access, store it encrypted and print its webhook configuration",
		Long: "Reads one order through REST to prove the credentials, checks the webhook verification material, " +
			"stores the connection encrypted as commerce.<store> in mlc_credentials, and prints what to configure in " +
			"Commerce: the app/etc/webhooks.xml snippet (PaaS) or the POST /V1/webhooks/subscribe bodies (SaaS) " +
			"for order placed, invoice captured and customer created, and how to enable signing. Secrets are never printed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range keyFiles {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("--webhook-public-key-file: %w", err)
				}
				c.Webhook.PublicKeys = append(c.Webhook.PublicKeys, string(b))
			}
			if c.Flavour == "" {
				c.Flavour = "paas"
				if strings.EqualFold(c.Auth, "ims") {
					c.Flavour = "saas"
				}
			}
			res, err := verifyCommerce(cmd.Context(), c)
			if err != nil {
				return err
			}
			c.StoreID = res.StoreID
			cs, err := openCredStore(cmd, false)
			if err != nil {
				return err
			}
			defer cs.Close()
			if err := connection.SaveCommerce(cmd.Context(), cs.secrets, c); err != nil {
				return fmt.Errorf("store the connection: %w", err)
			}
			res.Hooks = commerceHooks(c.Store, ingestURL)
			if jsonOutput(cmd) {
				if c.Flavour == "saas" {
					res.Subscriptions = subscribeBodies(res.Hooks)
				} else {
					res.WebhooksXML = webhooksXML(res.Hooks)
				}
				return printJSON(cmd.OutOrStdout(), res)
			}
			printCommerceSetup(cmd.OutOrStdout(), c, res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Store, "store", envOr("MLC_COMMERCE_STORE", "default"), "store code (the X-Mlc-Store header names it)")
	f.StringVar(&c.BaseURL, "base-url", os.Getenv("MLC_COMMERCE_BASE_URL"), "everything before V1: https://shop/rest/<store> (PaaS) or https://<region>.api.commerce.adobe.com/<tenant> (SaaS)")
	f.StringVar(&c.Auth, "auth", envOr("MLC_COMMERCE_AUTH", "oauth1"), "oauth1 (integration) or ims (server-to-server)")
	f.StringVar(&c.Flavour, "flavour", "", "paas or saas (default: paas for oauth1, saas for ims)")
	f.StringVar(&c.OAuth1.ConsumerKey, "consumer-key", "", "oauth1: integration consumer key")
	f.StringVar(&c.OAuth1.ConsumerSecret, "consumer-secret", "", "oauth1: integration consumer secret")
	f.StringVar(&c.OAuth1.AccessToken, "access-token", "", "oauth1: integration access token")
	f.StringVar(&c.OAuth1.AccessTokenSecret, "access-token-secret", "", "oauth1: integration access token secret")
	f.BoolVar(&c.OAuth1Bearer, "oauth1-bearer", false, "oauth1: send the access token as Bearer instead of signing (needs the Commerce switch)")
	f.StringVar(&c.IMS.ClientID, "ims-client-id", "", "ims: Developer Console OAuth server-to-server client id")
	f.StringVar(&c.IMS.ClientSecret, "ims-client-secret", "", "ims: client secret")
	f.StringVar(&c.IMS.OrgID, "ims-org-id", "", "ims: organization id (…@AdobeOrg)")
	f.StringVar(&c.IMS.TokenURL, "ims-token-url", "", "ims: token endpoint (default https://ims-na1.adobelogin.com/ims/token/v3)")
	f.StringVar(&c.Webhook.Mode, "webhook-mode", "rsa", "how webhooks are verified: rsa (Commerce's digital signature), hmac (a signing relay) or none (development only: ingest needs MLC_INGEST_ALLOW_UNVERIFIED=true)")
	f.StringArrayVar(&keyFiles, "webhook-public-key-file", nil, "rsa: the public key PEM from the Commerce admin (repeat for current and previous)")
	f.StringArrayVar(&c.Webhook.Secrets, "webhook-secret", nil, "hmac: the shared secret (repeat during a rotation)")
	f.StringVar(&ingestURL, "ingest-url", envOr("MLC_INGEST_URL", "http://127.0.0.1:8081"), "public base URL of the ingest service, as Commerce reaches it")
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type commerceConnectResult struct {
	Store         string          `json:"store"`
	BaseURL       string          `json:"base_url"`
	Flavour       string          `json:"flavour"`
	Auth          string          `json:"auth"`
	WebhookMode   string          `json:"webhook_mode"`
	StoreID       int64           `json:"store_id"`
	OrdersVisible int             `json:"orders_visible"`
	Hooks         []commerceHook  `json:"hooks"`
	WebhooksXML   string          `json:"webhooks_xml,omitempty"`
	Subscriptions []subscribeBody `json:"subscriptions,omitempty"`
}

// verifyCommerce validates c and proves its REST credentials with a real
// read of one order. It stores nothing.
func verifyCommerce(ctx context.Context, c connection.Commerce, opts ...commerce.Option) (commerceConnectResult, error) {
	res := commerceConnectResult{Store: c.Store, BaseURL: c.BaseURL, Flavour: c.Flavour, Auth: c.Auth, WebhookMode: c.Webhook.Mode}
	if err := c.Validate(); err != nil {
		return res, err
	}
	if _, err := c.Verifier(); err != nil {
		return res, fmt.Errorf("webhook verification: %w", err)
	}
	opts = append([]commerce.Option{commerce.WithRetries(1, 200*time.Millisecond, time.Second)}, opts...)
	client, err := commerce.NewFromConfig(c.ClientConfig(), opts...)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	page, err := client.ListOrders(ctx, commerce.SearchCriteria{}.Page(1, 1))
	if err != nil {
		return res, fmt.Errorf("read one order with GET %s/V1/orders: %w\n%s", strings.TrimRight(c.BaseURL, "/"), err, commerceHint(c, err))
	}
	res.OrdersVisible = page.TotalCount
	// Orders, invoices and webhooks carry the numeric store id, and Commerce
	// lists every store's orders whatever the URL's store code: the id is
	// how ingest files each record under the right store.
	if res.StoreID, err = client.StoreID(ctx, c.Store); err != nil {
		return res, fmt.Errorf("look up store %q with GET %s/V1/store/storeViews: %w\nhint: --store is the store view code "+
			"(Stores > All Stores), and the integration needs the Stores > Settings > All Stores resource", c.Store, strings.TrimRight(c.BaseURL, "/"), err)
	}
	return res, nil
}

func commerceHint(c connection.Commerce, err error) string {
	switch {
	case errors.Is(err, commerce.ErrUnauthorized) && strings.EqualFold(c.Auth, "ims"):
		return "hint: check --ims-client-id/--ims-client-secret/--ims-org-id (Developer Console, OAuth Server-to-Server) " +
			"and that the project has the Commerce API with scope commerce.accs."
	case errors.Is(err, commerce.ErrUnauthorized) && c.OAuth1Bearer:
		return "hint: bearer use of integration tokens is off by default; enable Stores > Configuration > Services > OAuth > " +
			"Consumer Settings > Allow OAuth Access Tokens to be used as standalone Bearer tokens, or drop --oauth1-bearer."
	case errors.Is(err, commerce.ErrUnauthorized):
		return "hint: check the four values under System > Extensions > Integrations (the integration must be Active) and " +
			"that --base-url is the URL Commerce sees: OAuth signatures cover scheme, host and port."
	case errors.Is(err, commerce.ErrForbidden):
		return "hint: give the integration the Sales > Operations > Orders resource."
	case errors.Is(err, commerce.ErrNotFound):
		return "hint: --base-url is everything before V1, e.g. https://shop.example.com/rest/default (PaaS) or " +
			"https://na1.api.commerce.adobe.com/<tenant> (SaaS)."
	}
	return "hint: check --base-url and the network."
}

// commerceHook is one webhook the connector needs.
type commerceHook struct {
	Method string `json:"webhook_method"` // observer.<event>
	Name   string `json:"hook_name"`
	URL    string `json:"url"`
	Store  string `json:"store"`
}

// Webhook settings of ref §4: never block checkout, never cache.
const (
	hookBatch       = "ml_connector"
	hookBatchOrder  = 900
	hookTimeoutMS   = 2000
	hookSoftTimeout = 500
)

func commerceHooks(store, ingestURL string) []commerceHook {
	base := strings.TrimRight(ingestURL, "/") + "/webhooks/commerce/"
	return []commerceHook{
		{Method: "observer.sales_order_place_after", Name: "mlc_order_placed", URL: base + "order-placed", Store: store},
		{Method: "observer.sales_order_invoice_save_after", Name: "mlc_invoice_captured", URL: base + "invoice-captured", Store: store},
		{Method: "observer.customer_register_success", Name: "mlc_customer_created", URL: base + "customer-created", Store: store},
	}
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// webhooksXML is the app/etc/webhooks.xml of the hooks (Commerce Webhooks
// module schema). No <fields>: the whole payload is sent, because ingest
// keeps the raw body as evidence and verifies the signature over it.
func webhooksXML(hooks []commerceHook) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?>
<config xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xsi:noNamespaceSchemaLocation="urn:magento:module:Magento_AdobeCommerceWebhooks:etc/webhooks.xsd">
`)
	for _, h := range hooks {
		fmt.Fprintf(&b, `    <method name="%s" type="after">
        <hooks>
            <batch name="%s" order="%d">
                <hook name="%s" url="%s" method="POST" required="false" timeout="%d" softTimeout="%d" ttl="0" priority="100">
                    <headers>
                        <header name="%s">%s</header>
                    </headers>
                </hook>
            </batch>
        </hooks>
    </method>
`, xmlEscape(h.Method), hookBatch, hookBatchOrder, xmlEscape(h.Name), xmlEscape(h.URL), hookTimeoutMS, hookSoftTimeout,
			ingest.HeaderStore, xmlEscape(h.Store))
	}
	b.WriteString("</config>\n")
	return b.String()
}

type subscribeBody struct {
	Webhook subscription `json:"webhook"`
}

type subscription struct {
	WebhookMethod string       `json:"webhook_method"`
	WebhookType   string       `json:"webhook_type"`
	BatchName     string       `json:"batch_name"`
	BatchOrder    int          `json:"batch_order"`
	HookName      string       `json:"hook_name"`
	URL           string       `json:"url"`
	Priority      int          `json:"priority"`
	Required      bool         `json:"required"`
	Timeout       int          `json:"timeout"`
	SoftTimeout   int          `json:"soft_timeout"`
	TTL           int          `json:"ttl"`
	Headers       []hookHeader `json:"headers"`
}

type hookHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// subscribeBodies are the POST /V1/webhooks/subscribe bodies (SaaS).
func subscribeBodies(hooks []commerceHook) []subscribeBody {
	out := make([]subscribeBody, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, subscribeBody{Webhook: subscription{
			WebhookMethod: h.Method, WebhookType: "after", BatchName: hookBatch, BatchOrder: hookBatchOrder,
			HookName: h.Name, URL: h.URL, Priority: 100, Required: false,
			Timeout: hookTimeoutMS, SoftTimeout: hookSoftTimeout, TTL: 0,
			Headers: []hookHeader{{Name: ingest.HeaderStore, Value: h.Store}},
		}})
	}
	return out
}

func printCommerceSetup(w io.Writer, c connection.Commerce, r commerceConnectResult) {
	rows := [][]string{
		{"SETTING", "VALUE"},
		{"store", r.Store + " (store_id " + strconv.FormatInt(r.StoreID, 10) + ")"},
		{"base URL", r.BaseURL},
		{"flavour", r.Flavour},
		{"auth", r.Auth},
		{"REST read", "ok (" + strconv.Itoa(r.OrdersVisible) + " orders visible)"},
		{"webhook verification", r.WebhookMode},
		{"stored as", connection.CommerceSecretName(r.Store) + " (encrypted, mlc_credentials)"},
	}
	printTable(w, rows)
	fmt.Fprintln(w)
	if c.Flavour == "saas" {
		fmt.Fprintf(w, "Subscribe the webhooks (SaaS): POST %s/V1/webhooks/subscribe once with each body below\n", strings.TrimRight(c.BaseURL, "/"))
		fmt.Fprintln(w, "(or create them in Admin > System > Webhook Subscriptions with the same values):")
		for _, s := range subscribeBodies(r.Hooks) {
			b, _ := json.MarshalIndent(s, "", "  ")
			fmt.Fprintf(w, "%s\n", b)
		}
	} else {
		fmt.Fprintln(w, "Add to app/etc/webhooks.xml (or merge into an existing one), then run bin/magento webhooks:list:")
		fmt.Fprintln(w)
		fmt.Fprint(w, webhooksXML(r.Hooks))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The hooks are optional (required=false) with a 2 s timeout and no response cache, so a connector outage")
	fmt.Fprintln(w, "never blocks checkout; the scheduled poll backfills anything missed.")
	fmt.Fprintln(w)
	switch c.Webhook.Mode {
	case commerce.VerifyRSA:
		fmt.Fprintln(w, "Signing: in the Commerce Admin open Stores > Settings > Configuration > Adobe Services > Webhooks >")
		fmt.Fprintln(w, "Digital Signature Configuration, set Enabled = Yes and click Regenerate key pair. The public key shown")
		fmt.Fprintln(w, "there must be the one given with --webhook-public-key-file; after regenerating, run this command again")
		fmt.Fprintln(w, "with the new key file (and the old one too, repeated, until Commerce uses the new pair).")
	case commerce.VerifyHMAC:
		fmt.Fprintln(w, "Signing: Commerce's own module signs with RSA only; mode hmac is for a relay that signs the raw body with")
		fmt.Fprintln(w, "HMAC-SHA256 under the shared secret in x-adobe-commerce-webhook-signature. For Commerce's digital")
		fmt.Fprintln(w, "signature (Admin > Stores > Configuration > Adobe Services > Webhooks) use --webhook-mode rsa.")
	default:
		fmt.Fprintln(w, "WARNING: webhook mode none accepts unsigned requests: local development only. ingest refuses these")
		fmt.Fprintln(w, "webhooks unless it runs with MLC_INGEST_ALLOW_UNVERIFIED=true (the poll still reads the store). Enable the")
		fmt.Fprintln(w, "Digital Signature in Admin > Stores > Configuration > Adobe Services > Webhooks and reconnect with --webhook-mode rsa.")
	}
}
