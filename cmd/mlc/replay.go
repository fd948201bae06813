package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/ml-connector/ml-connector/pkg/audit"
	"github.com/ml-connector/ml-connector/pkg/event"
	"github.com/ml-connector/ml-connector/pkg/stream"
)

func newReplayCmd() *cobra.Command {
	var (
		subject, since, until string
		dryRun, force         bool
	)
	cmd := &cobra.Command{
		Use:   "replay [<key>]",
		Short: "Run records through the flow again: one by key, or a range of a subject",
		Long: `mlc replay <key> re-publishes the record's original Commerce event (read from
ClickHouse, or from the COMMERCE stream without it) with Mlc-Origin: replay and a
fresh message id, so transform maps it again (with today's settings) and the
NetSuite upsert by externalId keeps the record correct.

--force instead re-publishes the record's last NetSuite command of each kind with
its replay field set, so netsuite-writer writes it even when nothing changed
since the last successful write (a record edited by hand in NetSuite).

mlc replay --subject S --since T [--until T] re-drives every message stored on
subject S (NATS wildcards; COMMERCE, NETSUITE or INVENTORY) in the window;
earlier replays are left out. --dry-run counts and lists without publishing.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var sel replaySelection
			switch {
			case len(args) == 1 && subject != "":
				return errors.New("give a key or --subject, not both")
			case len(args) == 1:
				sel = replaySelection{key: strings.TrimSpace(args[0]), force: force}
				if sel.key == "" {
					return errors.New("empty key")
				}
			case subject != "":
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
					return errors.New("--since must be before --until")
				}
				sel = replaySelection{subject: subject, since: from, until: to, force: force}
			default:
				return errors.New("give a key, or --subject with --since")
			}
			return runReplay(cmd, sel, dryRun)
		},
	}
	addClickHouseFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&subject, "subject", "", "replay every message of this subject (wildcards allowed) in the window")
	f.StringVar(&since, "since", "24h", "with --subject: start of the window (duration back from now, or RFC 3339)")
	f.StringVar(&until, "until", "", "with --subject: end of the window (default now)")
	f.BoolVar(&dryRun, "dry-run", false, "count and list what would be replayed, publish nothing")
	f.BoolVar(&force, "force", false, "NetSuite commands are written even when unchanged since the last write")
	return cmd
}

type replaySelection struct {
	key          string
	subject      string
	since, until time.Time
	force        bool
}

// replayed is one message put back on its subject.
type replayed struct {
	Key       string `json:"key"`
	Stream    string `json:"stream"`
	Subject   string `json:"subject"`
	FromSeq   uint64 `json:"from_seq"`
	NewSeq    uint64 `json:"new_seq,omitempty"`
	EventID   string `json:"event_id,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

type replayResult struct {
	ReplayID string     `json:"replay_id"`
	Source   string     `json:"source"`
	Note     string     `json:"note,omitempty"`
	DryRun   bool       `json:"dry_run"`
	Count    int        `json:"count"`
	Messages []replayed `json:"messages"`
}

func runReplay(cmd *cobra.Command, sel replaySelection, dryRun bool) error {
	ctx := cmd.Context()
	nc, js, err := openJetStream(cmd)
	if err != nil {
		return err
	}
	defer nc.Close()
	res := replayResult{ReplayID: newReplayID(), DryRun: dryRun}
	store, why := openAudit(cmd)
	if store != nil {
		defer store.Close()
	}
	rows, err := selectReplay(cmd, js, store, why, sel, &res)
	if err != nil {
		return err
	}
	res.Count = len(rows)
	errOut := cmd.ErrOrStderr()
	if !jsonOutput(cmd) && res.Note != "" {
		fmt.Fprintln(errOut, res.Note)
	}
	if dryRun {
		for _, r := range rows {
			res.Messages = append(res.Messages, replayed{Key: r.Key, Stream: r.Stream, Subject: r.Subject, FromSeq: r.Seq})
		}
		return printReplay(cmd, res, fmt.Sprintf("dry run: would replay %d messages", len(rows)))
	}
	if !jsonOutput(cmd) {
		fmt.Fprintf(errOut, "replaying %d messages (replay %s)\n", len(rows), res.ReplayID)
	}
	bar := progressbar.NewOptions(len(rows), progressbar.OptionSetWriter(errOut), progressbar.OptionSetDescription("replay"),
		progressbar.OptionClearOnFinish(), progressbar.OptionSetVisibility(isTerminal(errOut) && len(rows) > 1))
	pub := stream.NewPublisher(js)
	failed := 0
	for start := 0; start < len(rows); start += bodyChunk {
		chunk := rows[start:min(start+bodyChunk, len(rows))]
		bodies, err := loadBodies(ctx, js, store, chunk)
		if err != nil {
			return err
		}
		for i, r := range chunk {
			rp := replayed{Key: r.Key, Stream: r.Stream, Subject: r.Subject, FromSeq: r.Seq}
			var out stream.Published
			err := bodies[i].err
			if err == nil {
				msgID := "replay:" + res.ReplayID + ":" + r.Stream + ":" + strconv.FormatUint(r.Seq, 10)
				out, err = republish(ctx, pub, bodies[i].row, msgID, res.ReplayID, sel.force)
			}
			if err != nil {
				rp.Error = err.Error()
				failed++
			} else {
				rp.NewSeq, rp.EventID, rp.Duplicate = out.Seq, out.EventID, out.Duplicate
			}
			res.Messages = append(res.Messages, rp)
			_ = bar.Add(1)
		}
	}
	_ = bar.Finish()
	summary := fmt.Sprintf("replayed %d of %d messages (replay %s)", len(rows)-failed, len(rows), res.ReplayID)
	if err := printReplay(cmd, res, summary); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d messages could not be replayed", failed, len(rows))
	}
	return nil
}

func printReplay(cmd *cobra.Command, res replayResult, summary string) error {
	if jsonOutput(cmd) {
		return printJSON(cmd.OutOrStdout(), res)
	}
	rows := [][]string{{"KEY", "STREAM", "SUBJECT", "FROM SEQ", "NEW SEQ", "RESULT"}}
	for _, m := range res.Messages {
		result := "would replay"
		switch {
		case m.Error != "":
			result = "error: " + oneLine(m.Error, 100)
		case m.Duplicate:
			result = "already replayed (duplicate id)"
		case !res.DryRun:
			result = "replayed"
		}
		rows = append(rows, []string{m.Key, m.Stream, m.Subject, strconv.FormatUint(m.FromSeq, 10), seqOrDash(m.NewSeq), result})
	}
	if len(res.Messages) > 0 {
		printTable(cmd.OutOrStdout(), rows)
	}
	fmt.Fprintln(cmd.OutOrStdout(), summary)
	return nil
}

func seqOrDash(n uint64) string {
	if n == 0 {
		return "-"
	}
	return strconv.FormatUint(n, 10)
}

// selectReplay finds the messages to replay, in ClickHouse when there is
// one (store), else on the stream. The rows come without bodies:
// loadBodies reads them a chunk at a time, so a long range does not sit in
// memory.
func selectReplay(cmd *cobra.Command, js jetstream.JetStream, store *audit.Store, why string, sel replaySelection, res *replayResult) ([]audit.Row, error) {
	ctx := cmd.Context()
	streamName, subject := event.StreamCommerce, sel.subject
	if sel.key != "" && sel.force {
		streamName = event.StreamNetSuite
	}
	if subject != "" {
		var err error
		if streamName, err = replayableStream(subject); err != nil {
			return nil, err
		}
	}
	var rows []audit.Row
	if store != nil {
		f := audit.Filter{Stream: streamName, Subject: subject, Since: sel.since, Until: sel.until, SkipOrigins: []string{event.OriginReplay}}
		if sel.key != "" {
			keys, err := store.Keys(ctx, sel.key)
			if err != nil {
				return nil, err
			}
			if len(keys) == 0 {
				return nil, fmt.Errorf("no record %q in the audit", sel.key)
			}
			f.Keys = keys
		}
		var err error
		if rows, err = store.Rows(ctx, f); err != nil {
			return nil, err
		}
		res.Source = "clickhouse"
	} else {
		res.Source = "jetstream"
		n, err := audit.ScanStream(ctx, js, streamName, audit.Scan{Subject: subject, Since: sel.since}, func(r audit.Row) error {
			if r.Origin == event.OriginReplay || (!sel.until.IsZero() && !r.Published.Before(sel.until)) {
				return nil
			}
			if sel.key != "" && !audit.KeyMatches(sel.key, r.Key) {
				return nil
			}
			r.Data = nil
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
		res.Note = fmt.Sprintf("%s: read the %s stream directly (%d messages)", why, streamName, n)
	}
	if sel.key != "" {
		var err error
		if rows, err = pickOriginals(sel, rows); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// bodyChunk is how many bodies loadBodies reads at once.
const bodyChunk = 200

type body struct {
	row audit.Row
	err error
}

// loadBodies reads the messages of rows with their bodies: from ClickHouse
// when there is one, from the stream when there is not, when ClickHouse's
// copy had a secret removed (it is not the message's bytes any more) or
// when ClickHouse lacks it.
func loadBodies(ctx context.Context, js jetstream.JetStream, store *audit.Store, rows []audit.Row) ([]body, error) {
	found := map[string]audit.Row{}
	if store != nil {
		byStream := map[string][]uint64{}
		for _, r := range rows {
			byStream[r.Stream] = append(byStream[r.Stream], r.Seq)
		}
		for name, seqs := range byStream {
			got, err := store.Rows(ctx, audit.Filter{Stream: name, Seqs: seqs, WithData: true})
			if err != nil {
				return nil, err
			}
			for _, r := range got {
				if !r.Redacted {
					found[r.Stream+"/"+strconv.FormatUint(r.Seq, 10)] = r
				}
			}
		}
	}
	out := make([]body, len(rows))
	for i, r := range rows {
		if full, ok := found[r.Stream+"/"+strconv.FormatUint(r.Seq, 10)]; ok {
			out[i] = body{row: full}
			continue
		}
		full, err := fromStream(ctx, js, r)
		if err != nil {
			err = fmt.Errorf("%s %d: not in the stream any more and no usable copy in ClickHouse: %w", r.Stream, r.Seq, err)
		}
		out[i] = body{row: full, err: err}
	}
	return out, nil
}

// pickOriginals keeps, for a key, the record's original Commerce fact (the
// first one stored), or with --force its last NetSuite command of each
// kind. A bare increment id that names several records is refused.
func pickOriginals(sel replaySelection, rows []audit.Row) ([]audit.Row, error) {
	if len(rows) == 0 {
		if sel.force {
			return nil, fmt.Errorf("no NetSuite command for %q yet: replay without --force to run it through transform", sel.key)
		}
		return nil, fmt.Errorf("no Commerce event for %q", sel.key)
	}
	keys := map[string]bool{}
	for _, r := range rows {
		keys[r.Key] = true
	}
	if len(keys) > 1 {
		var names []string
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("%q names %d records (%s): give one of them", sel.key, len(names), strings.Join(names, ", "))
	}
	audit.SortRows(rows)
	if !sel.force {
		return rows[:1], nil
	}
	last := map[string]audit.Row{}
	var subjects []string
	for _, r := range rows {
		if _, ok := last[r.Subject]; !ok {
			subjects = append(subjects, r.Subject)
		}
		last[r.Subject] = r
	}
	var out []audit.Row
	for _, s := range subjects {
		out = append(out, last[s])
	}
	return out, nil
}

// fromStream reads the message a row mirrors back from its stream.
func fromStream(ctx context.Context, js jetstream.JetStream, r audit.Row) (audit.Row, error) {
	st, err := js.Stream(ctx, r.Stream)
	if err != nil {
		return r, err
	}
	m, err := st.GetMsg(ctx, r.Seq)
	if err != nil {
		return r, err
	}
	stripDirectGet(m.Header)
	row := audit.FromMessage(audit.Meta{Stream: r.Stream, Seq: r.Seq, Published: m.Time}, m.Subject, m.Header, m.Data, time.Now())
	// FromMessage redacts again; replay needs the message as stored.
	row.Data, row.HeaderNames, row.HeaderValues = m.Data, nil, nil
	for k, vs := range m.Header {
		for _, v := range vs {
			row.HeaderNames, row.HeaderValues = append(row.HeaderNames, k), append(row.HeaderValues, v)
		}
	}
	return row, nil
}

// stripDirectGet removes the headers a direct get adds to a stored
// message (its stream, subject, sequence and time), which must not travel
// on with a republished copy.
func stripDirectGet(h nats.Header) {
	for _, k := range []string{jetstream.StreamHeader, jetstream.SubjectHeader, jetstream.SequenceHeader, jetstream.TimeStampHeaer, "Nats-Num-Pending", "Nats-Last-Sequence"} {
		h.Del(k)
	}
}

// replayableStream is the stream of a subject filter that may be replayed.
func replayableStream(subject string) (string, error) {
	prefixes := map[string]string{"commerce.": event.StreamCommerce, "netsuite.": event.StreamNetSuite, "inventory.": event.StreamInventory}
	for p, s := range prefixes {
		if strings.HasPrefix(subject, p) {
			return s, nil
		}
	}
	switch {
	case strings.HasPrefix(subject, "dlq."):
		return "", errors.New("dead letters go back with `mlc dlq retry`")
	case strings.HasPrefix(subject, "sync."):
		return "", errors.New("SYNC outcomes record what happened; there is nothing to replay")
	}
	return "", fmt.Errorf("subject %q is on no replayable stream (commerce.*, netsuite.*, inventory.*)", subject)
}

// storedMessage republishes a stored message's data as a new event: the
// same type, source, schema, key and data, a new CloudEvents id and the
// message id the caller chose.
type storedMessage struct {
	subject, key, typ, source, schema, msgID string
	data                                     []byte
}

func (m storedMessage) Subject() string       { return m.subject }
func (m storedMessage) MsgID() string         { return m.msgID }
func (m storedMessage) Key() string           { return m.key }
func (m storedMessage) Type() string          { return m.typ }
func (m storedMessage) Source() string        { return m.source }
func (m storedMessage) Schema() string        { return m.schema }
func (m storedMessage) Data() ([]byte, error) { return m.data, nil }

// republish puts r's message back on its subject with Mlc-Origin replay,
// caused by the original event. With force, a NetSuite command gets its
// Replay field, so the writer writes it even if unchanged.
func republish(ctx context.Context, pub *stream.Publisher, r audit.Row, msgID, replayID string, force bool) (stream.Published, error) {
	env, err := event.Decode(r.Data)
	if err != nil {
		return stream.Published{}, fmt.Errorf("%s %d is not a readable event: %w", r.Stream, r.Seq, err)
	}
	opts := []stream.PublishOption{stream.WithOrigin(event.OriginReplay), stream.CausedBy(stream.ParentOf(env, r.Headers())),
		stream.WithHeader(event.HeaderReplayOf, r.Stream+":"+strconv.FormatUint(r.Seq, 10))}
	if force && r.Stream == event.StreamNetSuite {
		c, _, err := event.DecodeNetSuiteCommand(r.Data)
		if err != nil {
			return stream.Published{}, fmt.Errorf("%s %d: %w", r.Stream, r.Seq, err)
		}
		c.Replay = replayID
		return pub.Publish(ctx, c, opts...)
	}
	key := r.Key
	if key == "" {
		key = env.Subject
	}
	m := storedMessage{subject: r.Subject, key: key, typ: env.Type, source: env.Source, schema: env.DataSchema, msgID: msgID, data: env.Data}
	return pub.Publish(ctx, m, opts...)
}

func newReplayID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}
