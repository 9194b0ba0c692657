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
// (Rate 0) or Rate events per second.
type produceSpec struct {
	Brokers  []string `json:"brokers"`
	Topic    string   `json:"topic"`
	From     int      `json:"from"`
	To       int      `json:"to"`
	Rate     float64  `json:"rate"`
	Workload workload `json:"workload"`
}

// Producer settings: chunks of prepublished events, and the pacing tick of --rate.
const (
	produceChunk = 500
	rateTick     = 5 * time.Millisecond
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
		BatchBytes:   64 << 20,
	}
	defer w.Close()
	var err error
	if s.Rate > 0 {
		err = produceAtRate(ctx, w, s)
	} else {
		err = produceAll(ctx, w, s)
	}
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	fmt.Fprintf(stdout, "produced %d events\n", s.To-s.From)
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

// produceAtRate publishes, every tick, the events due by then, each stamped with the time it
// is published.
func produceAtRate(ctx context.Context, w *kafka.Writer, s *produceSpec) error {
	t := time.NewTicker(rateTick)
	defer t.Stop()
	start, next := time.Now(), s.From
	for next < s.To {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		due := min(s.From+int(s.Rate*time.Since(start).Seconds()), s.To)
		if due <= next {
			continue
		}
		if err := write(ctx, w, &s.Workload, next, due); err != nil {
			return err
		}
		next = due
	}
	return nil
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
