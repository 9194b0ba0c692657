package pipeline

import (
	"context"
	"sync"

	"offpush/presence"
)

// mergeRunners is how many merged calls of one kind (lookup, claim, done, release) are in
// flight at once. A call that finds every runner busy waits and is merged with the others
// that queued meanwhile, so under load many events share one Redis pipeline, and at low
// load a call goes out at once, alone.
const mergeRunners = 4

// mergeMax bounds the items of one merged call; a larger call goes out alone. It is above
// the default batch so that a full batch is not split.
const mergeMax = 1024

// coalescer is a Store that merges the Lookup, Claim, Done and Release calls of concurrent
// events into one call of the underlying Store each: one Redis round trip instead of one per
// event, which is most of a one-to-one push's cost. A merged call that fails is retried call
// by call, so that one unavailable slot (a Redis Cluster master down) fails only the events
// that touch it.
type coalescer struct {
	Store
	lookup  *merger[string, presence.Recipient]
	claim   *merger[presence.Claim, presence.ClaimResult]
	done    *merger[presence.Claim, struct{}]
	release *merger[presence.Claim, struct{}]
}

func newCoalescer(s Store) *coalescer {
	noResult := func(f func(context.Context, []presence.Claim) error) func(context.Context, []presence.Claim) ([]struct{}, error) {
		return func(ctx context.Context, in []presence.Claim) ([]struct{}, error) {
			return make([]struct{}, len(in)), f(ctx, in)
		}
	}
	return &coalescer{Store: s,
		lookup:  newMerger(s.Lookup),
		claim:   newMerger(s.Claim),
		done:    newMerger(noResult(s.Done)),
		release: newMerger(noResult(s.Release)),
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

// merger merges concurrent calls of do whose results are in input order.
type merger[T, R any] struct {
	do    func(context.Context, []T) ([]R, error)
	calls chan *mergeCall[T, R]
	wg    sync.WaitGroup
}

type mergeCall[T, R any] struct {
	ctx  context.Context
	in   []T
	out  []R
	err  error
	done chan struct{}
}

func newMerger[T, R any](do func(context.Context, []T) ([]R, error)) *merger[T, R] {
	return &merger[T, R]{do: do, calls: make(chan *mergeCall[T, R], 4*mergeRunners)}
}

func (m *merger[T, R]) start() {
	for range mergeRunners {
		m.wg.Go(m.run)
	}
}

func (m *merger[T, R]) stop() {
	close(m.calls)
	m.wg.Wait()
}

// call runs do(in), merged with whatever other calls are waiting.
func (m *merger[T, R]) call(ctx context.Context, in []T) ([]R, error) {
	if len(in) == 0 {
		return nil, nil
	}
	c := &mergeCall[T, R]{ctx: ctx, in: in, done: make(chan struct{})}
	select {
	case m.calls <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-c.done
	return c.out, c.err
}

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

func (m *merger[T, R]) runBatch(batch []*mergeCall[T, R], n int) {
	defer func() {
		for _, c := range batch {
			close(c.done)
		}
	}()
	if len(batch) > 1 {
		in := make([]T, 0, n)
		for _, c := range batch {
			in = append(in, c.in...)
		}
		out, err := m.do(batch[0].ctx, in)
		if err == nil && len(out) == n {
			for _, c := range batch {
				c.out, out = out[:len(c.in):len(c.in)], out[len(c.in):]
			}
			return
		}
	}
	for _, c := range batch { // alone, or the merged call failed: each on its own
		c.out, c.err = m.do(c.ctx, c.in)
	}
}
