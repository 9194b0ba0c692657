package pipeline

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGoPoolLIFO checks that the goroutine that went idle last takes the next function.
func TestGoPoolLIFO(t *testing.T) {
	g := newGoPool()
	var started sync.WaitGroup
	release := make([]chan struct{}, 3)
	for i := range release {
		release[i] = make(chan struct{})
		started.Add(1)
		g.Go(func() { started.Done(); <-release[i] })
	}
	started.Wait()
	for i := range release { // idle in the order 0, 1, 2
		close(release[i])
		waitFor(t, func() bool { return g.idleCount() == i+1 })
	}
	g.mu.Lock()
	first, second, last := g.idle[0], g.idle[1], g.idle[2]
	g.mu.Unlock()

	block := make(chan struct{})
	running := make(chan struct{})
	g.Go(func() { close(running); <-block })
	<-running
	g.mu.Lock()
	rest := append([]*poolWorker(nil), g.idle...)
	g.mu.Unlock()
	if len(rest) != 2 || rest[0] != first || rest[1] != second {
		t.Errorf("after one Go the idle goroutines are %v, want the first two (%p %p) of %p %p %p", rest, first, second, first, second, last)
	}
	close(block)
	waitFor(t, func() bool { return g.idleCount() == 3 })
	g.mu.Lock()
	top := g.idle[2]
	g.mu.Unlock()
	if top != last {
		t.Errorf("the goroutine that ran it is not back on top")
	}
}

// TestGoPoolExit checks that idle goroutines leave after idleFor, and that functions handed
// over while the reaper ends idle goroutines all run: many functions, each run exactly once,
// while goroutines keep timing out.
func TestGoPoolExit(t *testing.T) {
	g := newGoPool()
	g.idleFor = time.Microsecond
	var runs atomic.Int64
	var wg sync.WaitGroup
	const n = 20000
	for i := range n {
		wg.Add(1)
		g.Go(func() { runs.Add(1); wg.Done() })
		if i%64 == 0 {
			time.Sleep(10 * time.Microsecond) // let timers fire between bursts
		}
	}
	wg.Wait()
	if got := runs.Load(); got != n {
		t.Fatalf("%d runs, want %d", got, n)
	}
	waitFor(t, func() bool { return g.idleCount() == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
