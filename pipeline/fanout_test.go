package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/apns"
	"offpush/presence"
	"offpush/recipient"
)

// These tests run the scheduler and the fan-out against in-memory stages (fakeStore,
// fakeSender): no Redis, Kafka or simulator, so they are fast and deterministic. The
// end-to-end tests run the same code on the real ones.

// fakeStore gives every user one background device (token = "t-" + user) and claims every
// push as new with a badge that counts per device.
type fakeStore struct {
	mu      sync.Mutex
	badges  map[string]int64
	lookups atomic.Int64
	onLook  func(users []string) // called at the start of each Lookup, if set
}

func (s *fakeStore) Lookup(_ context.Context, users []string) ([]presence.Recipient, error) {
	s.lookups.Add(1)
	if s.onLook != nil {
		s.onLook(users)
	}
	out := make([]presence.Recipient, len(users))
	for i, u := range users {
		out[i] = presence.Recipient{UserID: u, Devices: []recipient.Device{{Token: "t-" + u, BusiID: 1}}}
	}
	return out, nil
}

func (s *fakeStore) Claim(_ context.Context, claims []presence.Claim) ([]presence.ClaimResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]presence.ClaimResult, len(claims))
	for i, c := range claims {
		s.badges[c.Token]++
		out[i] = presence.ClaimResult{State: presence.ClaimNew, Badge: s.badges[c.Token]}
	}
	return out, nil
}

func (s *fakeStore) Done(context.Context, []presence.Claim) error    { return nil }
func (s *fakeStore) Release(context.Context, []presence.Claim) error { return nil }
func (s *fakeStore) RemoveDeadToken(context.Context, string, string, time.Time) (presence.TokenRemoval, error) {
	return presence.TokenRemoved, nil
}

// senderFunc is a Sender from a function.
type senderFunc func(ctx context.Context, busiID int, n *apns.Request, lane apns.Lane) apns.Result

func (f senderFunc) Send(ctx context.Context, busiID int, n *apns.Request, lane apns.Lane) apns.Result {
	return f(ctx, busiID, n, lane)
}

// testTopics are the certificates a senderFunc has, by busiId; each sends both kinds.
var testTopics = map[int]string{1: "com.example.im", 2: "com.example.im.enterprise"}

func (senderFunc) Topic(busiID int) (string, bool) { t, ok := testTopics[busiID]; return t, ok }

func (senderFunc) Sends(busiID int, _ apns.Kinds) bool { _, ok := testTopics[busiID]; return ok }

type noDLQ struct{}

func (noDLQ) WriteMessages(context.Context, ...kafka.Message) error { return nil }
func (noDLQ) Close() error                                          { return nil }

// harness is a pipeline on fake stages with its scheduler, fed by feed.
type harness struct {
	p      *Pipeline
	store  *fakeStore
	offset int64
}

func newHarness(t *testing.T, o Options, send senderFunc) *harness {
	t.Helper()
	o.Brokers = []string{"unused"}
	o.setDefaults()
	store := &fakeStore{badges: map[string]int64{}}
	p, err := newPipeline(o, store, send, noDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.sched = newScheduler(o.MaxEvents, o.MaxBytes, p.gos, func(j *job) { p.process(ctx, j) }, p.isStopping)
	return &harness{p: p, store: store}
}

// feed admits an event of conversation key with the given recipients.
func (h *harness) feed(t *testing.T, key, id string, recipients []string) {
	t.Helper()
	chat := `"chatType":"c2c"`
	if len(recipients) > 1 {
		chat = `"chatType":"group","group":{"id":"` + key + `","name":"G"}`
	}
	rs, _ := json.Marshal(recipients)
	v := fmt.Sprintf(`{"id":%q,%s,"sender":{"userId":"s","nickname":"S"},"recipients":%s,"elems":[{"type":"text","text":"hi"}]}`, id, chat, rs)
	h.offset++
	m := kafka.Message{Topic: "t", Key: []byte(key), Offset: h.offset, Value: []byte(v)}
	j := &job{msg: m, ticket: h.p.offsets.track(m.Topic, 0, m.Offset)}
	if !h.p.sched.admit(context.Background(), j) {
		t.Fatal("not admitted")
	}
}

func users(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}

// TestSmallBeforeLarge: while a large group's pushes are stuck at APNs, holding every push slot
// the Bulk lane may take, a one-to-one event of another conversation is still looked up,
// claimed and sent; the large group's pushes go in the Bulk lane, the one-to-one push in the
// Fast lane.
func TestSmallBeforeLarge(t *testing.T) {
	unblock := make(chan struct{})
	c2cSent := make(chan apns.Lane, 1)
	var bulk atomic.Int64
	h := newHarness(t, Options{BatchSize: 100, LargeEvent: 50, FanoutWindow: 2, MaxPushes: 400},
		func(ctx context.Context, _ int, n *apns.Request, lane apns.Lane) apns.Result {
			if n.Token == "t-bob" {
				c2cSent <- lane
				return apns.Result{Class: apns.Sent}
			}
			if lane == apns.Bulk {
				bulk.Add(1)
			}
			<-unblock
			return apns.Result{Class: apns.Sent}
		})
	h.feed(t, "group:big", "g1", users("m", 1000))
	deadline := time.Now().Add(2 * time.Second)
	for bulk.Load() < 300 && time.Now().Before(deadline) { // the Bulk share of MaxPushes at APNs
		time.Sleep(time.Millisecond)
	}
	h.feed(t, "c2c:alice", "c1", []string{"bob"})
	select {
	case lane := <-c2cSent:
		if lane != apns.Fast {
			t.Errorf("one-to-one push in lane %d, want Fast", lane)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the one-to-one push waited behind the large group")
	}
	if got := bulk.Load(); got != 300 {
		t.Errorf("%d bulk pushes in flight, want %d%% of MaxPushes 400", got, apns.BulkShare)
	}
	close(unblock)
	h.p.sched.wait()
	if got := bulk.Load(); got != 1000 {
		t.Errorf("%d bulk pushes, want 1000", got)
	}
}

// TestFanOutPipelined: the lookups of the next batches of an event start while the sends of
// the first are still waiting for APNs. A batch leaves the window once its pushes started, so
// the sends in flight are bounded by MaxPushes, and the batches looked up by the window: with
// sends stuck and 25 push slots for batches of 10, exactly 25 sends wait, at most two batches
// have left the window of 3 (at most 5 lookups), and at least the window's 3 were looked up.
func TestFanOutPipelined(t *testing.T) {
	unblock := make(chan struct{})
	var sending atomic.Int64
	h := newHarness(t, Options{BatchSize: 10, FanoutWindow: 3, MaxPushes: 25},
		func(context.Context, int, *apns.Request, apns.Lane) apns.Result {
			sending.Add(1)
			<-unblock
			return apns.Result{Class: apns.Sent}
		})
	h.feed(t, "group:g", "g1", users("m", 100))
	deadline := time.Now().Add(2 * time.Second)
	for (h.store.lookups.Load() < 3 || sending.Load() < 25) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // more would come now if a bound leaked
	if got, sends := h.store.lookups.Load(), sending.Load(); got < 3 || got > 5 || sends != 25 {
		t.Fatalf("%d lookups and %d sends while sends are stuck, want 3..5 and MaxPushes = 25", got, sends)
	}
	close(unblock)
	h.p.sched.wait()
	if got := h.store.lookups.Load(); got != 10 {
		t.Errorf("%d lookups, want 10 batches", got)
	}
}

// TestDeviceOrder: with sends that answer after random delays and batches in flight at once,
// every device gets one conversation's messages in order (message k before k+1), while
// conversations run at once.
func TestDeviceOrder(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{} // token → collapse ids in send order
	var seq atomic.Int64
	h := newHarness(t, Options{BatchSize: 7, FanoutWindow: 4, LargeEvent: 10},
		func(_ context.Context, _ int, n *apns.Request, _ apns.Lane) apns.Result {
			time.Sleep(time.Duration(seq.Add(7919)%5) * time.Millisecond)
			mu.Lock()
			got[n.Token] = append(got[n.Token], n.CollapseID)
			mu.Unlock()
			return apns.Result{Class: apns.Sent}
		})
	const msgs = 8
	members := users("m", 40)
	for k := range msgs {
		h.feed(t, "group:a", fmt.Sprintf("a%d", k), members)
		h.feed(t, "group:b", fmt.Sprintf("b%d", k), members[:15])
		h.feed(t, "c2c:x", fmt.Sprintf("c%d", k), []string{"m00003"})
	}
	h.p.sched.wait()
	for _, u := range members {
		ids := got["t-"+u]
		last := map[byte]int{'a': -1, 'b': -1, 'c': -1}
		for _, id := range ids {
			var k int
			fmt.Sscanf(id[1:], "%d", &k)
			if k != last[id[0]]+1 {
				t.Fatalf("%s got %v: %s out of order", u, ids, id)
			}
			last[id[0]] = k
		}
		if last['a'] != msgs-1 {
			t.Errorf("%s got %v, want all %d messages of group a", u, ids, msgs)
		}
	}
}
