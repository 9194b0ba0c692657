package pipeline

import (
	"reflect"
	"testing"
)

func TestOffsetsNeverPassUnfinished(t *testing.T) {
	o := newOffsets()
	t10 := o.track("t", 0, 10)
	t11 := o.track("t", 0, 11)
	t12 := o.track("t", 0, 12)
	o.finish(t11)
	o.finish(t12)
	// 10 is unfinished: nothing may be committed although 11 and 12 are done.
	if p := o.pending(false); len(p) != 0 {
		t.Fatalf("committed past an unfinished event: %v", p)
	}
	o.finish(t10)
	want := []commitPoint{{"t", 0, 13}}
	if p := o.pending(false); !reflect.DeepEqual(p, want) {
		t.Fatalf("pending = %v, want %v", p, want)
	}
	o.markSent(want)
	if p := o.pending(false); len(p) != 0 {
		t.Fatalf("already sent point pending again: %v", p)
	}
	if n := o.inFlight(); n != 0 {
		t.Fatalf("inFlight = %d", n)
	}
}

func TestOffsetsPartitionsIndependent(t *testing.T) {
	o := newOffsets()
	a := o.track("t", 0, 5)
	o.track("t", 1, 7) // partition 1 stays unfinished
	o.finish(a)
	want := []commitPoint{{"t", 0, 6}}
	if p := o.pending(false); !reflect.DeepEqual(p, want) {
		t.Fatalf("pending = %v, want %v", p, want)
	}
	if n := o.inFlight(); n != 1 {
		t.Fatalf("inFlight = %d, want 1", n)
	}
}

func TestOffsetsRedeliveryStartsNewWindow(t *testing.T) {
	o := newOffsets()
	old := o.track("t", 0, 20)
	// After a rebalance the partition is read again from its committed offset 15.
	n15 := o.track("t", 0, 15)
	o.finish(old) // the old window's event finishes late: it must not commit 21
	if p := o.pending(false); len(p) != 0 {
		t.Fatalf("old window committed: %v", p)
	}
	o.finish(n15)
	want := []commitPoint{{"t", 0, 16}}
	if p := o.pending(false); !reflect.DeepEqual(p, want) {
		t.Fatalf("pending = %v, want %v", p, want)
	}
}

func TestOffsetsCompaction(t *testing.T) {
	o := newOffsets()
	for i := int64(0); i < 5000; i++ {
		o.finish(o.track("t", 0, i))
	}
	p := o.parts[partKey{"t", 0}]
	if len(p.window) > 2100 {
		t.Fatalf("window not compacted: %d slots", len(p.window))
	}
	if got := o.pending(false); got[0].offset != 5000 {
		t.Fatalf("pending = %v", got)
	}
}

func TestOffsetsTicketSurvivesCompaction(t *testing.T) {
	o := newOffsets()
	var open []ticket
	for i := int64(0); i < 3000; i++ {
		tk := o.track("t", 0, i)
		if i >= 2990 {
			open = append(open, tk) // unfinished while the window compacts
			continue
		}
		o.finish(tk)
	}
	for i := int64(3000); i < 3100; i++ {
		o.finish(o.track("t", 0, i))
	}
	if got := o.pending(false); got[0].offset != 2990 {
		t.Fatalf("pending = %v, want 2990", got)
	}
	for _, tk := range open {
		o.finish(tk)
	}
	if got := o.pending(false); got[0].offset != 3100 {
		t.Fatalf("pending = %v, want 3100", got)
	}
}

// TestAheadOfGroup: a commit point at or behind the group's committed offset is held back
// (the partition has another owner that committed further since a rebalance, or it is there
// already); one past it, or of a partition the group never committed, is sent.
func TestAheadOfGroup(t *testing.T) {
	points := []commitPoint{{"t", 0, 264}, {"t", 1, 500}, {"t", 2, 10}, {"t", 3, 7}}
	group := map[int]int64{0: 425, 1: 400, 2: 10, 3: -1}
	send, behind := ahead(points, group)
	if want := []commitPoint{{"t", 1, 500}, {"t", 3, 7}}; !reflect.DeepEqual(send, want) {
		t.Errorf("send %v, want %v", send, want)
	}
	if want := []commitPoint{{"t", 0, 264}, {"t", 2, 10}}; !reflect.DeepEqual(behind, want) {
		t.Errorf("behind %v, want %v", behind, want)
	}
}

// TestPendingAll: pending(true) offers every partition with a commit point again, moved or
// not, so that a point sent back by a former owner is restored.
func TestPendingAll(t *testing.T) {
	o := newOffsets()
	o.finish(o.track("t", 0, 5))
	o.track("t", 1, 9) // unfinished: no commit point
	want := []commitPoint{{"t", 0, 6}}
	o.markSent(o.pending(false))
	if p := o.pending(false); len(p) != 0 {
		t.Errorf("pending(false) after markSent = %v", p)
	}
	if p := o.pending(true); !reflect.DeepEqual(p, want) {
		t.Errorf("pending(true) = %v, want %v", p, want)
	}
}
