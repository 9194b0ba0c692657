package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"offpush/presence"
)

// mergeRunners is how many merged calls of one kind (lookup, claim, done, release) are in
// flight at once. A call that finds every runner busy waits and is merged with the others
// that queued meanwhile, so under load many events share one Redis pipeline, and at low
// load a call goes out at once, alone.
const mergeRunners = 4

// bulkMergeRunners is mergeRunners for the bulk lane (large events). Redis serves the
// pipelines of its clients in turn, a read buffer of each at a time, so every large pipeline
// in progress delays a small event's call. With one runner per kind instead of four, the
// one-to-one latency under a 20,000-member group's burst at a 100 ms round trip fell from
// p99 339 to 278 ms (offpush bench --profile hot-group --apns-rtt 100ms), and the group's
// pushes/s did not fall: Redis runs one command at a time whatever the number of pipelines.
const bulkMergeRunners = 1

// mergeMax bounds the items of one merged call; a larger call goes out alone. It is above
// the default batch so that a full batch is not split.
const mergeMax = 1024

// failingFor is how long the users of a call that failed on its own are kept out of merged
// calls, unless a later call of theirs succeeds first.
const failingFor = 10 * time.Second

// coalescer is a Store that merges the Lookup, Claim, Done and Release calls of concurrent
// events into one call of the underlying Store each: one Redis round trip instead of one per
// event, which is most of a one-to-one push's cost.
//
// One unavailable slot (a Redis Cluster master down) must hold back only the events that
// touch it. A merged call fails as a whole, so when one fails its calls are tried again each
// on its own and at once, not one after another: the others' results do not wait for the
// failing ones. The users of a call that failed on its own are then kept out of merged calls
// (their calls go out alone, from the caller) until a call of theirs succeeds, or for
// failingFor, so that later merged calls do not wait for them to fail again.
type coalescer struct {
	Store
	lookup  *merger[string, presence.Recipient]
	claim   *merger[presence.Claim, presence.ClaimResult]
	done    *merger[presence.Claim, struct{}]
	release *merger[presence.Claim, struct{}]
}

func newCoalescer(s Store, runners int) *coalescer {
	noResult := func(f func(context.Context, []presence.Claim) error) func(context.Context, []presence.Claim) ([]struct{}, error) {
		return func(ctx context.Context, in []presence.Claim) ([]struct{}, error) {
			return make([]struct{}, len(in)), f(ctx, in)
		}
	}
	user := func(c presence.Claim) string { return c.UserID }
	return &coalescer{Store: s,
		lookup:  newMerger(s.Lookup, func(u string) string { return u }, runners),
		claim:   newMerger(s.Claim, user, runners),
		done:    newMerger(noResult(s.Done), user, runners),
		release: newMerger(noResult(s.Release), user, runners),
	}
}

// start runs the mergers until stop; calls made before start wait for it.
func (c *coalescer) start() {
	for _, m := range []interface{ start() }{c.lookup, c.claim, c.done, c.release} {
		m.start()
	}
}

// stop ends the mergers once no call is pending; no call may be made after it.
func (c *coalescer) stop() {
	for _, m := range []interface{ stop() }{c.lookup, c.claim, c.done, c.release} {
		m.stop()
	}
}

func (c *coalescer) Lookup(ctx context.Context, userIDs []string) ([]presence.Recipient, error) {
	return c.lookup.call(ctx, userIDs)
}

func (c *coalescer) Claim(ctx context.Context, claims []presence.Claim) ([]presence.ClaimResult, error) {
	return c.claim.call(ctx, claims)
}

func (c *coalescer) Done(ctx context.Context, claims []presence.Claim) error {
	_, err := c.done.call(ctx, claims)
	return err
}

func (c *coalescer) Release(ctx context.Context, claims []presence.Claim) error {
	_, err := c.release.call(ctx, claims)
	return err
}

// merger merges concurrent calls of do whose results are in input order. key names the
// user of an item: the unit that a failed call keeps out of merged calls.
type merger[T, R any] struct {
	do      func(context.Context, []T) ([]R, error)
	key     func(T) string
	calls   chan *mergeCall[T, R]
	runners int
	wg      sync.WaitGroup

	pool     sync.Pool    // *mergeCall[T, R], reused once their caller has read the answer
	nFailing atomic.Int64 // len(failing): calls skip the lock while nobody fails
	mu       sync.Mutex
	failing  map[string]time.Time // users of calls that failed on their own, until when
	pruneAt  int                  // len(failing) at which expired entries are removed
}

type mergeCall[T, R any] struct {
	ctx  context.Context
	in   []T
	out  []R
	err  error
	done chan struct{} // capacity 1: answered sends once, the caller receives once
}

func newMerger[T, R any](do func(context.Context, []T) ([]R, error), key func(T) string, runners int) *merger[T, R] {
	return &merger[T, R]{do: do, key: key, calls: make(chan *mergeCall[T, R], 4*runners), runners: runners,
		failing: map[string]time.Time{}, pruneAt: 1024}
}

func (m *merger[T, R]) start() {
	for range m.runners {
		m.wg.Go(m.run)
	}
}

func (m *merger[T, R]) stop() {
	close(m.calls)
	m.wg.Wait()
}

// call runs do(in), merged with whatever other calls are waiting, or alone if a user of in
// failed lately.
func (m *merger[T, R]) call(ctx context.Context, in []T) ([]R, error) {
	if len(in) == 0 {
		return nil, nil
	}
	c, _ := m.pool.Get().(*mergeCall[T, R])
	if c == nil {
		c = &mergeCall[T, R]{done: make(chan struct{}, 1)}
	}
	c.ctx, c.in = ctx, in
	if m.anyFailing(in) {
		m.alone(c)
	} else {
		select {
		case m.calls <- c:
			<-c.done
		case <-ctx.Done():
			c.err = ctx.Err()
		}
	}
	out, err := c.out, c.err
	*c = mergeCall[T, R]{done: c.done}
	m.pool.Put(c)
	return out, err
}

// answered tells c's caller that c.out and c.err are set; c is not touched after it.
func answered[T, R any](c *mergeCall[T, R]) { c.done <- struct{}{} }

// run takes a call and every call already queued behind it, up to mergeMax items, and makes
// them one call of do.
func (m *merger[T, R]) run() {
	var batch []*mergeCall[T, R]
	for c := range m.calls {
		batch = append(batch[:0], c)
		n := len(c.in)
	more:
		for n < mergeMax {
			select {
			case c, ok := <-m.calls:
				if !ok {
					break more
				}
				batch = append(batch, c)
				n += len(c.in)
			default:
				break more
			}
		}
		m.runBatch(batch, n)
		clear(batch)
	}
}

// runBatch makes batch one call of do, or, if that fails, gives each call a goroutine of its
// own: the runner goes back to merging and no call waits for another's failure.
func (m *merger[T, R]) runBatch(batch []*mergeCall[T, R], n int) {
	if len(batch) == 1 {
		m.alone(batch[0])
		answered(batch[0])
		return
	}
	in := make([]T, 0, n)
	for _, c := range batch {
		in = append(in, c.in...)
	}
	out, err := m.do(batch[0].ctx, in)
	if err == nil && len(out) == n {
		for _, c := range batch {
			c.out, out = out[:len(c.in):len(c.in)], out[len(c.in):]
			answered(c)
		}
		return
	}
	for _, c := range batch {
		m.wg.Go(func() {
			m.alone(c)
			answered(c)
		})
	}
}

// alone runs c as a call of do of its own and notes whether its users failed.
func (m *merger[T, R]) alone(c *mergeCall[T, R]) {
	c.out, c.err = m.do(c.ctx, c.in)
	switch {
	case c.err == nil:
		if m.nFailing.Load() > 0 {
			m.setFailing(c.in, time.Time{})
		}
	case c.ctx.Err() == nil: // the caller's end says nothing about its users
		m.setFailing(c.in, time.Now().Add(failingFor))
	}
}

// anyFailing reports whether a user of in failed on its own less than failingFor ago.
func (m *merger[T, R]) anyFailing(in []T) bool {
	if m.nFailing.Load() == 0 {
		return false
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range in {
		if until, ok := m.failing[m.key(v)]; ok && now.Before(until) {
			return true
		}
	}
	return false
}

// setFailing keeps the users of in out of merged calls until until, or lets them back in
// when until is zero.
func (m *merger[T, R]) setFailing(in []T, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range in {
		if until.IsZero() {
			delete(m.failing, m.key(v))
		} else {
			m.failing[m.key(v)] = until
		}
	}
	if len(m.failing) >= m.pruneAt {
		now := time.Now()
		for k, t := range m.failing {
			if !now.Before(t) {
				delete(m.failing, k)
			}
		}
		m.pruneAt = max(1024, 2*len(m.failing))
	}
	m.nFailing.Store(int64(len(m.failing)))
}
