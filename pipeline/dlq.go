package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/event"
)

// DLQ record headers.
const (
	HeaderReason      = "offpush-reason"
	HeaderError       = "offpush-error"
	HeaderAttempts    = "offpush-attempts"
	HeaderSource      = "offpush-source"
	HeaderFailedAt    = "offpush-failed-at"
	HeaderReplays     = "offpush-replays"
	HeaderTraceparent = "traceparent"
)

// newDLQWriter is the writer of dead-letter records, with acks=all.
func newDLQWriter(opts Options) *kafka.Writer {
	w := &kafka.Writer{
		Addr:         kafka.TCP(opts.Brokers...),
		Topic:        opts.DLQTopic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
		Compression:  kafka.Lz4,
		BatchBytes:   16 << 20, // checked before compression; the broker's limit applies after
	}
	if d := opts.Dialer; d != nil {
		w.Transport = &kafka.Transport{TLS: d.TLS, SASL: d.SASLMechanism}
	}
	return w
}

// deadLetter writes one DLQ record for the event of j: narrowed to userID when the event was
// decoded (m != nil), the original bytes otherwise. It retries until Kafka has the record or
// ctx ends; false means it was not written (the event must stay unfinished).
func (p *Pipeline) deadLetter(ctx context.Context, j *job, m *event.Message, userID string, f Failure, errText string, attempts int) bool {
	rec, err := dlqRecord(j.msg, m, userID, f, errText, attempts, p.opts.Now())
	if err != nil {
		p.log.Error("build dead letter", "err", err)
		return false
	}
	ok := p.infra(ctx, "write dead letter", func() error {
		err := p.dlq.WriteMessages(ctx, rec)
		if tooLarge(err) {
			rec = truncated(rec) // retried at once; the whole event stays at offpush-source
			err = p.dlq.WriteMessages(ctx, rec)
		}
		return err
	})
	if ok {
		p.metrics.deadLettered(ctx, f)
		p.log.Warn("dead letter", "reason", f.String(), "error", errText, "user", userID,
			"source", source(j.msg))
	}
	return ok
}

// dlqRecord builds the dead-letter record for src (README, "Dead letters").
func dlqRecord(src kafka.Message, m *event.Message, userID string, f Failure, errText string, attempts int, now time.Time) (kafka.Message, error) {
	value := src.Value
	if m != nil {
		b, err := json.Marshal(m.Narrow(userID))
		if err != nil {
			return kafka.Message{}, fmt.Errorf("encode narrowed event: %w", err)
		}
		value = b
	}
	h := []kafka.Header{
		{Key: HeaderReason, Value: []byte(f.String())},
		{Key: HeaderError, Value: []byte(errText)},
		{Key: HeaderAttempts, Value: []byte(strconv.Itoa(attempts))},
		{Key: HeaderSource, Value: []byte(source(src))},
		{Key: HeaderFailedAt, Value: []byte(now.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderReplays, Value: []byte(strconv.Itoa(Replays(src.Headers)))},
	}
	if tp := header(src.Headers, HeaderTraceparent); tp != "" {
		h = append(h, kafka.Header{Key: HeaderTraceparent, Value: []byte(tp)})
	}
	return kafka.Message{Key: src.Key, Value: value, Headers: h}, nil
}

// HeaderTruncated, on a DLQ record whose value was too large for the topic, gives the size of
// the original value; the value is then its first maxTruncated bytes.
const HeaderTruncated = "offpush-truncated"

const maxTruncated = 64 << 10

// tooLarge reports whether a write failed because the record is over the size limit.
func tooLarge(err error) bool {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if tooLarge(e) {
				return true
			}
		}
	}
	return errors.Is(err, kafka.MessageSizeTooLarge)
}

// truncated shortens a record Kafka refused as too large.
func truncated(rec kafka.Message) kafka.Message {
	if len(rec.Value) <= maxTruncated {
		return rec
	}
	rec.Headers = append(rec.Headers, kafka.Header{Key: HeaderTruncated, Value: []byte(strconv.Itoa(len(rec.Value)))})
	rec.Value = rec.Value[:maxTruncated]
	return rec
}

// source is the offpush-source header: topic/partition/offset of the original event.
func source(m kafka.Message) string {
	return m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10)
}

// Replays is the offpush-replays count carried by headers (0 when absent or malformed).
func Replays(hs []kafka.Header) int {
	n, err := strconv.Atoi(header(hs, HeaderReplays))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func header(hs []kafka.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
