package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/dlq"
	"offpush/event"
)

// invalidEvent is the offpush-reason of events that failed event.Decode.
var invalidEvent = dlq.InvalidEvent.String()

// record is a dead-letter record with its headers read and its value decoded.
type record struct {
	dlq.Record
	ev *event.Message // nil when the value is not a valid event
}

func parse(m kafka.Message) record {
	r := record{Record: dlq.Parse(m)}
	r.ev, _ = event.Decode(m.Value)
	return r
}

// user is the recipient of the narrowed event, "" when the value is not a valid event.
func (r record) user() string {
	if r.ev == nil || len(r.ev.Recipients) == 0 {
		return ""
	}
	return r.ev.Recipients[0]
}

// verdict is what a run does with a record.
type verdict uint8

const (
	replay   verdict = iota // re-publish it
	filtered                // not selected by the filters
	refused                 // an invalid_event record, not explicitly selected
	tooOld                  // failed before now - MaxAge
	invalid                 // not an offpush dead letter, or its value is not a valid event
)

// tally counts v in s.
func (s *Summary) tally(v verdict) {
	s.Read++
	switch v {
	case replay:
		s.Replayed++
	case filtered:
		s.SkippedFilter++
	case refused:
		s.SkippedFilter++
		s.Refused++
	case tooOld:
		s.SkippedTooOld++
	case invalid:
		s.Invalid++
	}
}

// filter selects records by the options of a run.
type filter struct {
	reasons      []string
	users        []string
	since, until time.Time
	maxAge       time.Duration
	now          func() time.Time
}

func newFilter(o Options) filter {
	return filter{reasons: o.Reasons, users: o.Users, since: o.Since, until: o.Until, maxAge: o.MaxAge, now: o.Now}
}

// classify applies the filters in the order of the package comment.
func (f filter) classify(r record) verdict {
	switch {
	case r.Reason == "":
		return invalid
	case len(f.reasons) == 0 && r.Reason == invalidEvent:
		return refused
	case len(f.reasons) > 0 && !slices.Contains(f.reasons, r.Reason):
		return filtered
	case !f.since.IsZero() && r.FailedAt.Before(f.since):
		return filtered
	case !f.until.IsZero() && !r.FailedAt.Before(f.until):
		return filtered
	case f.maxAge > 0 && r.FailedAt.Before(f.now().Add(-f.maxAge)):
		return tooOld
	case r.ev == nil && r.Reason != invalidEvent:
		return invalid
	case len(f.users) > 0 && !slices.Contains(f.users, r.user()):
		return filtered
	}
	return replay
}

// dryLine is the JSON line --dry-run prints for a record it would replay. Replays is the
// record's offpush-replays (the replay would carry one more); Event is the value, as JSON when
// it is JSON, else as a string.
type dryLine struct {
	Offset    int64           `json:"offset"`
	Partition int             `json:"partition"`
	Reason    string          `json:"reason"`
	Error     string          `json:"error"`
	User      string          `json:"user"`
	FailedAt  time.Time       `json:"failedAt"`
	Replays   int             `json:"replays"`
	Event     json.RawMessage `json:"event"`
}

// printDry writes the dry-run line of r to w.
func printDry(w io.Writer, r record) error {
	ev := json.RawMessage(r.Msg.Value)
	if !json.Valid(ev) {
		ev, _ = json.Marshal(string(r.Msg.Value)) // a string never fails to encode
	}
	b, err := json.Marshal(dryLine{
		Offset: r.Msg.Offset, Partition: r.Msg.Partition, Reason: r.Reason, Error: r.Error,
		User: r.user(), FailedAt: r.FailedAt, Replays: r.Replays, Event: ev,
	})
	if err != nil {
		return fmt.Errorf("encode dry-run line of offset %d/%d: %w", r.Msg.Partition, r.Msg.Offset, err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write dry-run line: %w", err)
	}
	return nil
}
