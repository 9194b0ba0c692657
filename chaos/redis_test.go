package chaos

import (
	"testing"
	"time"
)

// TestRedisDown10s kills redis-server for 10 s mid-stream and starts it again with its data
// (append-only file): the worker stops committing while Redis is down, resumes by itself and
// loses nothing.
func TestRedisDown10s(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload()})
	h.SetLatency(50 * time.Millisecond)
	h.Stream()
	h.StartWorker()
	h.WaitDelivered(0.3)
	h.snapshotInFlight("redis kill")
	h.Redis.Kill()
	h.logf("redis-server killed")
	time.Sleep(2 * time.Second) // commits of events finished before the kill may still land
	before := h.Committed()
	time.Sleep(8 * time.Second)
	if after := h.Committed(); after != before {
		t.Errorf("committed offsets moved from %d to %d while Redis was down", before, after)
	}
	if err := h.Redis.StartAgain(); err != nil {
		t.Fatal(err)
	}
	h.snapshotInFlight("redis restart")
	h.logf("redis-server back with its data; committed offsets stayed at %d while it was down", before)
	h.WaitSettled(3 * time.Minute)
	h.Account("redis down 10 s", false)
}

// TestRedisRestartEmpty restarts redis-server empty mid-stream (a failover to a replica that
// had nothing): devices, settings and dedupe keys are gone. The worker keeps going; each push
// it can no longer make must be counted as a no_device skip in its metrics, not vanish.
func TestRedisRestartEmpty(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload()})
	h.SetLatency(50 * time.Millisecond)
	h.Stream()
	h.StartWorker()
	h.WaitDelivered(0.4)
	h.Redis.Kill()
	if err := h.Redis.Wipe(); err != nil {
		t.Fatal(err)
	}
	if err := h.Redis.StartAgain(); err != nil {
		t.Fatal(err)
	}
	h.logf("redis-server restarted empty")
	h.WaitSettled(3 * time.Minute)
	l := h.Account("redis restarted empty", true)
	h.logf("after the wipe, %d pushes were not made and are explained by no_device skips",
		len(h.Workload.Pushes)+len(h.Workload.DLQ)-l.Delivered-l.DLQ-l.Lost)
}
