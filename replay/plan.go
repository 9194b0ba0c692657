package replay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// plan is how far a run reads: for each DLQ partition the end offset it had when the run
// started, and the group's position in it. A partition is done when its position reaches its
// end.
type plan struct {
	end offsets
	pos offsets
}

// offsets are offsets by partition.
type offsets map[int]int64

func (o offsets) String() string {
	parts := slices.Sorted(maps.Keys(o))
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprintf("%d:%d", p, o[p])
	}
	return "[" + strings.Join(s, " ") + "]"
}

// loadPlan reads the DLQ's partitions, their log start and end offsets and the group's
// committed offsets. A partition the group never committed starts at its log start offset, as
// does one whose committed offset retention has since deleted.
func loadPlan(ctx context.Context, o Options) (*plan, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(o.Brokers...), Timeout: 10 * time.Second, Transport: o.conn().Transport()}
	parts, err := partitions(ctx, c, o.DLQTopic)
	if err != nil {
		return nil, err
	}
	first, err := listOffsets(ctx, c, o.DLQTopic, parts, kafka.FirstOffset)
	if err != nil {
		return nil, err
	}
	end, err := listOffsets(ctx, c, o.DLQTopic, parts, kafka.LastOffset)
	if err != nil {
		return nil, err
	}
	committed, err := committedOffsets(ctx, c, o.GroupID, o.DLQTopic, parts)
	if err != nil {
		return nil, err
	}
	pos := offsets{}
	for _, p := range parts {
		c, ok := committed[p]
		if !ok {
			c = -1
		}
		pos[p] = max(c, first[p])
	}
	return &plan{end: end, pos: pos}, nil
}

func partitions(ctx context.Context, c *kafka.Client, topic string) ([]int, error) {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("read partitions of DLQ topic %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("DLQ topic %s: %w", topic, t.Error)
		}
		parts := make([]int, len(t.Partitions))
		for i, p := range t.Partitions {
			parts[i] = p.ID
		}
		return parts, nil
	}
	return nil, fmt.Errorf("DLQ topic %s does not exist", topic)
}

// listOffsets asks for one kind of offset (kafka.FirstOffset or kafka.LastOffset) of every
// partition. kafka-go files a broker's answer under FirstOffset or LastOffset by the timestamp
// the broker echoes, which real brokers set to -1 for both kinds
// (github.com/segmentio/kafka-go/issues/620); asking for one kind per request and taking the
// larger field, the other being 0 or -1, is right either way.
func listOffsets(ctx context.Context, c *kafka.Client, topic string, parts []int, kind int64) (offsets, error) {
	reqs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		reqs[i] = kafka.OffsetRequest{Partition: p, Timestamp: kind}
	}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of DLQ topic %s: %w", topic, err)
	}
	out := offsets{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("list offsets of DLQ topic %s partition %d: %w", topic, p.Partition, p.Error)
		}
		out[p.Partition] = max(p.FirstOffset, p.LastOffset)
	}
	if len(out) != len(parts) {
		return nil, fmt.Errorf("list offsets of DLQ topic %s: %d partitions answered of %d", topic, len(out), len(parts))
	}
	return out, nil
}

// committedOffsets are the group's committed offsets, -1 where it has none. A group the broker
// does not know (kfake says so, Kafka answers -1 everywhere) has none.
func committedOffsets(ctx context.Context, c *kafka.Client, group, topic string, parts []int) (offsets, error) {
	res, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err == nil {
		err = res.Error
	}
	if errors.Is(err, kafka.GroupIdNotFound) {
		return offsets{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read offsets of group %s on %s: %w", group, topic, err)
	}
	out := offsets{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("read offsets of group %s on %s partition %d: %w", group, topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out, nil
}

// done reports whether every partition reached its end offset.
func (pl *plan) done() bool { return len(pl.remaining()) == 0 }

// remaining are the positions of the partitions not done yet.
func (pl *plan) remaining() offsets {
	out := offsets{}
	for p, end := range pl.end {
		if pos, ok := pl.pos[p]; ok && pos < end {
			out[p] = pos
		}
	}
	return out
}

// take reports whether m is below its partition's end offset, the run's to handle, and moves
// the partition's position past it. A record at or past the end marks its partition done.
func (pl *plan) take(m kafka.Message) bool {
	end, ok := pl.end[m.Partition]
	if !ok {
		return false // a partition added since the start: the next run's
	}
	if m.Offset >= end {
		pl.pos[m.Partition] = end
		return false
	}
	pl.pos[m.Partition] = m.Offset + 1
	return true
}
