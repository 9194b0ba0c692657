package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/internal/testenv"
)

// Failover is one master kill of a cluster scenario: which node died, whose users it served,
// when it died and when the cluster was whole again.
type Failover struct {
	Victim   *testenv.Server
	Users    map[string]bool // users whose keys the victim served
	KilledAt time.Time
	HealedAt time.Time // every live node ok, every slot on a live master
}

// KillMaster kills with SIGKILL the master serving the workload's first user, recording the
// pushes pending just before as in flight (their Done may not have reached the replica).
func (h *Harness) KillMaster() *Failover {
	h.t.Helper()
	users := make([]string, len(h.Workload.Users))
	keys := make([]string, len(users))
	for i, u := range h.Workload.Users {
		users[i], keys[i] = u.ID, h.store().SlotKey(u.ID)
	}
	masters, err := h.Cluster.MastersOf(keys...)
	if err != nil {
		h.t.Fatal(err)
	}
	f := &Failover{Victim: masters[0], Users: map[string]bool{}}
	for i, m := range masters {
		if m == f.Victim {
			f.Users[users[i]] = true
		}
	}
	n := h.snapshotInFlight("master kill")
	f.Victim.Kill()
	f.KilledAt = time.Now()
	h.logf("master %s killed with SIGKILL: it served %d of %d users; %d pushes were in flight",
		f.Victim.Addr, len(f.Users), len(users), n)
	return f
}

// WaitHealed waits until the killed master's replica serves its slots, then records the
// pushes pending as in flight (a write the dead master acknowledged may not have reached the
// replica) and gives the harness a client with the new slot map.
func (h *Harness) WaitHealed(f *Failover) {
	h.t.Helper()
	if err := h.Cluster.WaitHealthy(60 * time.Second); err != nil {
		h.t.Fatal(err)
	}
	f.HealedAt = time.Now()
	promoted, _ := h.Cluster.MasterOf(h.store().SlotKey(h.Workload.Users[0].ID))
	h.logf("cluster healed %v after the kill: %s serves the killed master's slots",
		f.HealedAt.Sub(f.KilledAt).Round(time.Millisecond), addrOf(promoted))
	_ = h.rdb.Close()
	h.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: h.Cluster.Addrs()})
	h.snapshotInFlight("failover")
}

func addrOf(s *testenv.Server) string {
	if s == nil {
		return "?"
	}
	return s.Addr
}

// FailoverTimes are the delivery figures of one master kill.
type FailoverTimes struct {
	Heal time.Duration // kill → every slot served again
	// FirstOther and FirstVictim: kill → the first push, made after the kill, to a user of
	// another master, and heal → the first push to a user of the killed master (a push
	// delivered between kill and heal was past Redis at the kill).
	FirstOther  time.Duration
	FirstVictim time.Duration
	// OtherGap is the longest pause between two pushes to users of other masters from the
	// kill to 5 s after the heal (a cluster marks itself down until the replica takes over).
	OtherGap time.Duration
	// OtherGapAt: kill → the start of that pause.
	OtherGapAt time.Duration
	// OtherDelay is the longest time from an event's write to Kafka to a push of it, for the
	// events written from the kill to the heal in conversations without a user of the killed
	// master; OtherDelayBefore is the same for the events written in the 3 s before the
	// kill. (The stream comes in bursts, 30 over StreamFor: OtherGap cannot be shorter than
	// their spacing. An event with a recipient on the killed master waits as a whole, and the
	// later events of its conversation wait behind it.)
	OtherDelay, OtherDelayBefore time.Duration
	OtherDelayAt                 time.Duration // kill → the write of that event
	// FullRate: heal → the first second in which the killed master's users got at least as
	// many pushes as in an average second of the 3 s before the kill; -1 if none did.
	FullRate time.Duration
	// VictimBacklog is how many pushes to the killed master's users came after the heal.
	VictimBacklog int
}

// failoverTimes measures f from the simulator's deliveries.
func (h *Harness) failoverTimes(f *Failover, ds []Delivery) FailoverTimes {
	var other, victim []time.Time
	var otherDelay, otherDelayBefore, otherDelayAt time.Duration
	touched := map[string]bool{} // conversations with a user of the killed master
	key := map[string]string{}   // event id → conversation
	for _, e := range h.Workload.Events {
		key[e.ID] = e.Key
		for _, u := range e.Recipients {
			if f.Users[u] {
				touched[e.Key] = true
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range ds {
		user, ok := h.Workload.Pushes[Pair{d.Headers.CollapseID, d.Token}]
		if !ok {
			continue
		}
		if f.Users[user] {
			victim = append(victim, d.ReceivedAt)
			continue
		}
		other = append(other, d.ReceivedAt)
		if at, ok := h.produced[d.Headers.CollapseID]; ok && !touched[key[d.Headers.CollapseID]] {
			switch delay := d.ReceivedAt.Sub(at); {
			case !at.Before(f.KilledAt) && !at.After(f.HealedAt):
				if delay > otherDelay {
					otherDelay, otherDelayAt = delay, at.Sub(f.KilledAt)
				}
			case at.Before(f.KilledAt) && !at.Before(f.KilledAt.Add(-3*time.Second)):
				otherDelayBefore = max(otherDelayBefore, delay)
			}
		}
	}
	slices.SortFunc(other, time.Time.Compare)
	slices.SortFunc(victim, time.Time.Compare)
	ft := FailoverTimes{Heal: f.HealedAt.Sub(f.KilledAt), FirstOther: -1, FirstVictim: -1, FullRate: -1,
		OtherDelay: otherDelay, OtherDelayBefore: otherDelayBefore, OtherDelayAt: otherDelayAt}
	if i, ok := firstAfter(other, f.KilledAt); ok {
		ft.FirstOther = other[i].Sub(f.KilledAt)
	}
	if i, ok := firstAfter(victim, f.HealedAt); ok {
		ft.FirstVictim = victim[i].Sub(f.HealedAt)
		ft.VictimBacklog = len(victim) - i
	}
	prev := f.KilledAt
	for _, t := range other {
		if t.Before(f.KilledAt) {
			continue
		}
		if t.After(f.HealedAt.Add(5 * time.Second)) {
			break
		}
		if t.Sub(prev) > ft.OtherGap {
			ft.OtherGap, ft.OtherGapAt = t.Sub(prev), prev.Sub(f.KilledAt)
		}
		prev = t
	}
	before := 0
	for _, t := range victim {
		if !t.Before(f.KilledAt.Add(-3*time.Second)) && t.Before(f.KilledAt) {
			before++
		}
	}
	perSecond := (before + 2) / 3
	for i, ok := firstAfter(victim, f.HealedAt); ok && i < len(victim); i++ {
		j, _ := firstAfter(victim, victim[i].Add(time.Second))
		if j-i >= perSecond {
			ft.FullRate = victim[i].Sub(f.HealedAt)
			break
		}
	}
	return ft
}

// firstAfter is the index of the first of sorted ts not before t (len(ts) when none is).
func firstAfter(ts []time.Time, t time.Time) (int, bool) {
	i, _ := slices.BinarySearchFunc(ts, t, time.Time.Compare)
	return i, i < len(ts)
}

func (ft FailoverTimes) String() string {
	d := func(x time.Duration) string {
		if x < 0 {
			return "never"
		}
		return x.Round(10 * time.Millisecond).String()
	}
	return fmt.Sprintf("kill → heal %s; kill → first push to other masters' users %s (longest pause %s, from kill+%s; "+
		"longest event → push %s, written at kill+%s; %s before the kill); "+
		"heal → first push to the killed master's users %s, → their full rate %s (%d pushes after the heal)",
		d(ft.Heal), d(ft.FirstOther), d(ft.OtherGap), d(ft.OtherGapAt), d(ft.OtherDelay), d(ft.OtherDelayAt), d(ft.OtherDelayBefore),
		d(ft.FirstVictim), d(ft.FullRate), ft.VictimBacklog)
}

// CheckJSONLogs fails the test for every line of w's output that is not a JSON object (the
// worker logs JSON; a library printing plain text into it breaks log pipelines).
func (h *Harness) CheckJSONLogs(w *Worker) {
	h.t.Helper()
	bad := 0
	for _, path := range []string{w.Proc.StdoutPath, w.Proc.StderrPath} {
		f, err := os.Open(path)
		if err != nil {
			h.t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			var rec map[string]any
			if line != "" && json.Unmarshal([]byte(line), &rec) != nil {
				if bad++; bad <= 5 {
					h.t.Errorf("%s wrote a line that is not JSON: %.200s", w.Name, line)
				}
			}
		}
		f.Close()
	}
	if bad > 5 {
		h.t.Errorf("… %d lines of %s are not JSON", bad, w.Name)
	}
}

// RetryLog summarizes the Redis errors a worker logged ("retrying") around a failover: per
// call and kind of error, how many, and the first and last relative to the kill. With
// OFFPUSH_CHAOS_KEEPLOG=dir the worker's log is also copied to dir.
func (h *Harness) RetryLog(w *Worker, f *Failover) string {
	h.t.Helper()
	type span struct {
		n           int
		first, last time.Time
	}
	kinds := map[string]*span{}
	var order []string
	out, err := os.ReadFile(w.Proc.StderrPath) // the worker logs to stderr
	if err != nil {
		h.t.Fatal(err)
	}
	if dir := os.Getenv("OFFPUSH_CHAOS_KEEPLOG"); dir != "" {
		_ = os.WriteFile(dir+"/"+w.Name+".stderr", out, 0o644)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Time time.Time `json:"time"`
			Msg  string    `json:"msg"`
			Op   string    `json:"op"`
			Err  string    `json:"err"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Msg != "retrying" {
			continue
		}
		k := rec.Op + ": " + errorKind(rec.Err)
		s := kinds[k]
		if s == nil {
			s = &span{first: rec.Time}
			kinds[k] = s
			order = append(order, k)
		}
		s.n++
		s.last = rec.Time
	}
	if len(order) == 0 {
		return "no Redis call was retried"
	}
	var b strings.Builder
	for _, k := range order {
		s := kinds[k]
		fmt.Fprintf(&b, "\n  %s: %d retries, kill%+.2fs … kill%+.2fs", k, s.n,
			s.first.Sub(f.KilledAt).Seconds(), s.last.Sub(f.KilledAt).Seconds())
	}
	return fmt.Sprintf("Redis calls retried (heal at kill%+.2fs):%s", f.HealedAt.Sub(f.KilledAt).Seconds(), b.String())
}

// errorKind is the kind of a logged Redis error, without addresses and counts.
func errorKind(err string) string {
	for _, k := range []string{"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "connection refused",
		"connection reset", "i/o timeout", "EOF", "context deadline exceeded"} {
		if strings.Contains(err, k) {
			return k
		}
	}
	if len(err) > 80 {
		err = err[:80]
	}
	return err
}
