// Package kafkaconn is how offpush connects to Kafka: the brokers and dialer (TLS, SASL) of
// the kafka configuration section (config.Kafka.Dialer), and the readers, writers and clients
// built on them with the settings offpush uses everywhere, so the worker, offpush replay,
// offpush publish and the embedded Kafka of offpush dev connect the same way.
package kafkaconn

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Conn is how offpush reaches one Kafka cluster: its brokers and, when TLS or SASL is
// configured, the dialer that carries them (nil: plain TCP).
type Conn struct {
	Brokers []string
	Dialer  *kafka.Dialer
}

// DialerOrDefault is c's dialer, or a plain one with a 10 s connect timeout.
func (c Conn) DialerOrDefault() *kafka.Dialer {
	if c.Dialer != nil {
		return c.Dialer
	}
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true}
}

// Transport is a transport of its own with c's TLS and SASL settings, for kafka.Client and
// kafka.Writer. It is never kafka-go's shared default, which caches metadata across callers
// and would miss a topic created since.
func (c Conn) Transport() *kafka.Transport {
	tr := &kafka.Transport{}
	if d := c.Dialer; d != nil {
		tr.TLS, tr.SASL = d.TLS, d.SASLMechanism
	}
	return tr
}

// Client is a client for requests outside a reader or writer (offsets, metadata), on a
// transport of its own.
func (c Conn) Client() *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: 10 * time.Second, Transport: c.Transport()}
}

// Writer is a producer to topic as offpush writes every topic: acks from all in-sync
// replicas, records of one key (a conversation) on one partition, LZ4 compression, and
// BatchBytes of 16 MiB (kafka-go measures it before compression; the broker's record limit
// applies after). Callers tune batching and attempts on the result.
func (c Conn) Writer(topic string) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(c.Brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
		MaxAttempts:  5,
		Compression:  kafka.Lz4,
		BatchBytes:   16 << 20,
		Transport:    c.Transport(),
	}
}

// GroupReader reads topic as a member of the consumer group: from the first offset when the
// group has none, with heartbeats at a fifth of the session timeout (a busy member is not
// evicted), and no commits of its own: the caller commits what it finished, synchronously.
// queue is how many fetched records wait in the reader; warn gets Kafka errors the reader
// retries.
func (c Conn) GroupReader(topic, group string, session time.Duration, queue int, warn func(string)) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:           c.Brokers,
		GroupID:           group,
		Topic:             topic,
		Dialer:            c.Dialer,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           250 * time.Millisecond,
		QueueCapacity:     queue,
		SessionTimeout:    session,
		HeartbeatInterval: session / 5,
		RebalanceTimeout:  session,
		JoinGroupBackoff:  time.Second,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    0,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) {
			warn(fmt.Sprintf(format, args...))
		}),
	})
}
