package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

// Letter states: open until an action names the letter.
const (
	letterOpen     = "open"
	letterRetried  = "retried"
	letterResolved = "resolved"
)

// letter is one dead letter and what was done with it.
type letter struct {
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Subject  string    `json:"subject"` // the original subject
	Key      string    `json:"key,omitempty"`
	Stream   string    `json:"stream,omitempty"` // the original stream and sequence
	OrigSeq  uint64    `json:"orig_seq,omitempty"`
	Consumer string    `json:"consumer,omitempty"`
	Attempts uint32    `json:"attempts,omitempty"`
	Reason   string    `json:"reason"`
	State    string    `json:"state"`
	// ActionBy, ActionAt and Note describe the retry or resolve.
	ActionBy string    `json:"action_by,omitempty"`
	ActionAt time.Time `json:"action_at,omitzero"`
	Note     string    `json:"note,omitempty"`
}

// letterFilter selects letters; zero fields select all.
type letterFilter struct {
	subject, key, reason, consumer string
	all                            bool // closed letters too
}

func (f *letterFilter) flags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.subject, "subject", "", "original subject (NATS wildcards), e.g. commerce.order.placed.*")
	fl.StringVar(&f.key, "key", "", "business key, or a bare increment id")
	fl.StringVar(&f.reason, "reason", "", "text the reason contains (any case)")
	fl.StringVar(&f.consumer, "consumer", "", "durable that gave up (transform, netsuite-writer, commerce-writer)")
}

func (f letterFilter) match(l letter) bool {
	switch {
	case !f.all && l.State != letterOpen:
		return false
	case f.subject != "" && !subjectMatches(f.subject, l.Subject):
		return false
	case f.key != "" && !audit.KeyMatches(f.key, l.Key):
		return false
	case f.reason != "" && !strings.Contains(strings.ToLower(l.Reason), strings.ToLower(f.reason)):
		return false
	case f.consumer != "" && f.consumer != l.Consumer:
		return false
	}
	return true
}

func (f letterFilter) empty() bool {
	return f.subject == "" && f.key == "" && f.reason == "" && f.consumer == ""
}

func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Dead letters: list, show, retry after a fix, resolve",
		Long: `A dead letter is a message a service gave up on, with the reason a person has to
act on. Letters stay in the DLQ stream; retry and resolve record an action there
(itself in the audit trail), after which the letter no longer counts as open.`,
	}
	cmd.AddCommand(newDLQListCmd(), newDLQShowCmd(), newDLQRetryCmd(), newDLQResolveCmd())
	return cmd
}

func newDLQListCmd() *cobra.Command {
	var f letterFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Open dead letters with their reasons (--all: retried and resolved ones too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := openJetStream(cmd)
			if err != nil {
				return err
			}
			defer nc.Close()
			letters, err := loadLetters(cmd.Context(), js)
			if err != nil {
				return err
			}
			var sel []letter
			for _, l := range letters {
				if f.match(l) {
					sel = append(sel, l)
				}
			}
			if jsonOutput(cmd) {
				if sel == nil {
					sel = []letter{}
				}
				return printJSON(cmd.OutOrStdout(), sel)
			}
			out := cmd.OutOrStdout()
			if len(sel) == 0 {
				fmt.Fprintln(out, "no dead letters match")
				return nil
			}
			rows := [][]string{{"SEQ", "AGE", "SUBJECT", "KEY", "CONSUMER", "ATTEMPTS", "STATE", "REASON"}}
			now := time.Now()
			for _, l := range sel {
				rows = append(rows, []string{strconv.FormatUint(l.Seq, 10), age(now.Sub(l.At)), l.Subject, dash(l.Key), dash(l.Consumer),
					strconv.FormatUint(uint64(l.Attempts), 10), l.State, oneLine(l.Reason, 100)})
			}
			printTable(out, rows)
			return nil
		},
	}
	f.flags(cmd)
	cmd.Flags().BoolVar(&f.all, "all", false, "include retried and resolved letters")
	return cmd
}

func newDLQShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show <seq>",
		Short: "One dead letter in full: reason, headers and the original body",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := parseSeq(args[0])
			if err != nil {
				return err
			}
			nc, js, err := openJetStream(cmd)
			if err != nil {
				return err
			}
			defer nc.Close()
			letters, err := loadLetters(cmd.Context(), js)
			if err != nil {
				return err
			}
			l, ok := findLetter(letters, seq)
			if !ok {
				return fmt.Errorf("no dead letter with sequence %d in %s", seq, event.StreamDLQ)
			}
			row, err := fromStream(cmd.Context(), js, audit.Row{Stream: event.StreamDLQ, Seq: seq})
			if err != nil {
				return err
			}
			// Shown to a person: the same redaction as the audit.
			shown := audit.FromMessage(audit.Meta{Stream: event.StreamDLQ, Seq: seq, Published: row.Published}, row.Subject, row.Headers(), row.Data, time.Now())
			if jsonOutput(cmd) {
				return printJSON(cmd.OutOrStdout(), struct {
					letter
					Headers map[string][]string `json:"headers"`
					Body    string              `json:"body"`
				}{l, shown.Headers(), string(shown.Data)})
			}
			out := cmd.OutOrStdout()
			rows := [][]string{{"letter", strconv.FormatUint(l.Seq, 10)}, {"state", l.State}, {"dead-lettered", l.At.UTC().Format(time.RFC3339)},
				{"subject", l.Subject}, {"key", dash(l.Key)}, {"original", fmt.Sprintf("%s %d", l.Stream, l.OrigSeq)}, {"consumer", dash(l.Consumer)},
				{"attempts", strconv.FormatUint(uint64(l.Attempts), 10)}, {"reason", l.Reason}}
			if l.State != letterOpen {
				rows = append(rows, []string{l.State, fmt.Sprintf("%s by %s %s", l.ActionAt.UTC().Format(time.RFC3339), l.ActionBy, l.Note)})
			}
			for i := range rows {
				rows[i][0] += ":"
			}
			printTable(out, rows)
			fmt.Fprintln(out, "\nheaders:")
			var hrows [][]string
			for i, n := range shown.HeaderNames {
				hrows = append(hrows, []string{"  " + n + ":", shown.HeaderValues[i]})
			}
			printTable(out, hrows)
			fmt.Fprintf(out, "\nbody (%d bytes):\n%s\n", len(shown.Data), shown.Data)
			return nil
		},
	}
}

func newDLQRetryCmd() *cobra.Command {
	var (
		f          letterFilter
		allMatches bool
		dryRun     bool
		note, as   string
	)
	cmd := &cobra.Command{
		Use:   "retry [<seq>...]",
		Short: "Put dead letters back on their subject (after fixing what the reason says)",
		Long: `Republishes each letter's original message on its original subject, with
Mlc-Origin: replay and a message id derived from the letter, so the service that
gave up tries again; a letter is retried once (a second retry is refused, and a
repeated publish is dropped by the stream). If it fails again, a new letter
appears. Give sequences, or --all-matching with filters (--dry-run counts first).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return dlqAct(cmd, event.DLQRetry, args, f, allMatches, dryRun, note, as)
		},
	}
	f.flags(cmd)
	cmd.Flags().BoolVar(&allMatches, "all-matching", false, "retry every open letter the filters select")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be retried, publish nothing")
	cmd.Flags().StringVar(&note, "note", "", "why (recorded with the action)")
	cmd.Flags().StringVar(&as, "as", "", "operator name recorded with the action (default user@host)")
	return cmd
}

func newDLQResolveCmd() *cobra.Command {
	var (
		f          letterFilter
		allMatches bool
		dryRun     bool
		note, as   string
	)
	cmd := &cobra.Command{
		Use:   "resolve [<seq>...]",
		Short: "Mark dead letters resolved without retrying (fixed by hand, or not to be synced)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return dlqAct(cmd, event.DLQResolve, args, f, allMatches, dryRun, note, as)
		},
	}
	f.flags(cmd)
	cmd.Flags().BoolVar(&allMatches, "all-matching", false, "resolve every open letter the filters select")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be resolved, record nothing")
	cmd.Flags().StringVar(&note, "note", "", "why (recorded with the action)")
	cmd.Flags().StringVar(&as, "as", "", "operator name recorded with the action (default user@host)")
	return cmd
}

// dlqResult is what one retry or resolve did to one letter.
type dlqResult struct {
	Seq     uint64 `json:"seq"`
	Key     string `json:"key,omitempty"`
	Subject string `json:"subject"`
	Result  string `json:"result"` // retried, resolved, skipped, error, would retry, would resolve
	Detail  string `json:"detail,omitempty"`
	NewSeq  uint64 `json:"new_seq,omitempty"`
}

func dlqAct(cmd *cobra.Command, action string, args []string, f letterFilter, allMatches, dryRun bool, note, as string) error {
	if (len(args) > 0) == allMatches {
		return errors.New("give letter sequences, or --all-matching with filters")
	}
	if allMatches && f.empty() && action == event.DLQResolve {
		return errors.New("resolve --all-matching needs a filter (--subject, --key, --reason or --consumer)")
	}
	var seqs []uint64
	for _, a := range args {
		seq, err := parseSeq(a)
		if err != nil {
			return err
		}
		seqs = append(seqs, seq)
	}
	operator := as
	if operator == "" {
		operator = defaultOperator()
	}
	ctx := cmd.Context()
	nc, js, err := openJetStream(cmd)
	if err != nil {
		return err
	}
	defer nc.Close()
	letters, err := loadLetters(ctx, js)
	if err != nil {
		return err
	}
	var targets []letter
	var results []dlqResult
	failed := 0
	if allMatches {
		for _, l := range letters {
			if f.match(l) {
				targets = append(targets, l)
			}
		}
	} else {
		for _, seq := range seqs {
			l, ok := findLetter(letters, seq)
			if !ok {
				results = append(results, dlqResult{Seq: seq, Result: "error", Detail: "no such dead letter"})
				failed++
				continue
			}
			targets = append(targets, l)
		}
	}
	pub := stream.NewPublisher(js)
	for _, l := range targets {
		r := dlqResult{Seq: l.Seq, Key: l.Key, Subject: l.Subject}
		switch {
		case l.State != letterOpen:
			r.Result, r.Detail = "skipped", fmt.Sprintf("already %s by %s at %s", l.State, l.ActionBy, l.ActionAt.UTC().Format(time.RFC3339))
		case dryRun:
			r.Result = "would " + action
		default:
			newSeq, err := actOn(ctx, js, pub, action, l, note, operator)
			if err != nil {
				r.Result, r.Detail = "error", err.Error()
				failed++
			} else {
				r.Result, r.NewSeq = map[string]string{event.DLQRetry: "retried", event.DLQResolve: "resolved"}[action], newSeq
			}
		}
		results = append(results, r)
	}
	if jsonOutput(cmd) {
		if results == nil {
			results = []dlqResult{}
		}
		if err := printJSON(cmd.OutOrStdout(), results); err != nil {
			return err
		}
	} else if len(results) == 0 {
		fmt.Fprintln(cmd.OutOrStdout(), "no open dead letters match")
	} else {
		rows := [][]string{{"SEQ", "KEY", "SUBJECT", "RESULT", "DETAIL"}}
		for _, r := range results {
			detail := r.Detail
			if r.NewSeq > 0 {
				detail = "republished as seq " + strconv.FormatUint(r.NewSeq, 10)
			}
			rows = append(rows, []string{strconv.FormatUint(r.Seq, 10), dash(r.Key), r.Subject, r.Result, oneLine(detail, 100)})
		}
		printTable(cmd.OutOrStdout(), rows)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d letters failed", failed, len(results))
	}
	return nil
}

// actOn retries or resolves one open letter and records the action. A
// retry returns the sequence of the republished message.
func actOn(ctx context.Context, js jetstream.JetStream, pub *stream.Publisher, action string, l letter, note, operator string) (uint64, error) {
	a := event.DLQAction{Action: action, LetterSeq: l.Seq, LetterSubject: event.DLQSubject(l.Subject), BusinessKey: l.Key,
		Note: note, Operator: operator, At: time.Now().UTC()}
	if action == event.DLQRetry {
		raw, err := fromStream(ctx, js, audit.Row{Stream: event.StreamDLQ, Seq: l.Seq})
		if err != nil {
			return 0, err
		}
		d, err := event.ReadDeadLetter(raw.Subject, raw.Headers(), raw.Data)
		if err != nil {
			return 0, err
		}
		orig := audit.Row{Stream: d.Stream, Seq: d.Seq, Subject: d.Subject, Key: d.Header.Get(event.HeaderKey), Data: d.Data}
		for k, vs := range d.Header {
			for _, v := range vs {
				orig.HeaderNames, orig.HeaderValues = append(orig.HeaderNames, k), append(orig.HeaderValues, v)
			}
		}
		msgID := fmt.Sprintf("dlq.retry:%d:%s:%d", l.Seq, d.Stream, d.Seq)
		p, err := republish(ctx, pub, orig, msgID, "", false)
		if err != nil {
			return 0, err
		}
		a.RepublishedStream, a.RepublishedSeq = p.Stream, p.Seq
	}
	if _, err := pub.Publish(ctx, a); err != nil {
		return a.RepublishedSeq, fmt.Errorf("record the %s: %w", action, err)
	}
	return a.RepublishedSeq, nil
}

// loadLetters reads the DLQ stream: its letters and the actions on them.
func loadLetters(ctx context.Context, js jetstream.JetStream) ([]letter, error) {
	var letters []letter
	actions := map[uint64]audit.Row{}
	_, err := audit.ScanStream(ctx, js, event.StreamDLQ, audit.Scan{}, func(r audit.Row) error {
		if event.IsDLQAction(r.Subject) {
			if r.Status == event.DLQRetry || r.Status == event.DLQResolve {
				if _, seen := actions[r.OrigSeq]; !seen {
					actions[r.OrigSeq] = r
				}
			}
			return nil
		}
		orig, _ := event.OriginalSubject(r.Subject)
		letters = append(letters, letter{Seq: r.Seq, At: r.Published, Subject: orig, Key: r.Key, Stream: r.OrigStream, OrigSeq: r.OrigSeq,
			Consumer: r.Consumer, Attempts: r.Attempts, Reason: r.Error, State: letterOpen})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range letters {
		if a, ok := actions[letters[i].Seq]; ok {
			letters[i].State = map[string]string{event.DLQRetry: letterRetried, event.DLQResolve: letterResolved}[a.Status]
			letters[i].ActionBy, letters[i].ActionAt, letters[i].Note = a.Consumer, a.Published, a.Error
		}
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i].Seq < letters[j].Seq })
	return letters, nil
}

func findLetter(letters []letter, seq uint64) (letter, bool) {
	for _, l := range letters {
		if l.Seq == seq {
			return l, true
		}
	}
	return letter{}, false
}

func parseSeq(s string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a letter sequence (the SEQ column of mlc dlq list)", s)
	}
	return n, nil
}

// subjectMatches is NATS subject matching: '*' one token, '>' the rest.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" && i == len(ft)-1 {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

func defaultOperator() string {
	user := os.Getenv("USER")
	if user == "" {
		user = "unknown"
	}
	host, _ := os.Hostname()
	if host == "" {
		return user
	}
	return user + "@" + host
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
