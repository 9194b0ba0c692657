// Package embedkafka gives tests and the embedded modes a Kafka that speaks the real wire
// protocol: an in-process kfake cluster, or a real broker when KAFKA_BROKERS is set.
package embedkafka

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"offpush/internal/testenv"
	"offpush/kafkaconn"
)

// Cluster is a Kafka to talk to: Brokers are its bootstrap addresses.
type Cluster struct {
	Brokers []string
	// Dialer is used by the helpers below (TLS/SASL); nil = plain TCP.
	Dialer *kafka.Dialer
	fake   *kfake.Cluster
	// prefix makes topic names unique on a shared real broker.
	prefix string
}

var seq atomic.Int64

// Start returns a Kafka for the test: the brokers in KAFKA_BROKERS (comma-separated) when set,
// otherwise a fresh in-process kfake cluster closed at the end of the test.
func Start(t testenv.TB) *Cluster {
	t.Helper()
	if env := os.Getenv("KAFKA_BROKERS"); env != "" {
		return &Cluster{
			Brokers: strings.Split(env, ","),
			prefix:  fmt.Sprintf("offpush-test-%d-%d-", time.Now().UnixNano(), seq.Add(1)),
		}
	}
	c, err := NewFake("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// NewFake starts an in-process kfake broker listening on addr ("host:port"; port 0 picks one),
// with extra kfake options (e.g. kfake.EnableSASL).
func NewFake(addr string, extra ...kfake.Opt) (*Cluster, error) {
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("kafka address %q: %w", addr, err)
	}
	// No auto-creation: as on a production cluster, topics exist only when created.
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(4)}
	if port != 0 {
		opts = append(opts, kfake.Ports(port))
	}
	opts = append(opts, extra...)
	fc, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, err
	}
	return &Cluster{Brokers: fc.ListenAddrs(), fake: fc}, nil
}

// Fake is the in-process cluster, nil when a real broker is used.
func (c *Cluster) Fake() *kfake.Cluster { return c.fake }

// Close stops an in-process cluster; it does nothing for a real broker.
func (c *Cluster) Close() {
	if c.fake != nil {
		c.fake.Close()
	}
}

// Topic creates a topic with the given number of partitions and returns its name, which is
// name itself on kfake and name with a unique prefix on a shared real broker.
func (c *Cluster) Topic(t testenv.TB, name string, partitions int) string {
	t.Helper()
	full := c.prefix + name
	if err := c.CreateTopic(context.Background(), full, partitions); err != nil {
		t.Fatalf("create topic %s: %v", full, err)
	}
	return full
}

// TopicWithConfig is Topic with topic configuration entries (e.g. max.message.bytes).
func (c *Cluster) TopicWithConfig(t testenv.TB, name string, partitions int, configs map[string]string) string {
	t.Helper()
	full := c.prefix + name
	if err := c.CreateTopic(context.Background(), full, partitions, configs); err != nil {
		t.Fatalf("create topic %s: %v", full, err)
	}
	return full
}

// CreateTopic creates topic with the given number of partitions and optional configuration
// entries; an existing topic is fine.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int, configs ...map[string]string) error {
	var entries []kafka.ConfigEntry
	for _, m := range configs {
		for k, v := range m {
			entries = append(entries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
	}
	conn, err := c.dialer().DialContext(ctx, "tcp", c.Brokers[0])
	if err != nil {
		return err
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		return err
	}
	cc, err := c.dialer().DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return err
	}
	defer cc.Close()
	err = cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1, ConfigEntries: entries})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return err
	}
	return nil
}

// Produce writes values to topic with acks=all and returns when the broker has them.
func (c *Cluster) Produce(ctx context.Context, topic string, msgs ...kafka.Message) error {
	// Compressed, as IM core should: an event of 100k recipients is ~1.5 MB raw, over Kafka's
	// default 1 MiB record limit, and a small fraction of it compressed.
	w := kafkaconn.Conn{Brokers: c.Brokers, Dialer: c.Dialer}.Writer(topic)
	w.BatchSize = 1000
	defer w.Close()
	return w.WriteMessages(ctx, msgs...)
}

// ReadAll reads every record of topic from the start until it has n of them or ctx ends.
func (c *Cluster) ReadAll(ctx context.Context, topic string, n int) ([]kafka.Message, error) {
	var out []kafka.Message
	conn, err := c.dialer().DialContext(ctx, "tcp", c.Brokers[0])
	if err != nil {
		return nil, err
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	for len(out) < n {
		for _, p := range parts {
			msgs, err := readPartition(ctx, c.dialer(), c.Brokers, topic, p.ID)
			if err != nil {
				return out, err
			}
			out = append(out, msgs...)
		}
		if len(out) >= n {
			break
		}
		out = out[:0]
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return out, nil
}

func readPartition(ctx context.Context, d *kafka.Dialer, brokers []string, topic string, partition int) ([]kafka.Message, error) {
	conn, err := d.DialLeader(ctx, "tcp", brokers[0], topic, partition)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	if last <= first {
		return nil, nil
	}
	if _, err := conn.Seek(first, kafka.SeekAbsolute); err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	batch := conn.ReadBatch(1, 64<<20)
	defer batch.Close()
	for int64(len(out)) < last-first {
		m, err := batch.ReadMessage()
		if err != nil {
			return out, err
		}
		m.Topic, m.Partition = topic, partition
		out = append(out, m)
	}
	return out, nil
}

func (c *Cluster) dialer() *kafka.Dialer {
	return kafkaconn.Conn{Brokers: c.Brokers, Dialer: c.Dialer}.DialerOrDefault()
}
