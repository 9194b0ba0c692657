package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestMergerMerges: calls that queue while every runner is busy go out as one call of do, and
// each caller gets its own results, in its own order.
func TestMergerMerges(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	var inDo atomic.Int64
	m := newMerger(func(_ context.Context, in []int) ([]string, error) {
		inDo.Add(int64(len(in)))
		<-gate
		mu.Lock()
		sizes = append(sizes, len(in))
		mu.Unlock()
		out := make([]string, len(in))
		for i, v := range in {
			out[i] = fmt.Sprint(v)
		}
		return out, nil
	}, strconv.Itoa, mergeRunners)
	m.start()
	const calls = 40
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for i := range calls {
		wg.Go(func() {
			out, err := m.call(context.Background(), []int{i, i + 1000})
			if err != nil || !slices.Equal(out, []string{fmt.Sprint(i), fmt.Sprint(i + 1000)}) {
				errs <- fmt.Errorf("call %d: %v %v", i, out, err)
			}
		})
	}
	queued(m, &inDo, 2*calls, 2)
	close(gate)
	wg.Wait()
	m.stop()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	for _, n := range sizes {
		total += n
	}
	if total != 2*calls || len(sizes) >= calls {
		t.Errorf("do called %d times with %v items; want fewer calls than %d, %d items", len(sizes), sizes, calls, 2*calls)
	}
}

// TestMergerFailureIsolated: when a merged call fails, each call is tried on its own, so only
// the call whose items fail gets the error.
func TestMergerFailureIsolated(t *testing.T) {
	gate := make(chan struct{})
	bad := errors.New("slot down")
	var inDo atomic.Int64
	m := newMerger(func(_ context.Context, in []int) ([]int, error) {
		inDo.Add(int64(len(in)))
		<-gate
		if slices.Contains(in, 13) {
			return nil, bad
		}
		return in, nil
	}, strconv.Itoa, mergeRunners)
	m.start()
	defer m.stop()
	var wg sync.WaitGroup
	res := make([]error, 30)
	for i := range res {
		wg.Go(func() { _, res[i] = m.call(context.Background(), []int{i}) })
	}
	queued(m, &inDo, len(res), 1)
	close(gate)
	wg.Wait()
	for i, err := range res {
		if (i == 13) != (err != nil) {
			t.Errorf("call %d: err %v", i, err)
		}
	}
}

// TestMergerFailureDoesNotHoldOthers: a merged call that includes users whose calls take long
// to fail (a dead Redis master) delays the other calls of the batch by that one failure, not
// by one failure per failing call; afterwards the failing users' calls go out alone and the
// others' merged calls do not wait for them at all, until a failing user's call succeeds.
func TestMergerFailureDoesNotHoldOthers(t *testing.T) {
	const slow = 300 * time.Millisecond // how long a call with a dead user takes to fail
	gate := make(chan struct{})
	var dead atomic.Bool
	dead.Store(true)
	var inDo atomic.Int64
	m := newMerger(func(_ context.Context, in []int) ([]int, error) {
		inDo.Add(int64(len(in)))
		<-gate
		if dead.Load() && slices.ContainsFunc(in, func(v int) bool { return v < 0 }) {
			time.Sleep(slow)
			return nil, errors.New("dial tcp: connection refused")
		}
		return in, nil
	}, strconv.Itoa, mergeRunners)
	m.start()
	defer m.stop()

	// round calls the users 1..healthy and -1..-failing, each user a call of its own, and
	// returns how long the slowest healthy call took and every healthy result.
	round := func(healthy, failing int, wait func()) (time.Duration, []error) {
		var wg sync.WaitGroup
		took := make([]time.Duration, healthy)
		errs := make([]error, healthy)
		start := time.Now()
		for i := range failing {
			wg.Go(func() { _, _ = m.call(context.Background(), []int{-1 - i}) })
		}
		for i := range healthy {
			wg.Go(func() {
				out, err := m.call(context.Background(), []int{1 + i})
				if err == nil && !slices.Equal(out, []int{1 + i}) {
					err = fmt.Errorf("call of %d got %v", 1+i, out)
				}
				took[i], errs[i] = time.Since(start), err
			})
		}
		wait()
		wg.Wait()
		return slices.Max(took), errs
	}

	// The runners wait in do while the calls queue, so the healthy calls are merged with the
	// failing ones: the merged call fails after slow, then each call runs on its own.
	for range mergeRunners {
		go func() { _, _ = m.call(context.Background(), []int{0}) }()
	}
	took, errs := round(8, 6, func() {
		queued(m, &inDo, mergeRunners+14, 1)
		close(gate)
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Before, the 6 failing calls ran one after another ahead of the healthy ones: 7 × slow.
	if took > 3*slow {
		t.Errorf("healthy calls merged with failing ones took %v, want about %v (one failure)", took, slow)
	}

	// The failing users are known now: their calls go alone and the healthy ones do not
	// wait for them.
	took, errs = round(8, 6, func() {})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if took > slow/2 {
		t.Errorf("healthy calls took %v while known-failing users' calls were made, want well under %v", took, slow)
	}

	// A failing user whose call succeeds is merged again.
	dead.Store(false)
	if _, err := m.call(context.Background(), []int{-1}); err != nil {
		t.Fatal(err)
	}
	if m.anyFailing([]int{-1}) || !m.anyFailing([]int{-2}) {
		t.Errorf("after -1's call succeeded: -1 failing %v, -2 failing %v; want false, true", m.anyFailing([]int{-1}), m.anyFailing([]int{-2}))
	}
}

// queued waits until the merger's runners are all blocked in do and the other calls queue
// behind them: every item is in do or queued, or the queue is full. per is items per call.
func queued[T, R any](m *merger[T, R], inDo *atomic.Int64, items, per int) {
	for int(inDo.Load())+per*len(m.calls) < items && len(m.calls) < cap(m.calls) {
		time.Sleep(time.Millisecond)
	}
}

// TestMergerRunners: a merger runs at most its runners' number of calls of do at once (the
// bulk lane's coalescer has bulkMergeRunners: one).
func TestMergerRunners(t *testing.T) {
	for _, runners := range []int{1, 3} {
		var now, most atomic.Int64
		m := newMerger(func(_ context.Context, in []int) ([]int, error) {
			n := now.Add(1)
			for {
				old := most.Load()
				if n <= old || most.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			now.Add(-1)
			return in, nil
		}, strconv.Itoa, runners)
		m.start()
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() { _, _ = m.call(context.Background(), []int{i}) })
		}
		wg.Wait()
		m.stop()
		if got := most.Load(); got > int64(runners) || (runners > 1 && got < 2) {
			t.Errorf("%d runners: %d calls of do at once", runners, got)
		}
	}
}

// TestMergerCallAllocs: a call's state (its record and answer channel) is reused, so a call
// allocates nothing of its own.
func TestMergerCallAllocs(t *testing.T) {
	out := []string{"x"}
	m := newMerger(func(_ context.Context, in []int) ([]string, error) { return out[:len(in)], nil }, strconv.Itoa, 1)
	m.start()
	defer m.stop()
	in := []int{1}
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() {
		if got, err := m.call(ctx, in); err != nil || len(got) != 1 {
			t.Fatalf("call: %v %v", got, err)
		}
	}); n > 0.1 {
		t.Errorf("%.2f allocations per call, want 0", n)
	}
}
