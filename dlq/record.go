// Package dlq is offpush's dead-letter record: what the worker writes to the dead-letter topic
// for an event or a push it could not deliver, and how offpush replay (or an on-call engineer's
// tool) reads it back. Both sides use this package, so the record has one definition.
//
// A record's key is the original event's key (its conversation). Its value is the event: for a
// push that failed, the decoded event narrowed to the one recipient (recipients holds that
// user alone); for an event that could not be decoded (reason invalid_event), the original
// bytes as published. Its headers:
//
//	offpush-reason     why: invalid_event, apns_retry_exhausted, apns_rejected, payload_too_large,
//	                   unknown_certificate, … (the worker's Failure names)
//	offpush-error      the last error, in words (never a secret)
//	offpush-attempts   APNs requests made for the push (0 for an event that never reached APNs)
//	offpush-source     topic/partition/offset of the original event
//	offpush-failed-at  when the worker gave up, RFC 3339 with nanoseconds, UTC
//	offpush-replays    how many times the event was replayed before (0 for an original)
//	traceparent        the original event's W3C trace context, when it had one
//	offpush-truncated  only when the value was over the topic's size limit: the original
//	                   value's size; the value is then its first 64 KiB
//
// Replaying a record publishes its key and value back to the events topic with
// offpush-replays one higher and the traceparent kept (Record.Republished).
package dlq

import (
	"errors"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultTopic is the dead-letter topic unless configured otherwise (kafka.dlqTopic).
const DefaultTopic = "im.push.dlq"

// Record headers.
const (
	HeaderReason      = "offpush-reason"
	HeaderError       = "offpush-error"
	HeaderAttempts    = "offpush-attempts"
	HeaderSource      = "offpush-source"
	HeaderFailedAt    = "offpush-failed-at"
	HeaderReplays     = "offpush-replays"
	HeaderTraceparent = "traceparent"
	HeaderTruncated   = "offpush-truncated"
)

// MaxTruncated is the size a value over the topic's limit is cut to.
const MaxTruncated = 64 << 10

// New is the dead-letter record of the event src: value is what the record carries (the
// narrowed event, or src.Value), reason and errText say why, attempts counts the APNs requests
// made, now is when the worker gave up.
func New(src kafka.Message, value []byte, reason, errText string, attempts int, now time.Time) kafka.Message {
	h := []kafka.Header{
		{Key: HeaderReason, Value: []byte(reason)},
		{Key: HeaderError, Value: []byte(errText)},
		{Key: HeaderAttempts, Value: []byte(strconv.Itoa(attempts))},
		{Key: HeaderSource, Value: []byte(Source(src))},
		{Key: HeaderFailedAt, Value: []byte(now.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderReplays, Value: []byte(strconv.Itoa(Replays(src.Headers)))},
	}
	if tp := Header(src.Headers, HeaderTraceparent); tp != "" {
		h = append(h, kafka.Header{Key: HeaderTraceparent, Value: []byte(tp)})
	}
	return kafka.Message{Key: src.Key, Value: value, Headers: h}
}

// TooLarge reports whether a write failed because the record is over the topic's size limit.
func TooLarge(err error) bool {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if TooLarge(e) {
				return true
			}
		}
	}
	return errors.Is(err, kafka.MessageSizeTooLarge)
}

// Truncated is rec cut to MaxTruncated bytes of value, with offpush-truncated giving the
// original size; rec itself when it is not longer.
func Truncated(rec kafka.Message) kafka.Message {
	if len(rec.Value) <= MaxTruncated {
		return rec
	}
	rec.Headers = append(rec.Headers, kafka.Header{Key: HeaderTruncated, Value: []byte(strconv.Itoa(len(rec.Value)))})
	rec.Value = rec.Value[:MaxTruncated]
	return rec
}

// Source is the offpush-source of the event m: topic/partition/offset.
func Source(m kafka.Message) string {
	return m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10)
}

// Replays is the offpush-replays count carried by headers (0 when absent or malformed).
func Replays(hs []kafka.Header) int {
	n, err := strconv.Atoi(Header(hs, HeaderReplays))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Header is the value of the first header named key, "" when there is none.
func Header(hs []kafka.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Record is a dead-letter record with its headers read.
type Record struct {
	Msg      kafka.Message
	Reason   string    // offpush-reason; "" when the message is not an offpush dead letter
	Error    string    // offpush-error
	Attempts int       // offpush-attempts (0 when absent)
	Source   string    // offpush-source
	FailedAt time.Time // offpush-failed-at, else the record's timestamp
	Replays  int       // offpush-replays
}

// Parse reads the headers of the dead-letter record m.
func Parse(m kafka.Message) Record {
	r := Record{
		Msg:      m,
		Reason:   Header(m.Headers, HeaderReason),
		Error:    Header(m.Headers, HeaderError),
		Source:   Header(m.Headers, HeaderSource),
		FailedAt: m.Time,
		Replays:  Replays(m.Headers),
	}
	r.Attempts, _ = strconv.Atoi(Header(m.Headers, HeaderAttempts))
	if t, err := time.Parse(time.RFC3339Nano, Header(m.Headers, HeaderFailedAt)); err == nil {
		r.FailedAt = t
	}
	return r
}

// Republished is the event r holds as the events topic gets it back: the same key and value,
// offpush-replays one higher, the traceparent kept and no other header.
func (r Record) Republished() kafka.Message {
	h := []kafka.Header{{Key: HeaderReplays, Value: []byte(strconv.Itoa(r.Replays + 1))}}
	if tp := Header(r.Msg.Headers, HeaderTraceparent); tp != "" {
		h = append(h, kafka.Header{Key: HeaderTraceparent, Value: []byte(tp)})
	}
	return kafka.Message{Key: r.Msg.Key, Value: r.Msg.Value, Headers: h}
}
