package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"offpush/dlq"
	"offpush/embedkafka"
	"offpush/event"
	"offpush/pipeline"
)

// Topic names and partition counts of the harness's Kafka.
const (
	EventsTopic     = event.DefaultTopic
	DLQTopic        = dlq.DefaultTopic
	WorkerGroup     = pipeline.DefaultGroupID
	EventPartitions = 6
)

// startKafka starts an in-process kfake broker behind a gate and creates the topics.
func startKafka(ctx context.Context) (*embedkafka.Cluster, *gate, error) {
	g := &gate{}
	c, err := embedkafka.NewFake("127.0.0.1:0", kfake.ListenFn(g.listen))
	if err != nil {
		return nil, nil, err
	}
	for topic, parts := range map[string]int{EventsTopic: EventPartitions, DLQTopic: 2} {
		if err := c.CreateTopic(ctx, topic, parts); err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("create %s: %w", topic, err)
		}
	}
	return c, g, nil
}

// partitionIDs lists the partitions of topic.
func partitionIDs(ctx context.Context, brokers []string, topic string) ([]int, error) {
	d := &kafka.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions(topic)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(parts))
	for i, p := range parts {
		ids[i] = p.ID
	}
	return ids, nil
}

// endOffsets returns the next offset of each partition of topic.
func endOffsets(ctx context.Context, brokers []string, topic string) (map[int]int64, error) {
	ids, err := partitionIDs(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	req := map[string][]kafka.OffsetRequest{}
	for _, id := range ids {
		req[topic] = append(req[topic], kafka.LastOffsetOf(id))
	}
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	resp, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, po.Error
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// committedOffsets returns the group's committed offset of each partition of topic (-1 = none).
func committedOffsets(ctx context.Context, brokers []string, group, topic string) (map[int]int64, error) {
	ids, err := partitionIDs(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		return nil, resp.Error
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, p.Error
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// readTopic reads every record of topic up to the partitions' current ends.
func readTopic(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	ends, err := endOffsets(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	var out []kafka.Message
	for part, end := range ends {
		msgs, err := readPartition(ctx, brokers[0], topic, part, end)
		if err != nil {
			return nil, fmt.Errorf("read %s/%d: %w", topic, part, err)
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func readPartition(ctx context.Context, broker, topic string, part int, end int64) ([]kafka.Message, error) {
	if end <= 0 {
		return nil, nil
	}
	d := &kafka.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialLeader(ctx, "tcp", broker, topic, part)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []kafka.Message
	for next := int64(0); next < end; {
		before := next
		if _, err := conn.Seek(next, kafka.SeekAbsolute); err != nil {
			return nil, err
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		batch := conn.ReadBatch(1, 64<<20)
		for next < end {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			m.Topic, m.Partition = topic, part
			out = append(out, m)
			next = m.Offset + 1
		}
		if err := batch.Close(); err != nil && next < end {
			return nil, err
		}
		if next == before {
			return nil, fmt.Errorf("no record at offset %d of %d", next, end)
		}
	}
	return out, nil
}

// eventAt reads the record at offset of partition of topic, as "key value" (value cut at 240
// bytes): what a failed wait shows of the event a partition is stuck at.
func eventAt(ctx context.Context, brokers []string, topic string, partition int, offset int64) string {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MaxWait: time.Second})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		return err.Error()
	}
	m, err := r.ReadMessage(ctx)
	if err != nil {
		return err.Error()
	}
	v := string(m.Value)
	if len(v) > 240 {
		v = v[:240] + "…"
	}
	return string(m.Key) + " " + v
}
