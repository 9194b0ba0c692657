package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/presence"
	"offpush/render"
)

// TestCrashSafety kills a worker mid-stream (no drain, no final commit) and starts another in
// the same group: every (message, device) is delivered across both runs; a repeat happens only
// for a push whose claim was still pending (in flight) at the kill, and carries the same
// apns-collapse-id and badge, so the phone shows one notification.
func TestCrashSafety(t *testing.T) {
	const n = 300
	e := newEnv(t, 4)
	events := make([]any, n)
	tokens := map[string]string{}
	claims := make([]presence.Claim, n) // the events carry no sentAt
	for i := range n {
		user := fmt.Sprintf("u%03d", i)
		tokens[user] = token()
		e.device(user, tokens[user], 2382, 0)
		events[i] = c2c(fmt.Sprintf("crash-%03d", i), user, "hello")
		claims[i] = presence.Claim{UserID: user, MsgID: fmt.Sprintf("crash-%03d", i), Token: tokens[user]}
	}
	e.sim.SetLatency(30 * time.Millisecond) // keeps sends in flight when the kill comes
	e.publish(events...)

	first := e.start(e.opts())
	e.waitDeliveries(n / 3)
	first.p.Kill()
	select {
	case <-first.done:
		first.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("killed worker did not return")
	}
	pending := e.pendingClaims(claims)
	if at := len(e.sim.Deliveries()); at >= n {
		t.Fatalf("all %d pushes were delivered before the kill: nothing tested", at)
	}
	e.sim.SetLatency(0)
	e.start(e.opts())

	all := e.waitPairs(n)
	dups := 0
	for pair, ds := range all {
		if len(ds) == 1 {
			continue
		}
		dups += len(ds) - 1
		if !pending[pair] {
			t.Errorf("%s pushed %d times but was not in flight at the kill", pair, len(ds))
		}
		for _, d := range ds[1:] {
			if string(d.Payload) != string(ds[0].Payload) || d.Headers.CollapseID != ds[0].Headers.CollapseID {
				t.Errorf("repeat of %s differs: %s vs %s", pair, d.Payload, ds[0].Payload)
			}
		}
	}
	t.Logf("%d pairs delivered, %d claims pending at the kill, %d repeats", len(all), len(pending), dups)
	// Explain agrees after the restart: every push sent, with the apns-id the simulator got.
	for pair, ds := range all {
		if id := render.APNsID(ds[0].Headers.CollapseID, ds[0].Token); ds[0].Headers.ID != id {
			t.Fatalf("%s went with apns-id %q, want %q", pair, ds[0].Headers.ID, id)
		}
	}
	eventually(t, "explain: every push sent after the restart", func() bool {
		for _, c := range claims {
			rs, err := e.store.Explain(context.Background(), c.UserID, c.MsgID)
			if err != nil || len(rs) != 1 || rs[0].State != presence.PushSent {
				return false
			}
		}
		return true
	})
}

// pendingClaims returns the (message, token) pairs of claims whose dedupe record is still
// pending.
func (e *env) pendingClaims(claims []presence.Claim) map[string]bool {
	e.t.Helper()
	st, err := e.store.DedupeStates(context.Background(), claims)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	for i, c := range claims {
		if st[i].Status == presence.DedupePending {
			out[c.MsgID+"/"+c.Token] = true
		}
	}
	return out
}

// waitPairs waits until n distinct (collapse id, token) pairs were delivered and returns the
// deliveries of each pair.
func (e *env) waitPairs(n int) map[string][]deliveryT {
	e.t.Helper()
	var pairs map[string][]deliveryT
	eventually(e.t, fmt.Sprint(n, " distinct pushes"), func() bool {
		pairs = map[string][]deliveryT{}
		for _, d := range e.sim.Deliveries() {
			k := d.Headers.CollapseID + "/" + d.Token
			pairs[k] = append(pairs[k], d)
		}
		return len(pairs) >= n
	})
	return pairs
}

// TestTwoWorkersShareAndTakeOver runs two workers in one group: both get partitions; when one
// leaves, the other takes its partitions over and nothing is lost or pushed twice.
func TestTwoWorkersShareAndTakeOver(t *testing.T) {
	const n = 200
	e := newEnv(t, 4)
	batch := func(from int) []any {
		out := make([]any, n)
		for i := range n {
			user := fmt.Sprintf("w%03d", from+i)
			e.device(user, token(), 2382, 0)
			out[i] = c2c(fmt.Sprintf("share-%03d", from+i), user, "hi")
		}
		return out
	}
	first, second := e.start(e.opts()), e.start(e.opts())
	e.waitGroupMembers(2)
	e.publish(batch(0)...)
	e.waitDeliveries(n)
	for i, w := range []*worker{first, second} {
		got := w.counter(t, "offpush.events.consumed", func(attrs) string { return "" })[""]
		if got == 0 {
			t.Errorf("worker %d consumed nothing: partitions not shared", i)
		}
	}
	first.stop(t)
	e.publish(batch(n)...)
	pairs := e.waitPairs(2 * n)
	if d := len(e.sim.Deliveries()); d != 2*n || len(pairs) != 2*n {
		t.Errorf("%d deliveries of %d distinct pushes, want %d each: a graceful handover repeats nothing", d, len(pairs), 2*n)
	}
}

// waitGroupMembers waits until the consumer group is stable with n members.
func (e *env) waitGroupMembers(n int) {
	e.t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(e.kafka.Brokers...)}
	eventually(e.t, fmt.Sprint(n, " group members"), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := c.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{e.group}})
		if err != nil || len(res.Groups) != 1 {
			return false
		}
		g := res.Groups[0]
		return g.GroupState == "Stable" && len(g.Members) == n
	})
}

// TestGracefulStopDrains: a stop while sends are in flight lets the started events finish,
// leaves queued ones for the next owner, commits only finished events, leaves no claim
// pending, and Run returns nil.
func TestGracefulStopDrains(t *testing.T) {
	const n = 60
	e := newEnv(t, 1)
	events := make([]any, n)
	claims := make([]presence.Claim, n)
	for i := range n {
		user, tok := fmt.Sprintf("d%03d", i), token()
		e.device(user, tok, 2382, 0)
		events[i] = c2c(fmt.Sprintf("drain-%03d", i), user, "hi")
		claims[i] = presence.Claim{UserID: user, MsgID: fmt.Sprintf("drain-%03d", i), Token: tok}
	}
	e.sim.SetLatency(200 * time.Millisecond)
	o := e.opts()
	o.MaxEvents = 8
	w := e.start(o)
	e.publish(events...)
	e.waitDeliveries(1)
	w.stop(t) // returns only after the drain; fails the test on a Run error
	delivered := len(e.sim.Deliveries())
	if delivered == n {
		t.Fatal("every push was sent before the stop: nothing was in flight")
	}
	sent := map[string]bool{}
	for _, d := range e.sim.Deliveries() {
		sent[d.Headers.CollapseID] = true
	}
	committed := e.committed()[0]
	if committed <= 0 {
		t.Errorf("nothing committed after the drain")
	}
	for i := range committed {
		if id := fmt.Sprintf("drain-%03d", i); !sent[id] {
			t.Errorf("offset %d (%s) committed but never pushed", i, id)
		}
	}
	if p := e.pendingClaims(claims); len(p) != 0 {
		t.Errorf("claims left pending after a graceful stop: %v", p)
	}
}
