package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"offpush/event"
	"offpush/presence"
)

// groupEvent is a group message to the members of group (no recipients).
func groupEvent(id, group, sender string) string {
	return fmt.Sprintf(`{"id":%q,"chatType":"group","sender":{"userId":%q,"nickname":"S"},"group":{"id":%q,"name":"G"},"elems":[{"type":"text","text":"hi"}]}`,
		id, sender, group)
}

// members makes n members of group (ids prefix + number), each with one background device,
// and returns their tokens by user. The registrations run on a few goroutines.
func (e *env) members(group, prefix string, n int) map[string]string {
	e.t.Helper()
	ids := make([]string, n)
	toks := make([]string, n)
	for i := range ids {
		ids[i], toks[i] = fmt.Sprintf("%s%06d", prefix, i), token()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				e.device(ids[i], toks[i], 2382, 0)
			}
		})
	}
	wg.Wait()
	if _, err := e.store.ReplaceMembers(context.Background(), group, ids); err != nil {
		e.t.Fatal(err)
	}
	out := make(map[string]string, n)
	for i, id := range ids {
		out[id] = toks[i]
	}
	return out
}

func TestGroupWithoutRecipients(t *testing.T) { onEachRedis(t, testGroupWithoutRecipients) }

// testGroupWithoutRecipients: group events without recipients reach every current member
// except the sender, once, for a small group (the fast lane, one batch) and a large one
// (1200 members in pages of BatchSize, the bulk lane); a member whose device cannot be sent
// to ends in the DLQ narrowed to that member alone; an event with a recipient list ignores
// the membership.
func testGroupWithoutRecipients(t *testing.T) {
	e := newEnv(t, 4)
	ctx := context.Background()
	small := e.members("small", "s", 3)
	large := e.members("large", "l", 1200)
	must(t, e.store.JoinGroup(ctx, "small", "nodevice"))
	must(t, e.store.SetToken(ctx, "bad", token(), 9999)) // no such certificate
	must(t, e.store.JoinGroup(ctx, "large", "bad"))
	w := e.start(e.opts())
	e.publish(groupEvent("gm-small", "small", "s000000"), groupEvent("gm-large", "large", "l000600"),
		`{"id":"gm-listed","chatType":"group","sender":{"userId":"x"},"group":{"id":"small"},"recipients":["s000001"],"elems":[{"type":"text","text":"hi"}]}`)

	want := map[string]bool{} // msg/token
	for u, tok := range small {
		if u != "s000000" {
			want["gm-small/"+tok] = true
		}
	}
	for u, tok := range large {
		if u != "l000600" {
			want["gm-large/"+tok] = true
		}
	}
	want["gm-listed/"+small["s000001"]] = true
	pairs := e.waitPairs(len(want))
	for pair, ds := range pairs {
		if !want[pair] {
			t.Errorf("pushed %s, which is no member's (or the sender's)", pair)
		}
		if len(ds) != 1 {
			t.Errorf("%s pushed %d times", pair, len(ds))
		}
	}
	recs := e.dlqRecords(1)
	m, err := event.Decode(recs[0].Value)
	must(t, err)
	if m.ID != "gm-large" || m.ToMembers() || len(m.Recipients) != 1 || m.Recipients[0] != "bad" {
		t.Errorf("dead letter %s: want gm-large narrowed to bad", recs[0].Value)
	}
	eventually(t, "every event committed", func() bool {
		n := int64(0)
		for _, o := range e.committed() {
			n += max(o, 0)
		}
		return n == 3
	})
	got := w.counter(t, "offpush.recipients", func(attrs) string { return "" })[""]
	if want := int64(2 + 1 + 1200 + 1 - 1 + 1); got != want { // small and nodevice, listed, large and bad minus the sender
		t.Errorf("offpush.recipients = %d, want %d", got, want)
	}
	if d := len(e.sim.Deliveries()); d != len(want) {
		t.Errorf("%d deliveries, want %d", d, len(want))
	}
}

// TestGroupFanOutCrash kills a worker in the middle of a 20000-member fan-out (no drain, no
// final commit) and starts another: every member but the sender is pushed, and a repeat
// happens only for a push whose claim was still pending at the kill. A member who joined
// after the kill is pushed by the redelivery (the restarted fan-out reads the current list);
// a member who left after the kill and was not pushed yet is not.
func TestGroupFanOutCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("20000 members")
	}
	const n = 20000
	e := newEnv(t, 1)
	ctx := context.Background()
	toks := e.members("big", "m", n)
	claims := make([]presence.Claim, 0, n)
	for u, tok := range toks {
		claims = append(claims, presence.Claim{UserID: u, MsgID: "big-1", Token: tok})
	}
	e.sim.SetLatency(20 * time.Millisecond)
	o := e.opts()
	o.BatchSize = 500
	o.MaxPushes = 200 // 200 in flight at 20 ms: the fan-out takes about 2 s, the kill comes at a quarter
	first := e.start(o)
	e.publish(groupEvent("big-1", "big", "m000000"))
	e.waitDeliveries(n / 4)
	first.p.Kill()
	select {
	case <-first.done:
		first.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("killed worker did not return")
	}
	at := len(e.sim.Deliveries())
	if at >= n-1 {
		t.Fatalf("all %d pushes were delivered before the kill: nothing tested", at)
	}
	pending := e.pendingClaims(claims)
	// The last member, not reached yet, leaves; a new one joins.
	must(t, e.store.LeaveGroup(ctx, "big", fmt.Sprintf("m%06d", n-1)))
	late := token()
	e.device("zz-late", late, 2382, 0)
	must(t, e.store.JoinGroup(ctx, "big", "zz-late"))
	e.sim.SetLatency(0)
	e.start(o)

	e.waitPairs(n - 1) // n members minus the sender, minus the leaver, plus the late one
	eventually(t, "the event committed", func() bool { return e.committed()[0] == 1 })
	all := e.waitPairs(n - 1)
	dups := 0
	for pair, ds := range all {
		if len(ds) > 1 {
			dups += len(ds) - 1
			if !pending[pair] {
				t.Errorf("%s pushed %d times but was not in flight at the kill", pair, len(ds))
			}
		}
	}
	if _, ok := all["big-1/"+toks["m000000"]]; ok {
		t.Error("the sender was pushed")
	}
	if _, ok := all["big-1/"+toks[fmt.Sprintf("m%06d", n-1)]]; ok {
		t.Error("the member who left before the fan-out reached them was pushed")
	}
	if _, ok := all["big-1/"+late]; !ok {
		t.Error("the member who joined before the redelivery was not pushed")
	}
	for u, tok := range toks {
		if _, ok := all["big-1/"+tok]; !ok && u != "m000000" && u != fmt.Sprintf("m%06d", n-1) {
			t.Errorf("member %s was never pushed", u)
		}
	}
	t.Logf("%d delivered before the kill, %d claims pending at it, %d repeats, %d distinct pushes", at, len(pending), dups, len(all))
}

// TestMembersDeadLetterReplays: the dead letter of a members event is a one-recipient event,
// which a replay pushes to that member only.
func TestMembersDeadLetterReplays(t *testing.T) {
	e := newEnv(t, 1)
	toks := e.members("g", "r", 3)
	narrowed := (&event.Message{ID: "rp-1", ChatType: event.Group, Sender: event.Sender{UserID: "x"},
		Group: &event.GroupInfo{ID: "g"}, Elems: []event.Elem{{Type: event.Text, Text: "hi"}}}).Narrow("r000001")
	b, err := json.Marshal(narrowed)
	must(t, err)
	e.start(e.opts())
	e.publish(string(b))
	got := e.waitPairs(1)
	if _, ok := got["rp-1/"+toks["r000001"]]; !ok || len(got) != 1 {
		t.Errorf("replayed dead letter pushed %v, want r000001 only", got)
	}
	time.Sleep(300 * time.Millisecond)
	if d := len(e.sim.Deliveries()); d != 1 {
		t.Errorf("%d deliveries, want 1", d)
	}
}
