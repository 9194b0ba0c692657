package apnssim

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Fault makes the next Count provider requests answer Status with Reason, whatever they hold.
type Fault struct {
	Status     int    `json:"status"`
	Reason     string `json:"reason"`
	Count      int    `json:"count"`                // 0 clears the fault
	RetryAfter int    `json:"retryAfter,omitempty"` // seconds, sent as a Retry-After header
}

// Stats counts provider requests since New or the last Reset (connections since New).
type Stats struct {
	Requests        int64            `json:"requests"`
	Accepted        int64            `json:"accepted"`
	Rejected        map[string]int64 `json:"rejected"` // by reason
	Connections     int64            `json:"connections"`
	OpenConnections int64            `json:"openConnections"`
	MaxConcurrent   int64            `json:"maxConcurrent"` // most provider requests in progress at once
}

// state is the mutable part of a Server. Counters are atomics; the hot path takes a lock only
// to record a delivery or a rejection, and checks faults and unregistered tokens only when
// there are some.
type state struct {
	requests, accepted      atomic.Int64
	inflight, maxConcurrent atomic.Int64
	connections, open       atomic.Int64
	latency, jitter         atomic.Int64 // time.Duration
	faultsLeft              atomic.Int64
	unregisteredCount       atomic.Int64
	randN                   func(n int64) int64 // the jitter's draw in [0, n): rand.Int64N

	mu           sync.Mutex // fault, unregistered
	fault        Fault
	unregistered map[string]time.Time

	recMu     sync.Mutex // kept, rejected, out
	maxKept   int
	kept      journal
	rejected  map[string]int64
	out       *bufio.Writer
	outFailed bool
	logf      func(string, ...any)
}

func (st *state) init(opts Options) {
	st.maxKept = opts.MaxKept
	st.unregistered = make(map[string]time.Time)
	st.rejected = make(map[string]int64)
	st.out = bufferedWriter(opts.Deliveries)
	st.logf = opts.Logf
	st.randN = rand.Int64N
	st.SetLatency(opts.Latency)
	st.SetJitter(opts.LatencyJitter)
}

// MarkUnregistered makes later pushes to token answer 410 Unregistered with timestamp t.
func (st *state) MarkUnregistered(token string, t time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.unregistered[token] = t
	st.unregisteredCount.Store(int64(len(st.unregistered)))
}

func (st *state) unregisteredAt(token string) (time.Time, bool) {
	if st.unregisteredCount.Load() == 0 {
		return time.Time{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	t, ok := st.unregistered[token]
	return t, ok
}

// InjectFault makes the next n provider requests answer status with reason; n = 0 clears it.
func (st *state) InjectFault(status int, reason string, n int) {
	st.SetFault(Fault{Status: status, Reason: reason, Count: n})
}

// SetFault replaces the current fault (Count 0 clears it).
func (st *state) SetFault(f Fault) {
	st.mu.Lock()
	defer st.mu.Unlock()
	f.Count = max(f.Count, 0)
	st.fault = f
	st.faultsLeft.Store(int64(f.Count))
}

// takeFault consumes one injected fault, if any is left.
func (st *state) takeFault() (Fault, bool) {
	if st.faultsLeft.Load() <= 0 {
		return Fault{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.fault.Count <= 0 {
		return Fault{}, false
	}
	st.fault.Count--
	st.faultsLeft.Store(int64(st.fault.Count))
	return st.fault, true
}

// SetLatency delays every provider answer by d (0: none), plus the jitter of SetJitter.
func (st *state) SetLatency(d time.Duration) { st.latency.Store(int64(max(d, 0))) }

// SetJitter adds to the latency of each provider answer a uniform random delay in [0, j)
// (0: none).
func (st *state) SetJitter(j time.Duration) { st.jitter.Store(int64(max(j, 0))) }

// answerDelay is how long the next provider answer waits: the latency plus a uniform random
// value in [0, jitter).
func (st *state) answerDelay() time.Duration {
	d := time.Duration(st.latency.Load())
	if j := st.jitter.Load(); j > 0 {
		d += time.Duration(st.randN(j))
	}
	return d
}

// Reset clears faults, latency, jitter, unregistered tokens, kept deliveries and the request counters.
// The connection counters stay: the connections do.
func (st *state) Reset() {
	st.mu.Lock()
	st.fault = Fault{}
	st.faultsLeft.Store(0)
	clear(st.unregistered)
	st.unregisteredCount.Store(0)
	st.mu.Unlock()
	st.latency.Store(0)
	st.jitter.Store(0)

	st.recMu.Lock()
	st.kept = journal{}
	clear(st.rejected)
	st.requests.Store(0)
	st.accepted.Store(0)
	st.maxConcurrent.Store(0)
	st.recMu.Unlock()
}

// Deliveries returns the kept accepted notifications, oldest first.
func (st *state) Deliveries() []Delivery {
	d, err := decodeChunks(st.keptChunks())
	if err != nil {
		st.logf("apns simulator: %v", err) // not reached: the lines are appendDelivery's
	}
	return d
}

func (st *state) keptChunks() [][]byte {
	st.recMu.Lock()
	defer st.recMu.Unlock()
	return st.kept.snapshot()
}

// wantLine reports whether record needs the JSON line of an accepted notification.
func (st *state) wantLine() bool {
	if st.out != nil {
		return true
	}
	st.recMu.Lock()
	defer st.recMu.Unlock()
	return st.kept.lines < st.maxKept
}

// Stats returns the counters.
func (st *state) Stats() Stats {
	st.recMu.Lock()
	rejected := make(map[string]int64, len(st.rejected))
	for k, v := range st.rejected {
		rejected[k] = v
	}
	st.recMu.Unlock()
	return Stats{
		Requests:        st.requests.Load(),
		Accepted:        st.accepted.Load(),
		Rejected:        rejected,
		Connections:     st.connections.Load(),
		OpenConnections: st.open.Load(),
		MaxConcurrent:   st.maxConcurrent.Load(),
	}
}

// WaitDeliveries waits until at least n notifications were accepted since the last Reset.
func (st *state) WaitDeliveries(ctx context.Context, n int) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for st.accepted.Load() < int64(n) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %d deliveries (have %d): %w", n, st.accepted.Load(), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// enter counts a provider request in progress and keeps the maximum; the caller calls leave.
func (st *state) enter() {
	st.requests.Add(1)
	cur := st.inflight.Add(1)
	for {
		m := st.maxConcurrent.Load()
		if cur <= m || st.maxConcurrent.CompareAndSwap(m, cur) {
			return
		}
	}
}

func (st *state) leave() { st.inflight.Add(-1) }

// record counts an accepted notification, keeps its JSON line (nil if !wantLine) and
// appends it to the writer.
func (st *state) record(line []byte) {
	st.recMu.Lock()
	defer st.recMu.Unlock()
	st.accepted.Add(1)
	if line == nil {
		return
	}
	if st.kept.lines < st.maxKept {
		st.kept.add(line)
	}
	if st.out != nil && !st.outFailed {
		if _, err := st.out.Write(line); err != nil {
			st.outFailed = true
			st.logf("apns simulator: write deliveries (no more will be written): %v", err)
		}
	}
}

func (st *state) recordRejected(reason string) {
	st.recMu.Lock()
	st.rejected[reason]++
	st.recMu.Unlock()
}

func (st *state) flushDeliveries() error {
	st.recMu.Lock()
	defer st.recMu.Unlock()
	if st.out == nil || st.outFailed {
		return nil
	}
	return st.out.Flush()
}
