package chaos

import (
	"testing"
	"time"
)

// TestRetryBudgetDLQReplay answers 503 to 400 pushes in a row with a retry budget of 3
// attempts: the pushes that exhaust it go to the DLQ (their offsets are committed, the stream
// goes on); `offpush replay --reason apns_retry_exhausted` re-publishes them and each is then
// delivered exactly once.
func TestRetryBudgetDLQReplay(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload(), MaxAttempts: 3, MaxElapsed: 2 * time.Second, ExpectRetryExhaustion: true})
	h.Stream()
	h.StartWorker()
	h.WaitDelivered(0.3)
	h.Fault(503, "ServiceUnavailable", 400, 0)
	h.WaitSettled(3 * time.Minute)
	exhausted := 0
	for _, reason := range deadPairs(h.DeadLetters()) {
		if reason == "apns_retry_exhausted" {
			exhausted++
		}
	}
	if exhausted == 0 {
		t.Fatal("no push exhausted its retry budget: the fault did not reach the DLQ")
	}
	h.logf("%d pushes dead-lettered as apns_retry_exhausted", exhausted)
	h.Replay("--reason", "apns_retry_exhausted")
	h.WaitSettled(3 * time.Minute)
	l := h.Account("retry budget → DLQ → replay", false)
	if l.Replayed != exhausted {
		t.Errorf("%d replayed pushes delivered, want the %d dead-lettered", l.Replayed, exhausted)
	}
}
