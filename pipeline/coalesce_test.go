package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	})
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
	})
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

// queued waits until the merger's runners are all blocked in do and the other calls queue
// behind them: every item is in do or queued, or the queue is full. per is items per call.
func queued[T, R any](m *merger[T, R], inDo *atomic.Int64, items, per int) {
	for int(inDo.Load())+per*len(m.calls) < items && len(m.calls) < cap(m.calls) {
		time.Sleep(time.Millisecond)
	}
}
