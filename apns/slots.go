package apns

import (
	"context"
	"sync"
)

// Lane orders the requests that wait for an in-flight slot of one certificate: when a slot
// frees, a waiting Fast request takes it before any Bulk one. The pipeline sends the pushes
// of one-to-one and small-group events in the Fast lane and the fan-out of large groups in
// the Bulk lane, so a large group never stands in front of a one-to-one push.
type Lane uint8

// Lanes of Pool.Send.
const (
	Fast Lane = iota
	Bulk
)

// Slots is a counting semaphore with two priority classes (Lanes) and a limit that may change
// while slots are held (the server's stream limits change). A free slot goes to a waiting
// Fast request before any Bulk one, and Bulk requests together hold at most BulkShare percent
// of the limit, so that Fast requests find a slot even while every Bulk request is stuck (a
// slow or failing APNs, retries waiting out their backoff). Waiters of a lane are served in
// arrival order. The Pool bounds each certificate's requests in flight with one; the pipeline
// bounds its pushes in progress with another.
type Slots struct {
	mu       sync.Mutex
	limit    int
	used     int
	usedBulk int
	wait     [2][]chan struct{} // by Lane
}

// BulkShare is the percentage of Slots' limit that Bulk requests may hold together.
const BulkShare = 75

// NewSlots returns n slots.
func NewSlots(n int) *Slots { return &Slots{limit: n} }

// bulkCap is how many slots Bulk requests may hold; called with mu held.
func (s *Slots) bulkCap() int { return max(1, s.limit*BulkShare/100) }

// free reports whether a request of lane may take a slot now, ahead of no one; mu held.
func (s *Slots) free(lane Lane) bool {
	if s.used >= s.limit || len(s.wait[Fast]) > 0 {
		return false
	}
	return lane == Fast || (len(s.wait[Bulk]) == 0 && s.usedBulk < s.bulkCap())
}

// take records a slot taken by lane; mu held.
func (s *Slots) take(lane Lane) {
	s.used++
	if lane == Bulk {
		s.usedBulk++
	}
}

// Acquire takes a slot, waiting as long as ctx allows. The caller releases it with Release
// of the same lane.
func (s *Slots) Acquire(ctx context.Context, lane Lane) error {
	s.mu.Lock()
	if s.free(lane) {
		s.take(lane)
		s.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	s.wait[lane] = append(s.wait[lane], ch)
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range s.wait[lane] {
		if w == ch {
			s.wait[lane] = append(s.wait[lane][:i], s.wait[lane][i+1:]...)
			return ctx.Err()
		}
	}
	// Granted meanwhile: hand the slot on.
	s.releaseLocked(lane)
	return ctx.Err()
}

// Release returns a slot taken in lane, to the first Fast waiter, else the first Bulk waiter.
func (s *Slots) Release(lane Lane) {
	s.mu.Lock()
	s.releaseLocked(lane)
	s.mu.Unlock()
}

func (s *Slots) releaseLocked(lane Lane) {
	s.used--
	if lane == Bulk {
		s.usedBulk--
	}
	s.grantLocked()
}

// setLimit changes the number of slots; held slots above a lowered limit are not taken back,
// but no new one is granted until the use is below it.
func (s *Slots) setLimit(n int) {
	s.mu.Lock()
	if n != s.limit {
		s.limit = n
		s.grantLocked()
	}
	s.mu.Unlock()
}

// limitNow is the current limit.
func (s *Slots) limitNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// saturated reports whether requests wait because every slot they could take is in use.
func (s *Slots) saturated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	full := s.used >= s.limit
	return len(s.wait[Fast]) > 0 && full || len(s.wait[Bulk]) > 0 && (full || s.usedBulk >= s.bulkCap())
}

// grantLocked hands free slots to waiters, Fast first.
func (s *Slots) grantLocked() {
	for s.used < s.limit && len(s.wait[Fast]) > 0 {
		s.grant(Fast)
	}
	for s.used < s.limit && s.usedBulk < s.bulkCap() && len(s.wait[Bulk]) > 0 {
		s.grant(Bulk)
	}
}

func (s *Slots) grant(lane Lane) {
	q := s.wait[lane]
	close(q[0])
	q[0] = nil
	s.wait[lane] = q[1:]
	s.take(lane)
}
