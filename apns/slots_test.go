package apns

import (
	"context"
	"testing"
	"time"
)

// TestSlotsPriority: a freed slot goes to the first waiting Fast request before any Bulk one,
// and a Bulk request does not overtake waiting Fast ones even when a slot is free.
func TestSlotsPriority(t *testing.T) {
	s := newSlots(1)
	ctx := context.Background()
	if err := s.acquire(ctx, Bulk); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	wait := func(name string, lane Lane) {
		go func() {
			if err := s.acquire(ctx, lane); err == nil {
				order <- name
			}
		}()
	}
	wait("bulk1", Bulk)
	waitQueued(t, s, Bulk, 1)
	wait("fast1", Fast)
	waitQueued(t, s, Fast, 1)
	wait("fast2", Fast)
	waitQueued(t, s, Fast, 2)
	for _, want := range []string{"fast1", "fast2", "bulk1"} {
		s.release()
		if got := <-order; got != want {
			t.Fatalf("slot went to %s, want %s", got, want)
		}
	}
	s.release()
	if s.free != 1 {
		t.Errorf("free = %d after all released, want 1", s.free)
	}
}

// TestSlotsCancel: a request that gives up while waiting leaves the queue, and a slot granted
// to it at the same moment is handed on, not lost.
func TestSlotsCancel(t *testing.T) {
	s := newSlots(1)
	_ = s.acquire(context.Background(), Fast)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.acquire(ctx, Fast); err == nil {
		t.Fatal("acquired a slot that was taken")
	}
	if len(s.wait[Fast]) != 0 {
		t.Fatalf("%d waiters left after cancellation", len(s.wait[Fast]))
	}
	s.release()
	if s.free != 1 {
		t.Fatalf("free = %d, want 1", s.free)
	}
	// Granted and cancelled at once: the slot must come back.
	for range 200 {
		_ = s.acquire(context.Background(), Fast)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error)
		go func() { got <- s.acquire(ctx, Fast) }()
		waitQueued(t, s, Fast, 1)
		go cancel()
		s.release()
		if err := <-got; err == nil {
			s.release() // it won the slot before the cancel
		}
		if s.free != 1 {
			t.Fatalf("free = %d after a grant raced a cancel, want 1", s.free)
		}
	}
}

func waitQueued(t *testing.T, s *slots, lane Lane, n int) {
	t.Helper()
	for range 1000 {
		s.mu.Lock()
		q := len(s.wait[lane])
		s.mu.Unlock()
		if q == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d waiters in lane %d, want %d", len(s.wait[lane]), lane, n)
}
