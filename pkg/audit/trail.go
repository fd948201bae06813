package audit

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ml-connector/ml-connector/pkg/event"
)

// SortRows orders rows as a timeline: JetStream timestamp, then the flow
// order of the streams, then sequence.
func SortRows(rows []Row) {
	rank := map[string]int{}
	for i, s := range event.Streams() {
		rank[s] = i
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if !a.Published.Equal(b.Published) {
			return a.Published.Before(b.Published)
		}
		if a.Stream != b.Stream {
			return rank[a.Stream] < rank[b.Stream]
		}
		return a.Seq < b.Seq
	})
}

// Step names what a row is in a record's story: "received (webhook)",
// "transformed", "netsuite ok", "dead-lettered", "replayed", ...
func (r Row) Step() string {
	replay := r.Origin == event.OriginReplay
	switch r.Stream {
	case event.StreamCommerce:
		if replay {
			return "replayed"
		}
		if r.Origin != "" {
			return "received (" + r.Origin + ")"
		}
		return "received"
	case event.StreamNetSuite:
		switch {
		case r.Header(event.HeaderReplayOf) != "":
			return "command replayed" // mlc replay --force, or a retried letter
		case replay:
			return "transformed (replay)"
		}
		return "transformed"
	case event.StreamSync:
		if r.Status == StatusInvalid {
			return "outcome (unreadable)"
		}
		target := "netsuite"
		if strings.HasSuffix(r.Subject, "."+event.KindInventory) {
			target = "commerce"
		}
		return target + " " + r.Status
	case event.StreamInventory:
		return "inventory change"
	case event.StreamDLQ:
		switch r.Status {
		case event.DLQRetry:
			return "dlq retry"
		case event.DLQResolve:
			return "dlq resolved"
		}
		return "dead-lettered"
	}
	return strings.ToLower(r.Stream)
}

// Detail says the essentials of a row in one line: the NetSuite id, the
// attempt and its time, the error, the dead letter's reason.
func (r Row) Detail() string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	switch {
	case r.Stream == event.StreamSync:
		if r.InternalID != "" {
			add("internal id %s", r.InternalID)
		}
		if r.Attempts > 0 {
			add("attempt %d", r.Attempts)
		}
		if r.DurationMS > 0 {
			add("%d ms", r.DurationMS)
		}
		if r.ErrorCode != "" {
			add("%s", r.ErrorCode)
		}
		if r.Error != "" {
			add("%s", r.Error)
		}
	case r.Stream == event.StreamDLQ && (r.Status == event.DLQRetry || r.Status == event.DLQResolve):
		add("letter %d by %s", r.OrigSeq, r.Consumer)
		if r.Error != "" {
			add("%q", r.Error)
		}
	case r.Stream == event.StreamDLQ:
		add("by %s after %s", r.Consumer, plural(int(r.Attempts), "attempt"))
		if r.Error != "" {
			add("%s", r.Error)
		}
	default:
		add("%s", r.EventType)
		if r.Status == StatusInvalid {
			add("unreadable: %s", r.Error)
		}
	}
	if of := r.Header(event.HeaderReplayOf); of != "" && r.Stream != event.StreamDLQ {
		add("again of %s", strings.Replace(of, ":", " ", 1))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
