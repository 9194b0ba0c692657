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
	if p := o.pending(); len(p) != 0 {
		t.Fatalf("committed past an unfinished event: %v", p)
	}
	o.finish(t10)
	want := []commitPoint{{"t", 0, 13}}
	if p := o.pending(); !reflect.DeepEqual(p, want) {
		t.Fatalf("pending = %v, want %v", p, want)
	}
	o.markSent(want)
	if p := o.pending(); len(p) != 0 {
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
	if p := o.pending(); !reflect.DeepEqual(p, want) {
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
	if p := o.pending(); len(p) != 0 {
		t.Fatalf("old window committed: %v", p)
	}
	o.finish(n15)
	want := []commitPoint{{"t", 0, 16}}
	if p := o.pending(); !reflect.DeepEqual(p, want) {
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
	if got := o.pending(); got[0].offset != 5000 {
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
	if got := o.pending(); got[0].offset != 2990 {
		t.Fatalf("pending = %v, want 2990", got)
	}
	for _, tk := range open {
		o.finish(tk)
	}
	if got := o.pending(); got[0].offset != 3100 {
		t.Fatalf("pending = %v, want 3100", got)
	}
}
