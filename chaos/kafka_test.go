package chaos

import (
	"testing"
	"time"
)

// TestKafkaUnreachable takes the broker off the network for 15 s mid-stream (connections
// reset, new ones refused: longer than the 6 s session, so the broker expels the worker from
// its group): the worker keeps running, rejoins when the broker is back and finishes the
// stream without losing or repeating a push.
func TestKafkaUnreachable(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload()})
	h.SetLatency(50 * time.Millisecond)
	h.Stream()
	w := h.StartWorker()
	h.WaitDelivered(0.3)
	h.snapshotInFlight("kafka down")
	h.gate.Down()
	h.logf("kafka unreachable")
	time.Sleep(15 * time.Second)
	if !w.Proc.Running() {
		t.Fatalf("%s exited while Kafka was unreachable:\n%s", w.Name, tail(w.Proc.Logs(), 20))
	}
	if err := h.gate.Up(); err != nil {
		t.Fatal(err)
	}
	h.rebalancing()
	h.logf("kafka reachable again")
	h.WaitSettled(3 * time.Minute)
	h.Account("kafka unreachable 15 s", false)
}
