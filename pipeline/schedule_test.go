package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// keyed is a job of key k with a value of size bytes.
func keyed(k string, offset int64, size int) *job {
	return &job{msg: kafka.Message{Key: []byte(k), Offset: offset, Value: make([]byte, size)}}
}

// gate is a run function whose events block until released, recording the order they start.
type gate struct {
	mu      sync.Mutex
	started []string
	release map[string]chan struct{} // by "key/offset"
	running chan string
}

func newGate() *gate {
	return &gate{release: map[string]chan struct{}{}, running: make(chan string, 100)}
}

func name(j *job) string { return fmt.Sprintf("%s/%d", j.msg.Key, j.msg.Offset) }

func (g *gate) ch(n string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.release[n]
	if c == nil {
		c = make(chan struct{})
		g.release[n] = c
	}
	return c
}

func (g *gate) run(j *job) {
	n := name(j)
	g.mu.Lock()
	g.started = append(g.started, n)
	g.mu.Unlock()
	g.running <- n
	<-g.ch(n)
}

func (g *gate) open(n string) { close(g.ch(n)) }

// next is the next event to start, failing after a second.
func (g *gate) next(t *testing.T) string {
	t.Helper()
	select {
	case n := <-g.running:
		return n
	case <-time.After(time.Second):
		t.Fatal("no event started")
		return ""
	}
}

func (g *gate) none(t *testing.T) {
	t.Helper()
	select {
	case n := <-g.running:
		t.Fatalf("%s started, want none", n)
	case <-time.After(50 * time.Millisecond):
	}
}

func admitNow(t *testing.T, s *scheduler, j *job) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if !s.admit(ctx, j) {
		t.Fatalf("admit %s: blocked", name(j))
	}
}

// TestSchedulerKeyOrder: the events of one key run one at a time in fetch order; a backlog
// of one key neither blocks the fetch loop (admit) nor delays other keys.
func TestSchedulerKeyOrder(t *testing.T) {
	g := newGate()
	s := newScheduler(100, 1<<20, newGoPool(), g.run, func() bool { return false })
	for i := range 5 {
		admitNow(t, s, keyed("a", int64(i), 10))
	}
	if n := g.next(t); n != "a/0" {
		t.Fatalf("first started %s, want a/0", n)
	}
	g.none(t) // a/1 waits for a/0
	admitNow(t, s, keyed("b", 10, 10))
	if n := g.next(t); n != "b/10" {
		t.Fatalf("started %s, want b/10 while a/0 runs", n)
	}
	for i := range 5 {
		g.open(fmt.Sprintf("a/%d", i))
		if i < 4 {
			if n, want := g.next(t), fmt.Sprintf("a/%d", i+1); n != want {
				t.Fatalf("started %s, want %s", n, want)
			}
		}
	}
	g.open("b/10")
	s.wait()
	if s.events != 0 || s.bytes != 0 || len(s.keys) != 0 {
		t.Errorf("after the run: %d events, %d bytes in flight, %d keys", s.events, s.bytes, len(s.keys))
	}
}

// TestSchedulerBudget: admit waits while the event or byte budget is spent, and gives up with
// its ctx; an event larger than the byte budget runs alone.
func TestSchedulerBudget(t *testing.T) {
	g := newGate()
	s := newScheduler(2, 100, newGoPool(), g.run, func() bool { return false })
	admitNow(t, s, keyed("a", 0, 10))
	admitNow(t, s, keyed("b", 1, 10))
	g.next(t)
	g.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if s.admit(ctx, keyed("c", 2, 10)) {
		t.Fatal("admitted a third event with maxEvents 2")
	}
	done := make(chan bool)
	go func() { done <- s.admit(context.Background(), keyed("c", 3, 10)) }()
	g.none(t)
	g.open("a/0")
	if !<-done || g.next(t) != "c/3" {
		t.Fatal("c/3 not admitted after a/0 finished")
	}
	g.open("b/1")
	g.open("c/3")
	s.wait()

	// bytes: 60 + 60 > 100 waits; 500 alone is admitted.
	admitNow(t, s, keyed("d", 4, 60))
	g.next(t)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if s.admit(ctx2, keyed("e", 5, 60)) {
		t.Fatal("admitted 120 bytes with maxBytes 100")
	}
	g.open("d/4")
	s.wait()
	admitNow(t, s, keyed("f", 6, 500))
	g.next(t)
	g.open("f/6")
	s.wait()
}

// TestSchedulerSkip: once skip reports true, queued events of a key are not started.
func TestSchedulerSkip(t *testing.T) {
	g := newGate()
	var stop sync.Mutex
	stopping := false
	s := newScheduler(10, 1<<20, newGoPool(), g.run, func() bool { stop.Lock(); defer stop.Unlock(); return stopping })
	admitNow(t, s, keyed("a", 0, 1))
	admitNow(t, s, keyed("a", 1, 1))
	g.next(t)
	stop.Lock()
	stopping = true
	stop.Unlock()
	g.open("a/0")
	s.wait()
	if len(g.started) != 1 {
		t.Errorf("started %v, want only a/0", g.started)
	}
}

// TestSchedulerNoKey: events without a key are not ordered against each other.
func TestSchedulerNoKey(t *testing.T) {
	g := newGate()
	s := newScheduler(10, 1<<20, newGoPool(), g.run, func() bool { return false })
	admitNow(t, s, keyed("", 0, 1))
	admitNow(t, s, keyed("", 1, 1))
	a, b := g.next(t), g.next(t)
	g.open(a)
	g.open(b)
	s.wait()
}

// TestSchedulerRefill: once the budget was found spent, admission resumes only when a
// sixteenth of it is free, not at the first finished event.
func TestSchedulerRefill(t *testing.T) {
	g := newGate()
	s := newScheduler(32, 1<<20, newGoPool(), g.run, func() bool { return false })
	for i := range 32 {
		admitNow(t, s, keyed(fmt.Sprint("k", i), int64(i), 1))
		g.next(t)
	}
	done := make(chan bool)
	go func() { done <- s.admit(context.Background(), keyed("late", 100, 1)) }()
	g.none(t)
	g.open("k0/0") // 31 in flight: more than 32 - 32/16
	g.none(t)
	select {
	case <-done:
		t.Fatal("admitted at the first finished event, want a refill of 2")
	default:
	}
	g.open("k1/1") // 30 in flight: a sixteenth free
	if !<-done || g.next(t) != "late/100" {
		t.Fatal("not admitted once a sixteenth of the budget was free")
	}
	for i := 2; i < 32; i++ {
		g.open(fmt.Sprintf("k%d/%d", i, i))
	}
	g.open("late/100")
	s.wait()
	admitNow(t, s, keyed("after", 101, 1)) // an idle budget admits at once
	g.next(t)
	g.open("after/101")
	s.wait()
}
