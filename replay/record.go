package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/event"
	"offpush/pipeline"
)

// invalidEvent is the offpush-reason of events that failed event.Decode (pipeline.InvalidEvent).
var invalidEvent = pipeline.InvalidEvent.String()

// record is a DLQ record with its headers read.
type record struct {
	msg      kafka.Message
	reason   string
	errText  string
	failedAt time.Time // offpush-failed-at, else the record timestamp
	replays  int
	ev       *event.Message // nil when the value is not a valid event
}

func parse(m kafka.Message) record {
	r := record{
		msg:      m,
		reason:   header(m.Headers, pipeline.HeaderReason),
		errText:  header(m.Headers, pipeline.HeaderError),
		failedAt: m.Time,
		replays:  pipeline.Replays(m.Headers),
	}
	if t, err := time.Parse(time.RFC3339Nano, header(m.Headers, pipeline.HeaderFailedAt)); err == nil {
		r.failedAt = t
	}
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

func header(hs []kafka.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
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
	case r.reason == "":
		return invalid
	case len(f.reasons) == 0 && r.reason == invalidEvent:
		return refused
	case len(f.reasons) > 0 && !slices.Contains(f.reasons, r.reason):
		return filtered
	case !f.since.IsZero() && r.failedAt.Before(f.since):
		return filtered
	case !f.until.IsZero() && !r.failedAt.Before(f.until):
		return filtered
	case f.maxAge > 0 && r.failedAt.Before(f.now().Add(-f.maxAge)):
		return tooOld
	case r.ev == nil && r.reason != invalidEvent:
		return invalid
	case len(f.users) > 0 && !slices.Contains(f.users, r.user()):
		return filtered
	}
	return replay
}

// republished is the event r holds as the events topic gets it back: same key and value,
// offpush-replays incremented, the traceparent kept and no other header.
func republished(r record) kafka.Message {
	h := []kafka.Header{{Key: pipeline.HeaderReplays, Value: []byte(strconv.Itoa(r.replays + 1))}}
	if tp := header(r.msg.Headers, pipeline.HeaderTraceparent); tp != "" {
		h = append(h, kafka.Header{Key: pipeline.HeaderTraceparent, Value: []byte(tp)})
	}
	return kafka.Message{Key: r.msg.Key, Value: r.msg.Value, Headers: h}
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
	ev := json.RawMessage(r.msg.Value)
	if !json.Valid(ev) {
		ev, _ = json.Marshal(string(r.msg.Value)) // a string never fails to encode
	}
	b, err := json.Marshal(dryLine{
		Offset: r.msg.Offset, Partition: r.msg.Partition, Reason: r.reason, Error: r.errText,
		User: r.user(), FailedAt: r.failedAt, Replays: r.replays, Event: ev,
	})
	if err != nil {
		return fmt.Errorf("encode dry-run line of offset %d/%d: %w", r.msg.Partition, r.msg.Offset, err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write dry-run line: %w", err)
	}
	return nil
}
