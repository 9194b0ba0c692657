package apns

import (
	"context"
	"testing"
	"time"
)

// TestSlotsPriority: a freed slot goes to the first waiting Fast request before any Bulk one,
// and a Bulk request does not overtake waiting Fast ones even when a slot is free.
func TestSlotsPriority(t *testing.T) {
	s := NewSlots(1)
	ctx := context.Background()
	if err := s.Acquire(ctx, Bulk); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	wait := func(name string, lane Lane) {
		go func() {
			if err := s.Acquire(ctx, lane); err == nil {
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
	held := Bulk // the lane of the slot's holder
	for _, want := range []string{"fast1", "fast2", "bulk1"} {
		s.Release(held)
		if got := <-order; got != want {
			t.Fatalf("slot went to %s, want %s", got, want)
		}
		held = Fast
		if want == "bulk1" {
			held = Bulk
		}
	}
	s.Release(held)
	if s.used != 0 {
		t.Errorf("used = %d after all released, want 0", s.used)
	}
}

// TestSlotsCancel: a request that gives up while waiting leaves the queue, and a slot granted
// to it at the same moment is handed on, not lost.
func TestSlotsCancel(t *testing.T) {
	s := NewSlots(1)
	_ = s.Acquire(context.Background(), Fast)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Acquire(ctx, Fast); err == nil {
		t.Fatal("acquired a slot that was taken")
	}
	if len(s.wait[Fast]) != 0 {
		t.Fatalf("%d waiters left after cancellation", len(s.wait[Fast]))
	}
	s.Release(Fast)
	if s.used != 0 {
		t.Fatalf("used = %d, want 0", s.used)
	}
	// Granted and cancelled at once: the slot must come back.
	for range 200 {
		_ = s.Acquire(context.Background(), Fast)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error)
		go func() { got <- s.Acquire(ctx, Fast) }()
		waitQueued(t, s, Fast, 1)
		go cancel()
		s.Release(Fast)
		if err := <-got; err == nil {
			s.Release(Fast) // it won the slot before the cancel
		}
		if s.used != 0 {
			t.Fatalf("used = %d after a grant raced a cancel, want 0", s.used)
		}
	}
}

func waitQueued(t *testing.T, s *Slots, lane Lane, n int) {
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

// TestSlotsLimit: a lowered limit grants nothing until use falls below it; a raised one
// grants to the waiters at once.
func TestSlotsLimit(t *testing.T) {
	s := NewSlots(2)
	ctx := context.Background()
	_ = s.Acquire(ctx, Fast)
	_ = s.Acquire(ctx, Fast)
	s.setLimit(1)
	got := make(chan struct{}, 3)
	for range 3 {
		go func() { _ = s.Acquire(ctx, Bulk); got <- struct{}{} }()
	}
	waitQueued(t, s, Bulk, 3)
	s.Release(Fast) // used 1 = limit 1: nobody gets it
	if !s.saturated() {
		t.Fatal("not saturated with 3 waiters at the limit")
	}
	select {
	case <-got:
		t.Fatal("granted above a lowered limit")
	case <-time.After(20 * time.Millisecond):
	}
	s.setLimit(4) // room for 3 more
	for range 3 {
		<-got
	}
	if s.used != 4 {
		t.Errorf("used = %d, want 4", s.used)
	}
}

// TestSlotsBulkShare: Bulk requests hold at most BulkShare percent of the slots, so a Fast
// request gets one at once while every Bulk holder is stuck.
func TestSlotsBulkShare(t *testing.T) {
	s := NewSlots(8) // bulk cap 6
	ctx := context.Background()
	for range 6 {
		if err := s.Acquire(ctx, Bulk); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if s.Acquire(short, Bulk) == nil {
		t.Fatal("a 7th Bulk request got one of 8 slots")
	}
	for range 2 {
		short, cancel := context.WithTimeout(ctx, time.Second)
		if err := s.Acquire(short, Fast); err != nil {
			t.Fatalf("Fast request with 6 Bulk slots held: %v", err)
		}
		cancel()
	}
	s.Release(Fast) // 7 used, 6 of them Bulk: still no Bulk grant
	if s.usedBulk != 6 || s.used != 7 {
		t.Fatalf("used %d (bulk %d), want 7 (6)", s.used, s.usedBulk)
	}
}
