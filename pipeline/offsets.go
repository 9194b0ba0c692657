package pipeline

import (
	"sync"
)

// offsets tracks, per partition, which fetched events are finished, so that the committed
// offset never passes an unfinished event: the commit point of a partition is one past the
// last event of the longest finished prefix.
type offsets struct {
	mu    sync.Mutex
	parts map[partKey]*partOffsets
}

type partKey struct {
	topic     string
	partition int
}

// partOffsets is one partition's window of fetched offsets, oldest first. A re-delivery after
// a rebalance (an offset not above the last one seen) starts a new window: the old one's
// events still finish, but only the new window commits.
type partOffsets struct {
	window    []slot
	head      int   // first unfinished slot
	dropped   int   // slots compacted away before window[0]
	committed int64 // next offset to commit (Kafka semantics: one past the last done), -1 = none
	sent      int64 // committed value last handed to Kafka
}

type slot struct {
	offset int64
	done   bool
}

// ticket identifies one tracked event; finishing it is idempotent.
type ticket struct {
	p   *partOffsets
	seq int // position in the partition's window since it started, counting compacted slots
}

func newOffsets() *offsets { return &offsets{parts: map[partKey]*partOffsets{}} }

// track records a fetched event and returns the ticket to finish it with.
func (o *offsets) track(topic string, partition int, offset int64) ticket {
	o.mu.Lock()
	defer o.mu.Unlock()
	k := partKey{topic, partition}
	p := o.parts[k]
	if p == nil || (len(p.window) > 0 && offset <= p.window[len(p.window)-1].offset) {
		p = &partOffsets{committed: -1, sent: -1}
		o.parts[k] = p
	}
	if p.head > 1024 && p.head*2 > len(p.window) {
		n := copy(p.window, p.window[p.head:])
		p.window = p.window[:n]
		p.dropped += p.head
		p.head = 0
	}
	p.window = append(p.window, slot{offset: offset})
	return ticket{p: p, seq: p.dropped + len(p.window) - 1}
}

// finish marks the ticket's event done and advances its partition's commit point.
func (o *offsets) finish(t ticket) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := t.p
	p.window[t.seq-p.dropped].done = true
	for p.head < len(p.window) && p.window[p.head].done {
		p.committed = p.window[p.head].offset + 1
		p.head++
	}
}

// commitPoint is a partition and the offset to commit for it.
type commitPoint struct {
	topic     string
	partition int
	offset    int64 // next offset to read
}

// pending returns the partitions whose commit point moved since the last call to markSent;
// with all, every partition that has a commit point.
func (o *offsets) pending(all bool) []commitPoint {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []commitPoint
	for k, p := range o.parts {
		if p.committed > p.sent || all && p.committed >= 0 {
			out = append(out, commitPoint{k.topic, k.partition, p.committed})
		}
	}
	return out
}

// markSent records that points were committed to Kafka.
func (o *offsets) markSent(points []commitPoint) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range points {
		if p := o.parts[partKey{c.topic, c.partition}]; p != nil && c.offset > p.sent {
			p.sent = c.offset
		}
	}
}

// ahead splits points into those past the group's committed offsets (partition → offset,
// absent or -1 when none) and the others. A point at or behind the group's is not committed:
// either it is there already, or the group moved on without this worker (another member owns
// the partition since a rebalance and committed further) and committing it would send the
// partition back.
func ahead(points []commitPoint, group map[int]int64) (send, behind []commitPoint) {
	for _, c := range points {
		if g, ok := group[c.partition]; !ok || c.offset > g {
			send = append(send, c)
		} else {
			behind = append(behind, c)
		}
	}
	return send, behind
}

// inFlight counts tracked events not yet finished.
func (o *offsets) inFlight() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, p := range o.parts {
		for _, s := range p.window[p.head:] {
			if !s.done {
				n++
			}
		}
	}
	return n
}
