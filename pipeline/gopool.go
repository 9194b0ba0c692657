package pipeline

import "time"

// goPool runs functions on goroutines that outlive them: an idle goroutine takes the next
// function instead of a new goroutine growing a new stack for every event or push (the APNs
// client's call chain is deep: a fresh goroutine's stack is copied twice on its way down).
// Goroutines idle for goIdle exit, so the pool shrinks after a burst.
type goPool struct {
	idle chan func()
}

const goIdle = 10 * time.Second

func newGoPool() *goPool { return &goPool{idle: make(chan func())} }

// Go runs f on an idle goroutine, or on a new one if none is idle.
func (g *goPool) Go(f func()) {
	select {
	case g.idle <- f:
	default:
		go g.work(f)
	}
}

func (g *goPool) work(f func()) {
	t := time.NewTimer(goIdle)
	defer t.Stop()
	for {
		f()
		t.Reset(goIdle)
		select {
		case f = <-g.idle:
		case <-t.C:
			return
		}
	}
}
