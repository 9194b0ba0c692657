package app

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// DefaultMaxMessageBytes is Kafka's default max.message.bytes (message.max.bytes): the
// largest record batch a topic takes, measured after compression.
const DefaultMaxMessageBytes = 1048588

// batchOverhead is what a v2 record batch adds to its compressed records (61 bytes of
// header), with room for one record's own framing (length, attributes, deltas, headers).
const batchOverhead = 61 + 32

// eventLine is one event of a publish input: its line number, its record, and its size as
// a record batch of its own, compressed.
type eventLine struct {
	line int
	msg  kafka.Message
	size int
}

// batchSize is the size of msg as a record batch of its own, lz4-compressed as publish sends
// it: what the broker compares to max.message.bytes.
func batchSize(msg kafka.Message) (int, error) {
	var buf bytes.Buffer
	w := kafka.Lz4.Codec().NewWriter(&buf)
	for _, b := range [][]byte{msg.Key, msg.Value} {
		if _, err := w.Write(b); err != nil {
			return 0, fmt.Errorf("compress: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("compress: %w", err)
	}
	return buf.Len() + batchOverhead, nil
}

// publishLimit is the topic's max.message.bytes: --max-message-bytes, else the broker's
// answer to DescribeConfigs, else DefaultMaxMessageBytes.
func publishLimit(ctx context.Context, f publishFlags, tr kafka.RoundTripper) int {
	if f.maxBytes > 0 {
		return f.maxBytes
	}
	c := &kafka.Client{Addr: kafka.TCP(f.kafka.Brokers...), Timeout: 10 * time.Second, Transport: tr}
	res, err := c.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: f.kafka.Topic, ConfigNames: []string{"max.message.bytes"},
	}}})
	if err != nil {
		return DefaultMaxMessageBytes // an ACL may forbid it: the default is the usual value
	}
	for _, r := range res.Resources {
		for _, e := range r.ConfigEntries {
			if n, err := strconv.Atoi(e.ConfigValue); err == nil && e.ConfigName == "max.message.bytes" && n > 0 {
				return n
			}
		}
	}
	return DefaultMaxMessageBytes
}

// batchShare is the part of the limit a batch of several events fills, by the sum of their
// own sizes: events compressed together take less than apart, and the margin covers the
// framing of each record.
const batchShare = 0.9

// sendEvents writes lines in order, one WriteMessages per batch: as many events as fit the
// limit together (each fits on its own, readEvents' caller checked), and at most rate events
// per second when rate > 0. It returns how many were sent.
func sendEvents(ctx context.Context, w *kafka.Writer, lines []eventLine, limit int, rate float64) (int, error) {
	maxEvents := len(lines)
	if rate > 0 {
		maxEvents = max(1, int(rate/10)) // a tenth of a second's worth per call: an even pace
	}
	start := time.Now()
	sent := 0
	for sent < len(lines) {
		n, size := 0, 0
		for sent+n < len(lines) && n < maxEvents {
			s := lines[sent+n].size
			if n > 0 && float64(size+s) > batchShare*float64(limit) {
				break
			}
			size += s
			n++
		}
		if rate > 0 {
			due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return sent, ctx.Err()
			case <-time.After(time.Until(due)):
			}
		}
		msgs := make([]kafka.Message, n)
		for i := range msgs {
			msgs[i] = lines[sent+i].msg
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			return sent, fmt.Errorf("events of lines %d..%d: %w", lines[sent].line, lines[sent+n-1].line, err)
		}
		sent += n
	}
	return sent, nil
}
