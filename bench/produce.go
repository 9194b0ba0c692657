package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"
)

// produceSpec is the work of a producer child: events [From, To) of Workload, all at once
// (Rate 0) or Rate events per second after a first Burst of events published at once. With
// UntilStopped it stops early, without error, when its stdin closes.
type produceSpec struct {
	Brokers      []string `json:"brokers"`
	Topic        string   `json:"topic"`
	From         int      `json:"from"`
	To           int      `json:"to"`
	Rate         float64  `json:"rate"`
	Burst        int      `json:"burst,omitempty"`
	UntilStopped bool     `json:"untilStopped,omitempty"`
	Workload     workload `json:"workload"`
}

// producedLine is the producer's last stdout line, with the number of events it published.
const producedLine = "produced %d events\n"

// Producer settings: chunks of prepublished events, the pacing tick of --rate, and how long
// a write may take once the producer was asked to stop.
const (
	produceChunk = 500
	rateTick     = 5 * time.Millisecond
	writeTimeout = 30 * time.Second
)

// produce publishes the events of s and prints "produced N events".
func produce(ctx context.Context, s *produceSpec, stdout io.Writer) error {
	w := &kafka.Writer{
		Addr:         kafka.TCP(s.Brokers...),
		Topic:        s.Topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireOne,
		BatchTimeout: time.Millisecond,
		BatchSize:    produceChunk,
		// Below the broker's default message.max.bytes (1 MiB): kafka-go sends one batch as
		// one record set, which the broker refuses whole when it is larger.
		BatchBytes: 1_000_000,
	}
	defer w.Close()
	n, err := s.To-s.From, error(nil)
	if s.Rate > 0 {
		n, err = produceAtRate(ctx, w, s)
	} else {
		err = produceAll(ctx, w, s)
	}
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	fmt.Fprintf(stdout, producedLine, n)
	return nil
}

func produceAll(ctx context.Context, w *kafka.Writer, s *produceSpec) error {
	for from := s.From; from < s.To; from += produceChunk {
		if err := write(ctx, w, &s.Workload, from, min(from+produceChunk, s.To)); err != nil {
			return err
		}
	}
	return nil
}

// produceAtRate publishes, every tick, the events due by then (the burst at the first),
// each stamped with the time it is published, and returns how many it published. A write
// under way when an UntilStopped producer is stopped completes, so that the count is exact.
func produceAtRate(ctx context.Context, w *kafka.Writer, s *produceSpec) (int, error) {
	t := time.NewTicker(rateTick)
	defer t.Stop()
	start, next := time.Now(), s.From
	for next < s.To {
		select {
		case <-ctx.Done():
			if s.UntilStopped {
				return next - s.From, nil
			}
			return next - s.From, ctx.Err()
		case <-t.C:
		}
		due := min(s.From+s.Burst+int(s.Rate*time.Since(start).Seconds()), s.To)
		if due <= next {
			continue
		}
		if err := writeAtRate(ctx, w, s, next, due); err != nil {
			return next - s.From, err
		}
		next = due
	}
	return next - s.From, nil
}

func writeAtRate(ctx context.Context, w *kafka.Writer, s *produceSpec, from, to int) error {
	if s.UntilStopped {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		defer cancel()
	}
	return write(ctx, w, &s.Workload, from, to)
}

// write publishes events [from, to), keyed by conversation, stamped now.
func write(ctx context.Context, w *kafka.Writer, wl *workload, from, to int) error {
	now := time.Now()
	msgs := make([]kafka.Message, 0, to-from)
	for i := from; i < to; i++ {
		m := wl.event(i, now)
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Key: []byte(m.Key()), Value: b, Time: m.SentAt})
	}
	return w.WriteMessages(ctx, msgs...)
}
