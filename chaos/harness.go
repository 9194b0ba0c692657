package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"offpush/certgen"
	"offpush/embedkafka"
	"offpush/internal/testenv"
	"offpush/presence"
)

// Options configure a Harness. Zero values take the defaults noted.
type Options struct {
	Workload      WorkloadSpec  // default ShortWorkload
	MaxAttempts   int           // apns.maxAttempts of the workers, default 4
	MaxElapsed    time.Duration // apns.maxElapsed, default 10s
	ShutdownGrace time.Duration // pipeline.shutdownGrace, default 10s
	StreamFor     time.Duration // the events are produced over this long, default 6s
	// ExpectRetryExhaustion lets pushes end in the DLQ beyond the workload's unknown
	// certificates (the scenario spends the retry budget on purpose); otherwise every other
	// dead letter is a problem: the retry budget should have outlasted the fault.
	ExpectRetryExhaustion bool
	// Cluster runs Redis as a cluster of 3 masters with a replica each (Harness.Cluster,
	// without persistence: a killed master's data lives on in its replica) instead of one
	// redis-server with an append-only file (Harness.Redis).
	Cluster bool
}

func (o *Options) setDefaults() {
	if o.Workload.Users == 0 {
		o.Workload = ShortWorkload
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.MaxElapsed <= 0 {
		o.MaxElapsed = 10 * time.Second
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	if o.StreamFor <= 0 {
		o.StreamFor = 6 * time.Second
	}
}

// creds are the generated secrets and credentials the workers use.
type creds struct {
	p12File, p12Password string
	p8File, keyID        string
	teamID, apiToken     string
}

// Harness is one scenario's system: Kafka (in process), Redis, the simulator and workers.
type Harness struct {
	Kafka    *embedkafka.Cluster
	Redis    *Redis           // one redis-server, unless Options.Cluster
	Cluster  *testenv.Cluster // with Options.Cluster
	Sim      *Sim
	Workload *Workload

	t         testing.TB
	opts      Options
	bin, dir  string
	gate      *gate
	rdb       redis.UniversalClient
	creds     creds
	workers   []*Worker
	workerSeq int
	start     time.Time

	mu         sync.Mutex
	inFlight   map[Pair]string      // pushes pending at a kill, a stop or a fault → when
	rebalances []time.Time          // when a worker joined or left the group
	kills      []time.Time          // when a worker was killed with SIGKILL
	streamed   chan struct{}        // closed once every event is in Kafka
	produced   map[string]time.Time // event id → when Kafka acknowledged it (Stream)
	metricsOK  bool                 // every worker's last scrape saw all its counts (none stopped)
	note       string               // see Note
}

// New starts Kafka, Redis (seeded with the workload's users) and the simulator; workers are
// started by the scenario. Everything is stopped at t's cleanup.
func New(t testing.TB, opts Options) *Harness {
	t.Helper()
	opts.setDefaults()
	h := &Harness{t: t, opts: opts, bin: offpushBinary(t), dir: t.TempDir(), inFlight: map[Pair]string{},
		streamed: make(chan struct{}), start: time.Now(), metricsOK: true}
	t.Cleanup(h.stop)
	h.makeCreds()
	ctx := context.Background()
	var err error
	if h.Kafka, h.gate, err = startKafka(ctx); err != nil {
		t.Fatalf("kafka: %v", err)
	}
	if opts.Cluster {
		h.Cluster = testenv.StartCluster(t, 3, 1)
		h.rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: h.Cluster.Addrs()})
	} else {
		if h.Redis, err = startRedis(redisDataDir(t), h.dir); err != nil {
			t.Fatalf("redis: %v", err)
		}
		h.rdb = redis.NewClient(&redis.Options{Addr: h.Redis.Addr, MaxRetries: -1})
	}
	if h.Sim, err = startSim(h.bin, h.dir, h.creds.keyID, h.creds.p8File, h.creds.teamID); err != nil {
		t.Fatalf("simulator: %v", err)
	}
	h.Workload = NewWorkload(opts.Workload)
	if err := h.Workload.Seed(ctx, h.store()); err != nil {
		t.Fatalf("seed redis: %v", err)
	}
	h.logf("workload: %d events (%d recalls), %d users, %d pushes, %d dead letters and %d skips expected",
		len(h.Workload.Events), len(h.Workload.Recalls), len(h.Workload.Users), len(h.Workload.Pushes), len(h.Workload.DLQ), h.Workload.SkipTotal())
	return h
}

// redisAddrs are the addresses the workers' redis.addrs lists: one server, or every node of
// the cluster.
func (h *Harness) redisAddrs() []string {
	if h.Cluster != nil {
		return h.Cluster.Addrs()
	}
	return []string{h.Redis.Addr}
}

// store is a presence store over the harness's Redis, with the workers' key prefix.
func (h *Harness) store() *presence.Store {
	return presence.New(h.rdb, presence.Options{Prefix: presence.DefaultPrefix, ForegroundTTL: time.Hour})
}

// redisDataDir keeps the append-only file in memory when /dev/shm exists: fsync on every
// write stays cheap.
func redisDataDir(t testing.TB) string {
	if dir, err := os.MkdirTemp("/dev/shm", "offpush-chaos-redis-"); err == nil {
		t.Cleanup(func() { _ = os.RemoveAll(dir) })
		return dir
	}
	return t.TempDir()
}

func (h *Harness) makeCreds() {
	var err error
	h.creds = creds{p12Password: "p12-" + randHex(12), keyID: "CHAOSKEY01", teamID: "CHAOSTEAM1", apiToken: "tok-" + randHex(20)}
	if h.creds.p12File, err = certgen.GenerateP12(h.dir, P12Topic, h.creds.p12Password, true, time.Now().Add(certgen.Validity)); err != nil {
		h.t.Fatal(err)
	}
	if h.creds.p8File, _, err = certgen.GenerateP8(h.dir); err != nil {
		h.t.Fatal(err)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stop ends every child and Kafka; on failure it shows the end of each worker's log.
func (h *Harness) stop() {
	for _, w := range h.workers {
		if w.Proc.Running() {
			w.Proc.Kill()
		}
		if h.t.Failed() {
			h.t.Logf("--- last lines of %s:\n%s", w.Name, tail(w.Proc.Logs(), 8))
		}
	}
	if h.Sim != nil {
		h.Sim.Close()
	}
	if h.Redis != nil {
		h.Redis.Kill()
	}
	if h.rdb != nil {
		_ = h.rdb.Close()
	}
	if h.Kafka != nil {
		h.Kafka.Close()
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logf logs with the time since the harness started.
func (h *Harness) logf(format string, args ...any) {
	h.t.Helper()
	now := time.Now()
	h.t.Logf("%6.1fs %s  %s", now.Sub(h.start).Seconds(), now.Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// eventually polls cond every 100ms until it holds; the test fails after limit.
func (h *Harness) eventually(what string, limit time.Duration, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("after %v: still waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stream produces the workload's events over Options.StreamFor in the background, in small
// batches keyed by conversation. A batch that fails (Kafka unreachable) is sent again.
func (h *Harness) Stream() {
	evs := h.Workload.Events
	const batches = 30
	size := (len(evs) + batches - 1) / batches
	pause := h.opts.StreamFor / batches
	go func() {
		defer close(h.streamed)
		for i := 0; i < len(evs); i += size {
			h.produce(evs[i:min(i+size, len(evs))])
			time.Sleep(pause)
		}
	}()
}

func (h *Harness) produce(evs []Event) {
	msgs := make([]kafka.Message, len(evs))
	for i, e := range evs {
		msgs[i] = kafka.Message{Key: []byte(e.Key), Value: e.Value}
	}
	for try := 0; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := h.Kafka.Produce(ctx, EventsTopic, msgs...)
		cancel()
		if err == nil {
			now := time.Now()
			h.mu.Lock()
			if h.produced == nil {
				h.produced = map[string]time.Time{}
			}
			for _, e := range evs {
				h.produced[e.ID] = now
			}
			h.mu.Unlock()
		}
		if err == nil || try == 120 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// WaitDelivered waits until the simulator accepted at least frac of the expected pushes.
func (h *Harness) WaitDelivered(frac float64) {
	h.t.Helper()
	want := int64(frac * float64(len(h.Workload.Pushes)))
	h.eventually(fmt.Sprintf("%.0f%% of the pushes", 100*frac), 3*time.Minute, func() bool {
		st, err := h.Sim.Stats()
		return err == nil && st.Accepted >= want
	})
	h.logf("%.0f%% of the pushes delivered", 100*frac)
}

// WaitSettled waits until every event is produced and the workers' group has committed every
// partition to its end: each event finished (pushed, skipped or dead-lettered). Then it
// scrapes the running workers.
func (h *Harness) WaitSettled(limit time.Duration) {
	h.t.Helper()
	<-h.streamed
	deadline := time.Now().Add(limit)
	for {
		lag := h.uncommitted()
		if lag == "" {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("after %v: still waiting for the group to commit every event (partition: committed/end %s)%s", limit, lag, h.stuckEvents())
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.logf("every event committed")
	for _, w := range h.workers {
		if w.Proc.Running() {
			w.Scrape()
		}
	}
}

// stuckEvents shows the event at the committed offset of each partition not committed to
// its end, one line each.
func (h *Harness) stuckEvents() string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ends, err1 := endOffsets(ctx, h.Kafka.Brokers, EventsTopic)
	done, err2 := committedOffsets(ctx, h.Kafka.Brokers, WorkerGroup, EventsTopic)
	if err := errors.Join(err1, err2); err != nil {
		return "\n" + err.Error()
	}
	var b strings.Builder
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		if off := max(done[p], 0); off < ends[p] {
			fmt.Fprintf(&b, "\npartition %d at %d: %s", p, off, eventAt(ctx, h.Kafka.Brokers, EventsTopic, p, off))
		}
	}
	return b.String()
}

// uncommitted lists the partitions the group has not committed to their end, as
// "partition: committed/end", or says why the offsets could not be read; "" when every
// partition is committed.
func (h *Harness) uncommitted() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := endOffsets(ctx, h.Kafka.Brokers, EventsTopic)
	if err != nil {
		return "end offsets: " + err.Error()
	}
	done, err := committedOffsets(ctx, h.Kafka.Brokers, WorkerGroup, EventsTopic)
	if err != nil {
		return "committed offsets: " + err.Error()
	}
	var lag []string
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		if end := ends[p]; end > 0 && done[p] < end {
			lag = append(lag, fmt.Sprintf("%d: %d/%d", p, done[p], end))
		}
	}
	return strings.Join(lag, ", ")
}

// Committed is the sum of the group's committed offsets over the events topic's partitions.
func (h *Harness) Committed() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done, err := committedOffsets(ctx, h.Kafka.Brokers, WorkerGroup, EventsTopic)
	if err != nil {
		h.t.Fatalf("committed offsets: %v", err)
	}
	var n int64
	for _, o := range done {
		n += max(o, 0)
	}
	return n
}

// snapshotInFlight records the pushes whose dedupe record is pending (claimed, not finished)
// as in flight at what; a repeat delivery of one of them is allowed. It returns how many
// there were.
func (h *Harness) snapshotInFlight(what string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pending, err := pendingPairs(ctx, h.store(), h.Workload)
	if err != nil {
		h.t.Errorf("read pending dedupe records after %s: %v", what, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range pending {
		if _, ok := h.inFlight[p]; !ok {
			h.inFlight[p] = what
		}
	}
	return len(pending)
}

// pendingPairs asks the presence store which of the workload's pushes are pending.
func pendingPairs(ctx context.Context, s *presence.Store, w *Workload) ([]Pair, error) {
	pairs, claims := pushClaims(w)
	var out []Pair
	for i := 0; i < len(claims); i += 1000 {
		j := min(i+1000, len(claims))
		st, err := s.DedupeStates(ctx, claims[i:j])
		if err != nil {
			return nil, err
		}
		for k := range st {
			if st[k].Status == presence.DedupePending {
				out = append(out, pairs[i+k])
			}
		}
	}
	return out, nil
}

// pushClaims are the claims the pipeline makes for the workload's pushes (the pairs that can
// be pending), as the pipeline makes them: recipient, message id, token and the event's
// sentAt.
func pushClaims(w *Workload) ([]Pair, []presence.Claim) {
	sentAt := make(map[string]time.Time, len(w.Events))
	for _, e := range w.Events {
		var ev struct {
			SentAt time.Time `json:"sentAt"`
		}
		_ = json.Unmarshal(e.Value, &ev) // zero sentAt if absent: the Store's clock, as in the pipeline
		sentAt[e.ID] = ev.SentAt
	}
	pairs := make([]Pair, 0, len(w.Pushes))
	for p := range w.Pushes {
		pairs = append(pairs, p)
	}
	claims := make([]presence.Claim, len(pairs))
	for i, p := range pairs {
		claims[i] = presence.Claim{UserID: w.Pushes[p], MsgID: p.Msg, Token: p.Token, SentAt: sentAt[p.Msg]}
	}
	return pairs, claims
}

// DeadLetters reads the dead-letter topic.
func (h *Harness) DeadLetters() []kafka.Message {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := readTopic(ctx, h.Kafka.Brokers, DLQTopic)
	if err != nil {
		h.t.Fatalf("read the DLQ: %v", err)
	}
	return msgs
}

// rebalancing records that the group's membership changes now.
func (h *Harness) rebalancing() {
	h.mu.Lock()
	h.rebalances = append(h.rebalances, time.Now())
	h.mu.Unlock()
}

// MarkMetricsIncomplete records that a worker stopped: counts it made after its last scrape
// are not in the ledger's metrics.
func (h *Harness) MarkMetricsIncomplete() {
	h.mu.Lock()
	h.metricsOK = false
	h.mu.Unlock()
}

// SetLatency makes the simulator answer every push after d.
func (h *Harness) SetLatency(d time.Duration) {
	h.t.Helper()
	if err := h.Sim.Latency(d); err != nil {
		h.t.Fatal(err)
	}
	h.logf("simulator latency %v", d)
}

// Fault makes the simulator answer the next count pushes with status (count 0 clears).
func (h *Harness) Fault(status int, reason string, count, retryAfter int) {
	h.t.Helper()
	if err := h.Sim.Fault(status, reason, count, retryAfter); err != nil {
		h.t.Fatal(err)
	}
	if count == 0 {
		h.logf("simulator fault cleared")
		return
	}
	h.logf("simulator answers %d %s to the next %d pushes", status, reason, count)
}

// ResetAPNs resets every worker connection to the simulator. The pushes pending just before
// and just after count as in flight at the reset: their request may have reached APNs while
// the answer was lost, so the retry can deliver them twice.
func (h *Harness) ResetAPNs() {
	h.t.Helper()
	h.snapshotInFlight("connection reset")
	n := h.Sim.Proxy.ResetAll()
	h.snapshotInFlight("connection reset")
	h.logf("reset %d APNs connections", n)
}

// Replay runs `offpush replay` against the harness's Kafka with args and waits for it.
func (h *Harness) Replay(args ...string) {
	h.t.Helper()
	args = append([]string{"replay", "--brokers", h.Kafka.Brokers[0], "--idle", "5s"}, args...)
	p, err := startProc(h.dir, "replay", h.bin, args, childEnv(nil))
	if err != nil {
		h.t.Fatal(err)
	}
	code, ok := p.Wait(2 * time.Minute)
	if !ok {
		p.Kill()
	}
	if !ok || code != 0 {
		h.t.Fatalf("offpush replay exited %d:\n%s", code, p.Logs())
	}
	out, _ := os.ReadFile(p.StdoutPath)
	h.logf("offpush replay: %s", strings.TrimSpace(string(out)))
}

// expectRejected fails the test unless the simulator rejected some pushes with reason: the
// fault a scenario injected did reach the worker.
func (h *Harness) expectRejected(reason string) {
	h.t.Helper()
	st, err := h.Sim.Stats()
	if err != nil {
		h.t.Fatal(err)
	}
	if st.Rejected[reason] == 0 {
		h.t.Errorf("the simulator rejected no push with %s: the fault did not happen", reason)
	}
	h.logf("the simulator rejected %d pushes with %s", st.Rejected[reason], reason)
}
