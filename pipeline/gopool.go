package pipeline

import (
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
// shrunk and grow its stack again, a copy or more per push. The ones at the bottom stay idle,
// and a reaper goroutine (running while any goroutine is idle) ends those idle for longer
// than idleFor, so the pool shrinks after a burst. An idle goroutine just waits on its
// channel: no timer per function run, which would cost a timer reset and a two-way select
// per push.
type goPool struct {
	idleFor time.Duration // an idle goroutine exits after this long, within half as long again: goIdle
	mu      sync.Mutex
	idle    []*poolWorker // the last one went idle last, so their idle times rise from the bottom
	reaping bool          // the reaper runs
}

// poolWorker is an idle goroutine of the pool; Go hands it a function on next, the reaper
// nil to end it.
type poolWorker struct {
	next  chan func() // capacity 1: neither Go nor the reaper waits
	since time.Time   // when it went idle; under goPool.mu
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
	for f != nil {
		f()
		g.mu.Lock()
		w.since = time.Now()
		g.idle = append(g.idle, w)
		if !g.reaping {
			g.reaping = true
			go g.reap()
		}
		g.mu.Unlock()
		f = <-w.next
	}
}

// reap ends, every idleFor/2, the goroutines idle for longer than idleFor (the bottom of the
// stack), and returns once none is idle.
func (g *goPool) reap() {
	t := time.NewTicker(max(g.idleFor/2, time.Microsecond))
	defer t.Stop()
	for range t.C {
		g.mu.Lock()
		cutoff := time.Now().Add(-g.idleFor)
		n := 0
		for n < len(g.idle) && g.idle[n].since.Before(cutoff) {
			g.idle[n].next <- nil
			n++
		}
		rest := copy(g.idle, g.idle[n:])
		clear(g.idle[rest:])
		g.idle = g.idle[:rest]
		if rest == 0 {
			g.reaping = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
	}
}

// idleCount is the number of idle goroutines (tests).
func (g *goPool) idleCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.idle)
}
