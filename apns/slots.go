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
// while slots are held (the server's stream limits change). Waiters of a lane are served in
// arrival order. The Pool bounds each certificate's requests in flight with one; the pipeline
// bounds its pushes in progress with another.
type Slots struct {
	mu    sync.Mutex
	limit int
	used  int
	wait  [2][]chan struct{} // by Lane
}

// NewSlots returns n slots.
func NewSlots(n int) *Slots { return &Slots{limit: n} }

// Acquire takes a slot, waiting as long as ctx allows.
func (s *Slots) Acquire(ctx context.Context, lane Lane) error {
	s.mu.Lock()
	if s.used < s.limit && len(s.wait[Fast]) == 0 && (lane == Fast || len(s.wait[Bulk]) == 0) {
		s.used++
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
	s.used--
	s.grantLocked()
	return ctx.Err()
}

// Release returns a slot, to the first Fast waiter, else the first Bulk waiter.
func (s *Slots) Release() {
	s.mu.Lock()
	s.used--
	s.grantLocked()
	s.mu.Unlock()
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

// saturated reports whether every slot is in use and requests wait.
func (s *Slots) saturated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used >= s.limit && len(s.wait[Fast])+len(s.wait[Bulk]) > 0
}

// grantLocked hands free slots to waiters, Fast first.
func (s *Slots) grantLocked() {
	for lane := range s.wait {
		for s.used < s.limit && len(s.wait[lane]) > 0 {
			q := s.wait[lane]
			close(q[0])
			q[0] = nil
			s.wait[lane] = q[1:]
			s.used++
		}
	}
}
