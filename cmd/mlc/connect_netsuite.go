package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/connection"
	"github.com/ml-connector/ml-connector/pkg/netsuite"
	"github.com/ml-connector/ml-connector/pkg/secrets"
)

func newConnectCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "connect", Short: "Verify and store a connection to NetSuite or a Commerce store (encrypted)"}
	cmd.AddCommand(newConnectNetSuiteCmd(), newConnectCommerceCmd())
	return cmd
}

func newConnectNetSuiteCmd() *cobra.Command {
	var (
		in               netsuiteConnectInput
		keyFile          string
		storeMap, webMap []string
	)
	cmd := &cobra.Command{
		Use:   "netsuite",
		Short: "Verify the M2M integration (token, subsidiaries, governance) and store it",
		Long: "Obtains a token with the integration's client ID and the private key of the certificate mapped under " +
			"Setup > Integration > OAuth 2.0 Client Credentials (M2M) Setup, detects OneWorld by listing subsidiaries " +
			"with SuiteQL, maps Commerce stores to subsidiaries (asked interactively on a terminal when no mapping " +
			"flag is given), reads governanceLimits when the role may, and stores the credentials encrypted in " +
			"mlc_credentials and the settings in mlc_settings.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" {
				return errors.New("--key-file is required: the PEM private key of the certificate uploaded to NetSuite")
			}
			pemData, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("--key-file: %w", err)
			}
			in.Conn.PrivateKeyPEM = string(pemData)
			if in.StoreMap, err = parseMapping("--store-subsidiary", storeMap); err != nil {
				return err
			}
			if in.WebsiteMap, err = parseMapping("--website-subsidiary", webMap); err != nil {
				return err
			}
			if in.Conn.BaseURL == "" {
				in.Conn.BaseURL = os.Getenv("MLC_NETSUITE_BASE_URL")
			}
			cs, err := openCredStore(cmd, true)
			if err != nil {
				return err
			}
			defer cs.Close()
			known, err := connection.ListCommerce(cmd.Context(), cs.secrets)
			if err != nil {
				return fmt.Errorf("list connected Commerce stores: %w", err)
			}
			for _, c := range known {
				in.Stores = append(in.Stores, c.Store)
			}
			if isTerminal(cmd.InOrStdin()) {
				in.Prompt = &prompter{in: bufio.NewReader(cmd.InOrStdin()), out: cmd.ErrOrStderr()}
			}
			res, err := verifyNetSuite(cmd.Context(), in)
			if err != nil {
				return err
			}
			if err := connection.SaveNetSuite(cmd.Context(), cs.secrets, in.Conn); err != nil {
				return fmt.Errorf("store the connection: %w", err)
			}
			if err := connection.SaveNetSuiteSettings(cmd.Context(), cs.settings, res.Settings); err != nil {
				return fmt.Errorf("store the settings: %w", err)
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), res)
			}
			printNetSuiteSummary(cmd.OutOrStdout(), res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Conn.AccountID, "account", os.Getenv("MLC_NETSUITE_ACCOUNT"), "account id, e.g. 1234567 or 1234567_SB1 (default $MLC_NETSUITE_ACCOUNT)")
	f.StringVar(&in.Conn.ClientID, "client-id", "", "the integration record's client ID")
	f.StringVar(&in.Conn.CertificateID, "cert-id", "", "the certificate ID shown in M2M Setup (sent as the JWT kid)")
	f.StringVar(&keyFile, "key-file", "", "PEM private key of that certificate (RSA ≥3072 bits or EC P-256/384/521)")
	f.StringVar(&in.Conn.BaseURL, "base-url", "", "override the host derived from the account (default $MLC_NETSUITE_BASE_URL)")
	f.StringVar(&in.Conn.Algorithm, "algorithm", "", "JWT algorithm (PS256/384/512, ES256/384/512); default from the key")
	f.StringArrayVar(&storeMap, "store-subsidiary", nil, "map a Commerce store code to a subsidiary id: store=id (repeatable)")
	f.StringArrayVar(&webMap, "website-subsidiary", nil, "map a Commerce website to a subsidiary id: website=id (repeatable)")
	f.StringVar(&in.Default, "default-subsidiary", "", "subsidiary id of stores with no mapping of their own")
	f.IntVar(&in.Concurrency, "concurrency", 0, "most concurrent NetSuite requests (default: min of governanceLimits and 2)")
	f.StringSliceVar(&in.ExtraStores, "stores", nil, "Commerce store codes to ask about besides the connected ones")
	return cmd
}

// parseMapping reads "key=id" pairs.
func parseMapping(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("%s %q: want name=subsidiary-id", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

// netsuiteConnectInput is what `mlc connect netsuite` verifies.
type netsuiteConnectInput struct {
	Conn        connection.NetSuite
	StoreMap    map[string]string
	WebsiteMap  map[string]string
	Default     string
	Concurrency int
	Stores      []string // connected Commerce stores
	ExtraStores []string // --stores
	// Prompt asks for a mapping; nil when stdin is not a terminal.
	Prompt subsidiaryPrompter
	// ClientOptions are added to the client (tests: an HTTP client).
	ClientOptions []netsuite.Option
}

// subsidiaryPrompter asks the operator which subsidiary a store maps to.
type subsidiaryPrompter interface {
	Ask(question string) (string, error)
	Println(s string)
}

type netsuiteConnectResult struct {
	AccountID        string                      `json:"account_id"`
	BaseURL          string                      `json:"base_url"`
	Algorithm        string                      `json:"algorithm"`
	CertificateID    string                      `json:"certificate_id"`
	OneWorld         bool                        `json:"one_world"`
	Subsidiaries     []netsuite.Subsidiary       `json:"subsidiaries"`
	Settings         connection.NetSuiteSettings `json:"settings"`
	Governance       *netsuite.GovernanceLimits  `json:"governance_limits,omitempty"`
	GovernanceNote   string                      `json:"governance_note,omitempty"`
	Concurrency      int                         `json:"concurrency"`
	SubsidiariesNote string                      `json:"subsidiaries_note,omitempty"`
}

// authHint follows a token failure: which of the operator's values each
// refusal points at.
const authHint = `hint: --client-id must be the integration record's client ID (NetSuite refuses another as "iss"),
      --cert-id the certificate ID listed for that integration under Setup > Integration > OAuth 2.0 Client
      Credentials (M2M) Setup (sent as "kid"), and --key-file the private key of exactly that certificate
      (a signature that does not verify means a different key). A wrong --account reaches another account's
      host, which knows neither; sandboxes need the _SB1 suffix.`

// verifyNetSuite checks the connection against the account and works out
// the settings. It stores nothing.
func verifyNetSuite(ctx context.Context, in netsuiteConnectInput) (netsuiteConnectResult, error) {
	var res netsuiteConnectResult
	if err := in.Conn.Validate(); err != nil {
		return res, err
	}
	client, err := in.Conn.Client(in.ClientOptions...)
	if err != nil {
		return res, err
	}
	res.AccountID, res.BaseURL, res.Algorithm, res.CertificateID = in.Conn.AccountID, client.BaseURL(), client.Algorithm(), in.Conn.CertificateID
	if err := client.Token(ctx); err != nil {
		switch {
		case errors.Is(err, netsuite.ErrAuthConfig):
			return res, fmt.Errorf("NetSuite refused the credentials: %w\n%s", err, authHint)
		case errors.Is(err, netsuite.ErrTransport):
			return res, fmt.Errorf("cannot reach NetSuite at %s: %w\nhint: check --account (or --base-url) and the network", client.BaseURL(), err)
		}
		return res, fmt.Errorf("obtain a token from %s: %w", client.TokenURL(), err)
	}

	subs, err := client.ListSubsidiaries(ctx)
	switch {
	case errors.Is(err, netsuite.ErrBadRequest):
		// How a non-OneWorld account answers is not documented; a refused
		// query is taken as "no subsidiaries".
		res.SubsidiariesNote = "the subsidiary query was refused (400): taken as not OneWorld"
		subs = nil
	case errors.Is(err, netsuite.ErrForbidden):
		return res, fmt.Errorf("%w\nhint: give the integration's role Lists > Subsidiaries (View) so mlc can read them", err)
	case err != nil:
		return res, err
	}
	res.Subsidiaries = subs
	res.OneWorld = len(subs) > 1
	names := map[string]string{}
	for _, s := range subs {
		names[s.ID] = s.Name
	}

	set := connection.NetSuiteSettings{OneWorld: res.OneWorld, Default: in.Default, ByStore: in.StoreMap, ByWebsite: in.WebsiteMap}
	if len(names) > 0 {
		set.SubsidiaryNames = names
	}
	noFlags := in.Default == "" && len(in.StoreMap) == 0 && len(in.WebsiteMap) == 0
	if res.OneWorld && noFlags {
		if in.Prompt == nil {
			return res, fmt.Errorf("NetSuite account %s is OneWorld: every record needs a subsidiary. Pass --default-subsidiary ID "+
				"and/or --store-subsidiary STORE=ID (or --website-subsidiary WEBSITE=ID), or run on a terminal to be asked.\n"+
				"Subsidiaries:\n%s", in.Conn.AccountID, subsidiaryList(subs))
		}
		if err := askMapping(in, subs, &set); err != nil {
			return res, err
		}
	}
	if err := checkMapped(set, subs); err != nil {
		return res, err
	}

	gl, err := client.GovernanceLimits(ctx)
	switch {
	case err == nil:
		res.Governance = &gl
		set.AccountConcurrencyLimit = gl.AccountConcurrencyLimit
	case errors.Is(err, netsuite.ErrForbidden):
		res.GovernanceNote = "governanceLimits is not readable by this role (403): using " + concurrencySource(in.Concurrency)
	default:
		res.GovernanceNote = fmt.Sprintf("governanceLimits could not be read (%v): using %s", err, concurrencySource(in.Concurrency))
	}
	res.Concurrency = netsuite.ConcurrencyFor(in.Concurrency, res.Governance)
	set.ConcurrencyLimit = res.Concurrency
	res.Settings = set
	return res, set.Validate()
}

func concurrencySource(setting int) string {
	if setting > 0 {
		return "--concurrency " + strconv.Itoa(setting)
	}
	return "the default of " + strconv.Itoa(netsuite.DefaultConcurrency)
}

func subsidiaryList(subs []netsuite.Subsidiary) string {
	var b strings.Builder
	for _, s := range subs {
		fmt.Fprintf(&b, "  %-6s %s", s.ID, s.Name)
		if s.Inactive {
			b.WriteString(" (inactive)")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkMapped refuses ids the account does not have, or inactive ones.
func checkMapped(set connection.NetSuiteSettings, subs []netsuite.Subsidiary) error {
	if len(subs) == 0 {
		return nil // not OneWorld or unreadable: nothing to check against
	}
	byID := map[string]netsuite.Subsidiary{}
	for _, s := range subs {
		byID[s.ID] = s
	}
	var errs []error
	for _, id := range set.MappedSubsidiaries() {
		s, ok := byID[id]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("subsidiary %q does not exist", id))
		case s.Inactive:
			errs = append(errs, fmt.Errorf("subsidiary %s (%s) is inactive", id, s.Name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w\nSubsidiaries:\n%s", err, subsidiaryList(subs))
	}
	return nil
}

// askMapping asks for each known store and a default.
func askMapping(in netsuiteConnectInput, subs []netsuite.Subsidiary, set *connection.NetSuiteSettings) error {
	p := in.Prompt
	p.Println("This NetSuite account is OneWorld. Subsidiaries:\n" + subsidiaryList(subs))
	valid := map[string]bool{}
	for _, s := range subs {
		if !s.Inactive {
			valid[s.ID] = true
		}
	}
	ask := func(q string, allowEmpty bool) (string, error) {
		for {
			a, err := p.Ask(q)
			if err != nil {
				return "", err
			}
			if (a == "" && allowEmpty) || valid[a] {
				return a, nil
			}
			p.Println(fmt.Sprintf("%q is not an active subsidiary id", a))
		}
	}
	stores := uniqueSorted(append(append([]string(nil), in.Stores...), in.ExtraStores...))
	for _, st := range stores {
		id, err := ask(fmt.Sprintf("Subsidiary id for Commerce store %q (Enter: use the default): ", st), true)
		if err != nil {
			return err
		}
		if id != "" {
			if set.ByStore == nil {
				set.ByStore = map[string]string{}
			}
			set.ByStore[st] = id
		}
	}
	id, err := ask("Default subsidiary id for any other store: ", len(set.ByStore) > 0)
	if err != nil {
		return err
	}
	set.Default = id
	return nil
}

func uniqueSorted(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if v != "" && (i == 0 || v != s[i-1]) {
			out = append(out, v)
		}
	}
	return out
}

// prompter reads answers line by line.
type prompter struct {
	in  *bufio.Reader
	out io.Writer
}

func (p *prompter) Ask(q string) (string, error) {
	fmt.Fprint(p.out, q)
	line, err := p.in.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", fmt.Errorf("read answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func (p *prompter) Println(s string) { fmt.Fprintln(p.out, s) }

func printNetSuiteSummary(w io.Writer, r netsuiteConnectResult) {
	yes := map[bool]string{true: "yes", false: "no"}
	rows := [][]string{
		{"SETTING", "VALUE"},
		{"account", r.AccountID},
		{"base URL", r.BaseURL},
		{"certificate ID", r.CertificateID},
		{"algorithm", r.Algorithm},
		{"token", "ok"},
		{"OneWorld", yes[r.OneWorld]},
	}
	var subs []string
	for _, s := range r.Subsidiaries {
		subs = append(subs, s.ID+" "+s.Name)
	}
	if len(subs) > 0 {
		rows = append(rows, []string{"subsidiaries", strings.Join(subs, ", ")})
	}
	name := func(id string) string {
		if n := r.Settings.SubsidiaryNames[id]; n != "" {
			return id + " (" + n + ")"
		}
		return id
	}
	if r.OneWorld {
		if r.Settings.Default != "" {
			rows = append(rows, []string{"default subsidiary", name(r.Settings.Default)})
		}
		for _, k := range sortedKeys(r.Settings.ByStore) {
			rows = append(rows, []string{"store " + k, name(r.Settings.ByStore[k])})
		}
		for _, k := range sortedKeys(r.Settings.ByWebsite) {
			rows = append(rows, []string{"website " + k, name(r.Settings.ByWebsite[k])})
		}
	}
	if g := r.Governance; g != nil {
		rows = append(rows, []string{"governance", fmt.Sprintf("account limit %d, unallocated %d, integration %d (%s)",
			g.AccountConcurrencyLimit, g.AccountUnallocatedConcurrencyLimit, g.IntegrationConcurrencyLimit, g.IntegrationLimitType)})
	}
	rows = append(rows, []string{"concurrency", strconv.Itoa(r.Concurrency)})
	printTable(w, rows)
	for _, n := range []string{r.SubsidiariesNote, r.GovernanceNote} {
		if n != "" {
			fmt.Fprintln(w, "note:", n)
		}
	}
	if !r.OneWorld && (r.Settings.Default != "" || len(r.Settings.ByStore) > 0 || len(r.Settings.ByWebsite) > 0) {
		fmt.Fprintln(w, "note: the account is not OneWorld; the subsidiary mapping is stored but not used")
	}
	fmt.Fprintf(w, "stored: credentials %q (encrypted, %s), settings %s/%s\n",
		connection.NetSuiteSecretName, secrets.Bucket, connection.SettingsBucket, connection.NetSuiteSettingsKey)
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
