package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit trail: a record's story, counts and timings"}
	addClickHouseFlag(cmd)
	cmd.AddCommand(newAuditTrailCmd(), newAuditStatsCmd())
	return cmd
}

// addClickHouseFlag adds --clickhouse (default $MLC_CLICKHOUSE_DSN) to a
// command group.
func addClickHouseFlag(cmd *cobra.Command) {
	cmd.PersistentFlags().String("clickhouse", "", "ClickHouse DSN (default $MLC_CLICKHOUSE_DSN); without one, read JetStream directly")
}

// chTimeout bounds opening ClickHouse: a CLI waits seconds, not minutes.
const chTimeout = 5 * time.Second

// openAudit opens the audit store, or says why there is none: no DSN, or
// the server does not answer. Callers that can read JetStream instead do so
// and print the reason.
func openAudit(cmd *cobra.Command) (*audit.Store, string) {
	dsn, _ := cmd.Flags().GetString("clickhouse")
	if dsn == "" {
		dsn = os.Getenv("MLC_CLICKHOUSE_DSN")
	}
	if dsn == "" {
		return nil, "no ClickHouse configured (MLC_CLICKHOUSE_DSN or --clickhouse)"
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), chTimeout)
	defer cancel()
	s, err := audit.Open(ctx, dsn)
	if err != nil {
		return nil, "ClickHouse unavailable: " + err.Error()
	}
	return s, ""
}

// openJetStream connects to NATS for the audit, replay and DLQ commands.
func openJetStream(cmd *cobra.Command) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := stream.Connect(natsURL(cmd), os.Getenv("MLC_NATS_CREDS"), "mlc-cli", zerolog.Nop())
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), lookupTimeout)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream at %s: %w", natsURL(cmd), err)
	}
	return nc, js, nil
}

// trailEvent is one line of a trail: the row with its step and detail.
type trailEvent struct {
	audit.Row
	Step   string `json:"step"`
	Detail string `json:"detail"`
}

type trailResult struct {
	Key    string       `json:"key"`
	Source string       `json:"source"` // clickhouse | jetstream
	Note   string       `json:"note,omitempty"`
	Events []trailEvent `json:"events"`
}

func newAuditTrailCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "trail <key>",
		Short: "The story of one record across every stream: received, transformed, each NetSuite attempt, DLQ, replays",
		Long: `Prints every event of one record in time order. <key> is a business key such as
order:default:000000042 or a bare increment id (000000042), which matches every
record of any store with that id (orders and invoices number separately).

The events come from ClickHouse. Without it (no MLC_CLICKHOUSE_DSN, or the server
does not answer) every stream is read directly instead, which suits a dev machine.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := strings.TrimSpace(args[0])
			if ref == "" {
				return errors.New("give a business key (order:<store>:<increment id>) or an increment id")
			}
			res, err := loadTrail(cmd, ref)
			if err != nil {
				return err
			}
			if len(res.Events) == 0 {
				if res.Note != "" {
					return fmt.Errorf("no events for %q (%s)", ref, res.Note)
				}
				return fmt.Errorf("no events for %q", ref)
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), res)
			}
			out := cmd.OutOrStdout()
			if res.Note != "" {
				fmt.Fprintln(out, res.Note)
			}
			printTrail(out, res.Events)
			return nil
		},
	}
}

func loadTrail(cmd *cobra.Command, ref string) (trailResult, error) {
	res := trailResult{Key: ref}
	var rows []audit.Row
	if s, why := openAudit(cmd); s != nil {
		defer s.Close()
		var err error
		if rows, err = s.Trail(cmd.Context(), ref); err != nil {
			return res, err
		}
		res.Source = "clickhouse"
	} else {
		nc, js, err := openJetStream(cmd)
		if err != nil {
			return res, fmt.Errorf("%s, and %w", why, err)
		}
		defer nc.Close()
		var scanned int
		if rows, scanned, err = audit.TrailFromStreams(cmd.Context(), js, ref); err != nil {
			return res, err
		}
		res.Source = "jetstream"
		res.Note = fmt.Sprintf("%s: read the JetStream streams directly (%d messages)", why, scanned)
	}
	for _, r := range rows {
		r.Data = nil
		res.Events = append(res.Events, trailEvent{Row: r, Step: r.Step(), Detail: r.Detail()})
	}
	return res, nil
}

func printTrail(w io.Writer, events []trailEvent) {
	keys := map[string]bool{}
	for _, e := range events {
		keys[e.Key] = true
	}
	header := []string{"TIME (UTC)", "STREAM", "SEQ", "STEP", "ORIGIN", "DETAIL"}
	if len(keys) > 1 {
		header = append([]string{"KEY"}, header...)
	}
	rows := [][]string{header}
	for _, e := range events {
		r := []string{e.Published.UTC().Format("2006-01-02 15:04:05.000"), e.Stream, strconv.FormatUint(e.Seq, 10), e.Step, dash(e.Origin), oneLine(e.Detail, 120)}
		if len(keys) > 1 {
			r = append([]string{e.Key}, r...)
		}
		rows = append(rows, r)
	}
	printTable(w, rows)
}

func newAuditStatsCmd() *cobra.Command {
	var since, until string
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Counts by event type and outcome, and webhook to NetSuite record time (p50/p95)",
		Long: `Counts the messages stored in a time window by stream, type and status, and
measures for each record the time from its webhook (the CloudEvents time ingest
set) to its first successful NetSuite write (the SYNC outcome's time). Needs
ClickHouse. --since and --until take a duration back from now (24h, 7d, 90m) or
an RFC 3339 time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			from, err := parseTimeFlag(since, now)
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			to := now
			if until != "" {
				if to, err = parseTimeFlag(until, now); err != nil {
					return fmt.Errorf("--until: %w", err)
				}
			}
			if !from.Before(to) {
				return fmt.Errorf("--since %s is not before --until %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
			}
			s, why := openAudit(cmd)
			if s == nil {
				return fmt.Errorf("audit stats needs ClickHouse: %s", why)
			}
			defer s.Close()
			st, err := s.Stats(cmd.Context(), from, to)
			if err != nil {
				return err
			}
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), st)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "from %s to %s (UTC)\n\n", st.Since.Format("2006-01-02 15:04:05"), st.Until.Format("2006-01-02 15:04:05"))
			rows := [][]string{{"STREAM", "TYPE", "STATUS", "MESSAGES"}}
			for _, c := range st.Counts {
				rows = append(rows, []string{c.Stream, dash(c.EventType), dash(c.Status), strconv.FormatUint(c.Messages, 10)})
			}
			printTable(out, rows)
			fmt.Fprintln(out)
			rows = [][]string{{"WEBHOOK -> NETSUITE", "RECORDS", "P50", "P95"}}
			for _, l := range st.ToNS {
				rows = append(rows, []string{l.Entity, strconv.FormatUint(l.Records, 10), l.P50.Round(time.Millisecond).String(), l.P95.Round(time.Millisecond).String()})
			}
			if len(st.ToNS) == 0 {
				rows = append(rows, []string{"(no record went from webhook to NetSuite in this window)", "", "", ""})
			}
			printTable(out, rows)
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "24h", "start of the window: a duration back from now (24h, 7d) or an RFC 3339 time")
	cmd.Flags().StringVar(&until, "until", "", "end of the window (default now)")
	return cmd
}

// parseTimeFlag reads "24h", "90m", "7d" (back from now) or an RFC 3339 time.
func parseTimeFlag(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return time.Time{}, fmt.Errorf("%q: want a number of days such as 7d", s)
		}
		return now.AddDate(0, 0, -n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q: want a duration (24h, 90m, 7d) or an RFC 3339 time", s)
	}
	return now.Add(-d), nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a table cell on one line and at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
