package dlq_test

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/dlq"
)

// TestRecordRoundTrip: what New writes, Parse reads back, and Republished gives the events
// topic the key and value with offpush-replays one higher and the traceparent kept.
func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 30, 0, 123456789, time.FixedZone("CST", 8*3600))
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tc := range []struct {
		name    string
		headers []kafka.Header
		replays int
	}{
		{"original", []kafka.Header{{Key: dlq.HeaderTraceparent, Value: []byte(tp)}}, 0},
		{"replayed twice", []kafka.Header{{Key: dlq.HeaderReplays, Value: []byte("2")}, {Key: dlq.HeaderTraceparent, Value: []byte(tp)}}, 2},
		{"malformed replays", []kafka.Header{{Key: dlq.HeaderReplays, Value: []byte("-3")}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := kafka.Message{Topic: "im.messages", Partition: 4, Offset: 1207, Key: []byte("c2c:alice:bob"), Value: []byte(`{"id":"m1"}`), Headers: tc.headers}
			rec := dlq.New(src, []byte(`{"id":"m1","recipients":["bob"]}`), dlq.RetryExhausted.String(), "apns: 503 ServiceUnavailable", 4, at)
			if string(rec.Key) != "c2c:alice:bob" || string(rec.Value) != `{"id":"m1","recipients":["bob"]}` {
				t.Fatalf("record key %q value %q", rec.Key, rec.Value)
			}
			r := dlq.Parse(rec)
			want := dlq.Record{Msg: rec, Reason: "apns_retry_exhausted", Error: "apns: 503 ServiceUnavailable", Attempts: 4,
				Source: "im.messages/4/1207", FailedAt: at.UTC(), Replays: tc.replays}
			if !reflect.DeepEqual(r, want) {
				t.Errorf("Parse = %+v\nwant    %+v", r, want)
			}
			back := r.Republished()
			wantH := []kafka.Header{{Key: dlq.HeaderReplays, Value: []byte(strconv.Itoa(tc.replays + 1))}}
			if dlq.Header(tc.headers, dlq.HeaderTraceparent) != "" {
				wantH = append(wantH, kafka.Header{Key: dlq.HeaderTraceparent, Value: []byte(tp)})
			}
			if string(back.Key) != string(rec.Key) || string(back.Value) != string(rec.Value) || !reflect.DeepEqual(back.Headers, wantH) {
				t.Errorf("Republished = key %q value %q headers %v, want headers %v", back.Key, back.Value, back.Headers, wantH)
			}
		})
	}
}

// TestParseForeign: a message that is not an offpush dead letter has no reason, and its
// record time stands in for offpush-failed-at.
func TestParseForeign(t *testing.T) {
	at := time.Unix(1764660000, 0)
	r := dlq.Parse(kafka.Message{Value: []byte("x"), Time: at, Headers: []kafka.Header{{Key: dlq.HeaderFailedAt, Value: []byte("yesterday")}}})
	if r.Reason != "" || !r.FailedAt.Equal(at) || r.Attempts != 0 || r.Replays != 0 {
		t.Errorf("Parse = %+v", r)
	}
}

// TestTruncated: a value over MaxTruncated is cut to it, with the original size in
// offpush-truncated; a smaller one is left alone.
func TestTruncated(t *testing.T) {
	small := kafka.Message{Value: []byte("small")}
	if got := dlq.Truncated(small); string(got.Value) != "small" || len(got.Headers) != 0 {
		t.Errorf("small record changed: %+v", got)
	}
	big := kafka.Message{Value: []byte(strings.Repeat("x", dlq.MaxTruncated+10))}
	got := dlq.Truncated(big)
	if len(got.Value) != dlq.MaxTruncated || dlq.Header(got.Headers, dlq.HeaderTruncated) != strconv.Itoa(dlq.MaxTruncated+10) {
		t.Errorf("truncated to %d bytes, header %q", len(got.Value), dlq.Header(got.Headers, dlq.HeaderTruncated))
	}
}

// TestTooLarge recognises Kafka's size error bare, wrapped and inside a batch's WriteErrors.
func TestTooLarge(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kafka.MessageSizeTooLarge, true},
		{fmt.Errorf("write: %w", kafka.MessageSizeTooLarge), true},
		{kafka.WriteErrors{nil, kafka.MessageSizeTooLarge}, true},
		{kafka.WriteErrors{kafka.LeaderNotAvailable}, false},
		{errors.New("connection refused"), false},
		{nil, false},
	} {
		if got := dlq.TooLarge(tc.err); got != tc.want {
			t.Errorf("TooLarge(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestReasons: every reason has its word, and the words are the documented ones.
func TestReasons(t *testing.T) {
	var got []string
	for _, r := range dlq.Reasons() {
		got = append(got, r.String())
	}
	want := []string{"invalid_event", "unknown_certificate", "payload_too_large", "apns_retry_exhausted", "apns_rejected"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Reasons = %v, want %v", got, want)
	}
	if s := dlq.Reason(0).String(); s != "unknown" {
		t.Errorf("Reason(0) = %q", s)
	}
}
