package pipeline

import (
	"slices"
	"sync"
	"time"
)

// goPool runs functions on goroutines that outlive them: an idle goroutine takes the next
// function instead of a new goroutine growing a new stack for every event or push (the APNs
// client's call chain is deep: a fresh goroutine's stack is copied twice on its way down).
//
// The goroutine that went idle last takes the next function (LIFO). Its stack is still grown:
// the garbage collector halves the stack of a goroutine that is idle when it scans, so with a
// first-in-first-out handoff every goroutine of a large pool would wait long enough to be
// shrunk and grow its stack again, a copy or more per push. The ones at the bottom stay idle
// and exit after goIdle, so the pool shrinks after a burst.
type goPool struct {
	idleFor time.Duration // an idle goroutine exits after this long: goIdle
	mu      sync.Mutex
	idle    []*poolWorker // the last one went idle last
}

// poolWorker is an idle goroutine of the pool; Go hands it a function on next.
type poolWorker struct {
	next chan func() // capacity 1: Go never waits
}

const goIdle = 10 * time.Second

func newGoPool() *goPool { return &goPool{idleFor: goIdle} }

// Go runs f on the goroutine that went idle last, or on a new one if none is idle.
func (g *goPool) Go(f func()) {
	g.mu.Lock()
	if n := len(g.idle); n > 0 {
		w := g.idle[n-1]
		g.idle[n-1] = nil
		g.idle = g.idle[:n-1]
		g.mu.Unlock()
		w.next <- f
		return
	}
	g.mu.Unlock()
	go g.work(&poolWorker{next: make(chan func(), 1)}, f)
}

func (g *goPool) work(w *poolWorker, f func()) {
	t := time.NewTimer(g.idleFor)
	defer t.Stop()
	for {
		f()
		g.mu.Lock()
		g.idle = append(g.idle, w)
		g.mu.Unlock()
		t.Reset(g.idleFor)
		select {
		case f = <-w.next:
			continue
		case <-t.C:
		}
		g.mu.Lock()
		if i := slices.Index(g.idle, w); i >= 0 {
			g.idle = slices.Delete(g.idle, i, i+1) // still idle: leave the pool
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		f = <-w.next // Go took it as the timer fired: its function is on the way
	}
}

// idleCount is the number of idle goroutines (tests).
func (g *goPool) idleCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.idle)
}
