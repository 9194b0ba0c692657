package chaos

import (
	"testing"
	"time"
)

// TestRedisMasterFailover runs the workers on a Redis Cluster of 3 masters with a replica
// each, kills one master with SIGKILL mid-stream and lets its replica take over: nothing is
// lost, the other masters' users keep getting pushes, and every push resumes within 10 s of
// the replica's promotion. The worker's output stays JSON throughout (go-redis's own log
// lines included).
func TestRedisMasterFailover(t *testing.T) {
	long(t)
	h := New(t, Options{Workload: workload(), Cluster: true, StreamFor: 20 * time.Second})
	h.SetLatency(50 * time.Millisecond)
	h.Stream()
	w := h.StartWorker()
	h.WaitDelivered(0.25)
	f := h.KillMaster()
	h.WaitHealed(f)
	h.WaitSettled(3 * time.Minute)

	ds, err := h.Sim.Deliveries()
	if err != nil {
		t.Fatal(err)
	}
	ft := h.failoverTimes(f, ds)
	h.Note("%s", ft)
	h.logf("%s", h.RetryLog(w, f))
	const resume = 10 * time.Second // the requirement, not a measurement
	if ft.VictimBacklog == 0 {
		t.Errorf("no push to the killed master's users came after the heal: the fault missed the stream")
	}
	if ft.FirstVictim < 0 || ft.FirstVictim > resume {
		t.Errorf("pushes to the killed master's users resumed %v after the heal, want within %v", ft.FirstVictim, resume)
	}
	if ft.FirstOther < 0 || ft.FirstOther > resume {
		t.Errorf("pushes to the other masters' users resumed %v after the kill, want within %v", ft.FirstOther, resume)
	}
	h.Account("master killed, replica promoted", false)
	h.CheckJSONLogs(w)
}
