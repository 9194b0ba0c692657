package chaos

import (
	"testing"
	"time"
)

// TestKill9Restart kills the only worker with SIGKILL mid-stream and starts a new one: every
// push is delivered once, except those in flight at the kill, which may repeat with the same
// apns-collapse-id and badge. The run's logs, metrics and dead letters must not contain a
// secret. Short: runs in `make test` (with the full workload under `make chaos`).
func TestKill9Restart(t *testing.T) {
	h := kill9Restart(t, 300*time.Millisecond, "kill -9 + restart") // sends in flight at the kill
	h.CheckSecrets()
}

// kill9Restart streams the workload to one worker with APNs answering after latency, kills
// it with SIGKILL at a third of the deliveries, starts another and accounts the run as name.
func kill9Restart(t *testing.T, latency time.Duration, name string) *Harness {
	h := New(t, Options{Workload: workload()})
	h.SetLatency(latency)
	h.Stream()
	w := h.StartWorker()
	h.WaitDelivered(0.35)
	h.Kill9(w)
	h.StartWorker()
	h.WaitSettled(3 * time.Minute)
	h.Account(name, false)
	return h
}

// TestSIGTERMDrain stops one of two workers with SIGTERM mid-stream: it drains within
// pipeline.shutdownGrace and exits 0, the other worker takes its partitions over, and
// nothing is lost.
func TestSIGTERMDrain(t *testing.T) {
	long(t)
	grace := 10 * time.Second
	h := New(t, Options{Workload: workload(), ShutdownGrace: grace})
	h.SetLatency(300 * time.Millisecond)
	h.Stream()
	w := h.StartWorker()
	h.StartWorker()
	h.WaitDelivered(0.3)
	code, took := h.Term(w, grace+10*time.Second)
	if code != 0 {
		t.Errorf("%s exited %d after SIGTERM, want 0:\n%s", w.Name, code, tail(w.Proc.Logs(), 20))
	}
	if took > grace+5*time.Second {
		t.Errorf("%s took %v to drain, grace is %v", w.Name, took, grace)
	}
	h.WaitSettled(3 * time.Minute)
	h.Account("SIGTERM drain (2 workers)", false)
}

// TestTwoWorkersKillAdd runs two workers, kills one with SIGKILL and adds a third mid-stream:
// two rebalances, nothing lost.
func TestTwoWorkersKillAdd(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload()})
	h.SetLatency(200 * time.Millisecond)
	h.Stream()
	w := h.StartWorker()
	h.StartWorker()
	h.WaitDelivered(0.25)
	h.Kill9(w)
	h.StartWorker()
	h.WaitSettled(3 * time.Minute)
	h.Account("2 workers: kill 1, add 1", false)
}

// TestThreeWorkersKillAdd runs three workers, kills one with SIGKILL, then adds one.
func TestThreeWorkersKillAdd(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload()})
	h.SetLatency(200 * time.Millisecond)
	h.Stream()
	w := h.StartWorker()
	h.StartWorker()
	h.StartWorker()
	h.WaitDelivered(0.25)
	h.Kill9(w)
	h.WaitDelivered(0.5)
	h.StartWorker()
	h.WaitSettled(3 * time.Minute)
	h.Account("3 workers: kill 1, add 1", false)
}

// TestRebalanceRepeats: two workers share the stream with no fault at all; when the second
// joins, the first still sends the events it had fetched from partitions it lost while the new
// owner reads them again. The claim lease makes the new owner wait for those pushes (busy)
// instead of sending them again, so nothing is pushed twice.
func TestRebalanceRepeats(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: ShortWorkload})
	h.SetLatency(300 * time.Millisecond)
	h.Stream()
	h.StartWorker()
	h.StartWorker()
	h.WaitSettled(3 * time.Minute)
	h.Account("rebalance, no fault", false)
}

// TestKill9At100ms is TestKill9Restart with APNs answering after Apple's typical round trip
// (100 ms), where thousands of pushes are in flight at once: nothing is lost,
// and only pushes in flight at the kill may repeat.
func TestKill9At100ms(t *testing.T) {
	long(t)
	kill9Restart(t, 100*time.Millisecond, "kill -9 + restart, APNs at 100 ms")
}
