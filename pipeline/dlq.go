package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/dlq"
	"offpush/event"
	"offpush/kafkaconn"
)

// newDLQWriter is the writer of dead-letter records: acks=all, flushed within 2 ms (a
// dead letter holds its event unfinished until Kafka has it).
func newDLQWriter(opts Options) *kafka.Writer {
	w := kafkaconn.Conn{Brokers: opts.Brokers, Dialer: opts.Dialer}.Writer(opts.DLQTopic)
	w.BatchTimeout = 2 * time.Millisecond
	w.MaxAttempts = 3
	return w
}

// deadLetter writes one DLQ record for the event of j: narrowed to userID when the event was
// decoded (m != nil), the original bytes otherwise. It retries until Kafka has the record or
// ctx ends; false means it was not written (the event must stay unfinished).
func (p *Pipeline) deadLetter(ctx context.Context, j *job, m *event.Message, userID string, f dlq.Reason, errText string, attempts int) bool {
	rec, err := dlqRecord(j.msg, m, userID, f, errText, attempts, p.opts.Now())
	if err != nil {
		p.log.Error("build dead letter", "err", err)
		return false
	}
	ok := p.infra(ctx, "write dead letter", func() error {
		err := p.dlq.WriteMessages(ctx, rec)
		if dlq.TooLarge(err) {
			rec = dlq.Truncated(rec) // retried at once; the whole event stays at offpush-source
			err = p.dlq.WriteMessages(ctx, rec)
		}
		return err
	})
	if ok {
		p.metrics.deadLettered(ctx, f)
		p.log.Warn("dead letter", "reason", f.String(), "error", errText, "user", userID,
			"source", dlq.Source(j.msg))
	}
	return ok
}

// dlqRecord builds the dead-letter record for src: the event narrowed to userID when it was
// decoded (m != nil), the original bytes otherwise.
func dlqRecord(src kafka.Message, m *event.Message, userID string, f dlq.Reason, errText string, attempts int, now time.Time) (kafka.Message, error) {
	value := src.Value
	if m != nil {
		b, err := json.Marshal(m.Narrow(userID))
		if err != nil {
			return kafka.Message{}, fmt.Errorf("encode narrowed event: %w", err)
		}
		value = b
	}
	return dlq.New(src, value, f.String(), errText, attempts, now), nil
}
