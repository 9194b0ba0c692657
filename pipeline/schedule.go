package pipeline

import (
	"context"
	"sync"
)

// scheduler runs fetched events with key ordering: the events of one Kafka key (one
// conversation) run one after another in fetch order, events of different keys run at once,
// each on a goroutine of its own (from a pool, so that stacks are reused). What bounds the work is a budget of events and bytes
// admitted and not yet finished, shared by all keys, not a number of workers: a key with a
// backlog holds only its own events back, and the fetch loop waits only when the whole
// budget is spent.
type scheduler struct {
	maxEvents int
	maxBytes  int64
	run       func(*job) // processes one event; returns when it is finished or abandoned
	skip      func() bool

	mu        sync.Mutex
	keys      map[string]*keyQueue
	events    int   // admitted, not finished
	bytes     int64 // value bytes of those events
	refilling bool  // the budget was found spent: admit nothing until refillShare of it is free
	freed     chan struct{}
	wg        sync.WaitGroup
	gos       *goPool
}

// keyQueue is the events of one key admitted and not finished; q[0] is running.
type keyQueue struct {
	q []*job
}

// newScheduler returns a scheduler that calls run for each admitted event, on goroutines of
// gos. skip, checked before an event starts, leaves it unstarted (the pipeline is stopping:
// its offset stays uncommitted for the partition's next owner).
func newScheduler(maxEvents int, maxBytes int64, gos *goPool, run func(*job), skip func() bool) *scheduler {
	return &scheduler{
		maxEvents: maxEvents, maxBytes: maxBytes, run: run, skip: skip,
		keys: map[string]*keyQueue{}, freed: make(chan struct{}, 1), gos: gos,
	}
}

// admit waits until j fits the budget, then queues it behind the unfinished events of its key
// (or starts it). An event larger than the whole byte budget is admitted when nothing else is
// in flight. false means ctx ended first; j was not admitted.
func (s *scheduler) admit(ctx context.Context, j *job) bool {
	size := int64(len(j.msg.Value))
	for !s.reserve(size) {
		select {
		case <-s.freed:
		case <-ctx.Done():
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(j.msg.Key) == 0 { // no key, no order: a queue of its own
		s.start(&keyQueue{q: []*job{j}}, "")
		return true
	}
	key := string(j.msg.Key)
	if kq := s.keys[key]; kq != nil {
		kq.q = append(kq.q, j)
		return true
	}
	kq := &keyQueue{q: []*job{j}}
	s.keys[key] = kq
	s.start(kq, key)
	return true
}

// reserve takes size bytes and one event from the budget if they fit. Once the budget was
// found spent, nothing is taken until a sixteenth of it is free again (refill): at a long
// round trip events finish one at a time, and admitting each as another finishes would start
// them one at a time too, each with a merged Redis call of its own, where a refill starts a
// sixteenth of the budget together. One-to-one at a 100 ms round trip: 79, 82, 82 → 77, 78, 63
// µs of worker CPU per push; the default mix's worker / apns2 loop CPU at 100 ms 0.60, 0.72,
// 0.75, 0.72 → 0.77, 0.61, 0.59, 0.60 (offpush bench --apns-rtt 100ms --compare-rtt, the two
// binaries taking turns).
func (s *scheduler) reserve(size int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events > 0 && s.refilling {
		if s.events > s.maxEvents-s.maxEvents/refillShare || s.bytes+size > s.maxBytes-s.maxBytes/refillShare {
			return false
		}
		s.refilling = false
	}
	if s.events > 0 && (s.events >= s.maxEvents || s.bytes+size > s.maxBytes) {
		s.refilling = true
		return false
	}
	s.events++
	s.bytes += size
	return true
}

// refillShare: after the budget was spent, admission resumes once 1/refillShare of it is free.
const refillShare = 16

// start runs kq's events on a new goroutine until the queue is empty. Called with mu held.
func (s *scheduler) start(kq *keyQueue, key string) {
	first := kq.q[0]
	s.wg.Add(1)
	s.gos.Go(func() {
		defer s.wg.Done()
		for j := first; j != nil; j = s.next(kq, key) {
			if !s.skip() {
				s.run(j)
			}
		}
	})
}

// next retires the running event of kq and returns the key's next one, nil when none is left
// (the queue is then forgotten).
func (s *scheduler) next(kq *keyQueue, key string) *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	done := kq.q[0]
	kq.q[0] = nil
	kq.q = kq.q[1:]
	s.events--
	s.bytes -= int64(len(done.msg.Value))
	select {
	case s.freed <- struct{}{}:
	default:
	}
	if len(kq.q) > 0 {
		return kq.q[0]
	}
	if key != "" {
		delete(s.keys, key)
	}
	return nil
}

// wait blocks until every admitted event has run or been skipped.
func (s *scheduler) wait() { s.wg.Wait() }
