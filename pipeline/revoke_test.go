package pipeline_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"offpush/presence"
	"offpush/render"
)

// recall is the revoke event of message msg from alice to the recipients.
func recall(id, msg string, to ...string) string {
	rs := ""
	for i, u := range to {
		if i > 0 {
			rs += ","
		}
		rs += `"` + u + `"`
	}
	return fmt.Sprintf(`{"id":%q,"kind":"revoke","revokes":%q,"chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":[%s]}`, id, msg, rs)
}

// noise is an event that pushes nothing, published first so the next event of the same
// publish call gets another Kafka key (and runs at the same time).
const noise = `{"id":"noise","chatType":"c2c","sender":{"userId":"alice"},"recipients":["nobody"],"elems":[{"type":"text","text":"x"}],"offlinePush":{"pushFlag":"noPush"}}`

// explainOne is the record of user's one device for msg.
func (e *env) explainOne(user, msg string) presence.PushRecord {
	e.t.Helper()
	rs, err := e.store.Explain(context.Background(), user, msg)
	if err != nil || len(rs) != 1 {
		e.t.Fatalf("explain %s: %+v %v", msg, rs, err)
	}
	return rs[0]
}

// TestRecallAfterDelivery: the original reached bob's phone; the recall replaces it (same
// collapse id, "Alice recalled a message", no sound, passive, the badge one lower) and the
// stored badge goes down; the original and the recall redelivered later push nothing.
func TestRecallAfterDelivery(t *testing.T) {
	e := newEnv(t, 1)
	tok := token()
	e.device("bob", tok, 2382, 4)
	w := e.start(e.opts())
	e.publish(c2c("m-42", "bob", "see you at 8"))
	orig := e.waitDeliveries(1)[0]
	if decodePayload(t, orig).APS.Badge == nil || *decodePayload(t, orig).APS.Badge != 5 {
		t.Fatalf("original %s", orig.Payload)
	}
	eventually(t, "original settled", func() bool { return e.explainOne("bob", "m-42").State == presence.PushSent })
	e.publish(recall("r-1", "m-42", "bob"))
	ds := e.waitDeliveries(2)
	rep := ds[1]
	want := `{"aps":{"alert":{"body":"Alice recalled a message"},"badge":4,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`
	if rep.Headers.CollapseID != "m-42" || string(rep.Payload) != want || rep.Headers.ID != render.APNsID("r-1", tok) {
		t.Errorf("replacement %+v %s, want collapse id m-42 and %s", rep.Headers, rep.Payload, want)
	}
	eventually(t, "explain: revoked", func() bool {
		r := e.explainOne("bob", "m-42")
		return r.State == presence.PushRevoked && r.Badge == 4 && r.Attempts == 1
	})
	if devs, _ := e.store.Devices(context.Background(), "bob"); devs[0].Badge != 4 {
		t.Errorf("stored badge %d, want 4", devs[0].Badge)
	}
	// Kafka redelivers both (a replay, a rebalance): nothing more reaches the phone.
	e.publish(c2c("m-42", "bob", "see you at 8"), recall("r-1", "m-42", "bob"))
	eventually(t, "both committed", func() bool { return e.committed()[0] == 4 })
	if n := len(e.sim.Deliveries()); n != 2 {
		t.Errorf("%d deliveries after the redeliveries, want 2", n)
	}
	eventually(t, "counted", func() bool {
		p := w.pushes(t)
		return p["skipped/revoked"] == 1 && p["sent/"] == 2
	})
	if r := w.counter(t, "offpush.revokes", func(a attrs) string { return a["result"] }); r["replaced"] != 1 {
		t.Errorf("offpush.revokes %v, want one replaced", r)
	}
}

// TestRecallBeforeDelivery: the recall comes first (the original still in IM core's queue,
// in the DLQ, or replayed later): the original never reaches the phone, and no replacement is
// sent.
func TestRecallBeforeDelivery(t *testing.T) {
	e := newEnv(t, 1)
	e.device("bob", token(), 2382, 0)
	w := e.start(e.opts())
	e.publish(recall("r-1", "m-42", "bob"))
	eventually(t, "recall committed", func() bool { return e.committed()[0] == 1 })
	e.publish(c2c("m-42", "bob", "see you at 8"), c2c("m-43", "bob", "after"))
	eventually(t, "all committed", func() bool { return e.committed()[0] == 3 })
	ds := e.waitDeliveries(1)
	if len(ds) != 1 || ds[0].Headers.CollapseID != "m-43" {
		t.Fatalf("deliveries %+v, want only m-43", ds)
	}
	if p := w.pushes(t); p["skipped/revoked"] != 1 {
		t.Errorf("pushes %v, want the original skipped as revoked", p)
	}
	if r := e.explainOne("bob", "m-42"); r.State != presence.PushRevoked || r.Attempts != 0 {
		t.Errorf("explain %+v, want revoked, never sent", r)
	}
}

// TestRecallWhileRetrying: the original is in flight, retrying against a failing APNs, when
// the recall comes (another Kafka key, so both run at once): the original stops before its
// next retry and is never delivered, even after APNs recovers.
func TestRecallWhileRetrying(t *testing.T) {
	e := newEnv(t, 1)
	e.device("bob", token(), 2382, 1)
	e.sim.InjectFault(503, "ServiceUnavailable", 1000)
	o := e.opts()
	o.InitialBackoff, o.MaxAttempts, o.MaxElapsed = 300*time.Millisecond, 20, 30*time.Second
	w := e.start(o)
	e.publish(c2c("m-42", "bob", "see you at 8"))
	eventually(t, "the original retrying", func() bool { return e.sim.Stats().Requests >= 1 })
	e.publish(noise, recall("r-1", "m-42", "bob"))
	eventually(t, "everything committed", func() bool { return e.committed()[0] == 3 })
	if n := e.sim.Stats().Accepted; n != 0 {
		t.Errorf("%d pushes accepted, want none", n)
	}
	if p := w.pushes(t); p["skipped/revoked"] != 1 || p["dead_letter/apns_retry_exhausted"] != 0 {
		t.Errorf("pushes %v, want the original skipped as revoked", p)
	}
	r := e.explainOne("bob", "m-42")
	devs, _ := e.store.Devices(context.Background(), "bob")
	if r.State != presence.PushRevoked || devs[0].Badge != 1 {
		t.Errorf("explain %+v, badge %d: want revoked and the claim's badge given back (1)", r, devs[0].Badge)
	}
}
