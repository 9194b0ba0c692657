package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/apns"
	"offpush/presence"
)

// memberStore is a fakeStore with group members, counting the pages read.
type memberStore struct {
	*fakeStore
	members map[string][]string // sorted
	pages   atomic.Int64
}

func (s *memberStore) MembersPage(_ context.Context, group, version, after string, count int) (presence.MemberPage, error) {
	s.pages.Add(1)
	all := s.members[group]
	i, _ := slices.BinarySearch(all, after)
	if i < len(all) && all[i] == after {
		i++
	}
	end := min(i+count, len(all))
	return presence.MemberPage{Version: "1", Size: int64(len(all)), UserIDs: slices.Clone(all[i:end]), More: end < len(all)}, nil
}

// newMemberHarness is newHarness on a memberStore.
func newMemberHarness(t *testing.T, o Options, members map[string][]string, send senderFunc) (*harness, *memberStore) {
	t.Helper()
	o.Brokers = []string{"unused"}
	o.setDefaults()
	ms := &memberStore{fakeStore: &fakeStore{badges: map[string]int64{}}, members: members}
	p, err := newPipeline(o, ms, send, noDLQ{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.sched = newScheduler(o.MaxEvents, o.MaxBytes, p.gos, func(j *job) { p.process(ctx, j) }, p.isStopping)
	return &harness{p: p, store: ms.fakeStore}, ms
}

// feedMembers admits a group event without recipients.
func (h *harness) feedMembers(t *testing.T, group, id, sender string) {
	t.Helper()
	v := fmt.Sprintf(`{"id":%q,"chatType":"group","group":{"id":%q},"sender":{"userId":%q},"elems":[{"type":"text","text":"hi"}]}`, id, group, sender)
	h.offset++
	m := kafka.Message{Topic: "t", Key: []byte("group:" + group), Offset: h.offset, Value: []byte(v)}
	j := &job{msg: m, ticket: h.p.offsets.track(m.Topic, 0, m.Offset)}
	if !h.p.sched.admit(context.Background(), j) {
		t.Fatal("not admitted")
	}
}

// TestMembersFanOutLaneAndBound: a 5000-member group event goes in the Bulk lane and, while
// its sends are stuck, reads only the pages its push slots and window can take (bounded
// memory), and a one-to-one push still goes out in the Fast lane meanwhile; once unblocked,
// every member but the sender is pushed once, in pages of BatchSize.
func TestMembersFanOutLaneAndBound(t *testing.T) {
	unblock := make(chan struct{})
	c2cSent := make(chan apns.Lane, 1)
	var mu sync.Mutex
	sent := map[string]int{}
	var bulk atomic.Int64
	members := map[string][]string{"big": users("m", 5000)}
	h, ms := newMemberHarness(t, Options{BatchSize: 100, LargeEvent: 200, FanoutWindow: 2, MaxPushes: 400}, members,
		func(ctx context.Context, _ int, n *apns.Request, lane apns.Lane) apns.Result {
			if n.Token == "t-bob" {
				c2cSent <- lane
				return apns.Result{Class: apns.Sent}
			}
			if lane == apns.Bulk {
				bulk.Add(1)
			}
			<-unblock
			mu.Lock()
			sent[n.Token]++
			mu.Unlock()
			return apns.Result{Class: apns.Sent}
		})
	var biggest atomic.Int64
	h.store.onLook = func(u []string) {
		for n := int64(len(u)); n > biggest.Load(); {
			biggest.CompareAndSwap(biggest.Load(), n)
		}
	}
	h.feedMembers(t, "big", "g1", "m02500")
	deadline := time.Now().Add(2 * time.Second)
	for bulk.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // more pages would be read now if a bound leaked
	// 300 bulk push slots hold 3 batches; the window of 2 holds 2 more, and one page waits
	// for a window slot.
	if got := ms.pages.Load(); got > 6 {
		t.Errorf("%d pages read while sends are stuck, want at most 6", got)
	}
	h.feed(t, "c2c:alice", "c1", []string{"bob"})
	select {
	case lane := <-c2cSent:
		if lane != apns.Fast {
			t.Errorf("one-to-one push in lane %d, want Fast", lane)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the one-to-one push waited behind the group's members")
	}
	close(unblock)
	h.p.sched.wait()
	if len(sent) != 4999 || sent["t-m02500"] != 0 {
		t.Errorf("%d members pushed (sender %d times), want 4999 and not the sender", len(sent), sent["t-m02500"])
	}
	for tok, n := range sent {
		if n != 1 {
			t.Errorf("%s pushed %d times", tok, n)
		}
	}
	if got := bulk.Load(); got != 4999 {
		t.Errorf("%d bulk pushes, want 4999", got)
	}
	if b := biggest.Load(); b > 100 {
		t.Errorf("a lookup of %d users, want batches of at most BatchSize 100", b)
	}
}

// TestMembersSmallGroupFastLane: a group of at most LargeEvent members is one batch in the
// Fast lane; an unknown group pushes nothing and finishes.
func TestMembersSmallGroupFastLane(t *testing.T) {
	var lanes sync.Map
	h, _ := newMemberHarness(t, Options{}, map[string][]string{"small": {"a", "b", "c"}},
		func(_ context.Context, _ int, n *apns.Request, lane apns.Lane) apns.Result {
			lanes.Store(n.Token, lane)
			return apns.Result{Class: apns.Sent}
		})
	h.feedMembers(t, "small", "g1", "b")
	h.feedMembers(t, "none", "g2", "b")
	h.p.sched.wait()
	n := 0
	lanes.Range(func(k, v any) bool {
		n++
		if v.(apns.Lane) != apns.Fast || k == "t-b" {
			t.Errorf("%v pushed in lane %v", k, v)
		}
		return true
	})
	if n != 2 {
		t.Errorf("%d pushes, want a and c", n)
	}
}
