package chaos

import (
	"testing"
	"time"
)

// TestAPNs503For30s makes the simulator answer 503 to every push for 30 s mid-stream. With a
// retry budget longer than the outage the worker retries with backoff and delivers
// everything afterwards: no dead letter, nothing lost.
func TestAPNs503For30s(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload(), MaxAttempts: 30, MaxElapsed: 2 * time.Minute})
	h.Stream()
	h.StartWorker()
	h.WaitDelivered(0.2)
	h.Fault(503, "ServiceUnavailable", 1<<30, 0)
	time.Sleep(30 * time.Second)
	h.Fault(0, "", 0, 0)
	h.expectRejected("ServiceUnavailable")
	h.WaitSettled(5 * time.Minute)
	h.Account("APNs 503 for 30 s", false)
}

// TestAPNs429Bursts sends three bursts of 429 TooManyRequests (Retry-After 1 s): the worker
// slows down as asked and delivers everything.
func TestAPNs429Bursts(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload(), MaxAttempts: 10, MaxElapsed: time.Minute})
	h.Stream()
	h.StartWorker()
	for _, at := range []float64{0.2, 0.45, 0.7} {
		h.WaitDelivered(at)
		h.Fault(429, "TooManyRequests", 300, 1)
	}
	h.WaitSettled(5 * time.Minute)
	h.expectRejected("TooManyRequests")
	h.Account("APNs 429 bursts", false)
}

// TestAPNsLatency500ms answers every push after 500 ms: slower, nothing lost or repeated.
func TestAPNsLatency500ms(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload()})
	h.SetLatency(500 * time.Millisecond)
	h.Stream()
	h.StartWorker()
	h.WaitSettled(5 * time.Minute)
	h.Account("APNs latency 500 ms", false)
}

// TestAPNsConnectionResets resets every connection between the worker and APNs five times,
// once a second, mid-stream: the worker reconnects and retries. A push whose request reached
// APNs but whose answer was cut may be delivered twice (same collapse id and badge): such
// pushes were in flight at a reset.
func TestAPNsConnectionResets(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload(), MaxAttempts: 8, MaxElapsed: 30 * time.Second})
	h.SetLatency(100 * time.Millisecond)
	h.Stream()
	h.StartWorker()
	h.WaitDelivered(0.25)
	for range 5 {
		h.ResetAPNs()
		time.Sleep(time.Second)
	}
	h.WaitSettled(5 * time.Minute)
	h.Account("APNs connection resets", false)
}
