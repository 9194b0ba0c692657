package pipeline_test

import (
	"context"
	"maps"
	"offpush/recipient"
	"testing"
)

// TestEndToEnd publishes c2c and group events and checks the exact notifications at the
// simulator (text, sound, badge, topic, thread) and that every skipped device is counted with
// its reason, on a single redis-server and on a Redis Cluster.
func TestEndToEnd(t *testing.T) { onEachRedis(t, testEndToEnd) }

func testEndToEnd(t *testing.T) {
	e := newEnv(t, 4)
	ctx := context.Background()
	b1, c1, c2, d1, f1, g1 := token(), token(), token(), token(), token(), token()
	e.device("bob", b1, 2382, 3)
	e.device("carol", c1, 2382, 0)
	e.device("carol", c2, 2516, 0)
	e.device("dave", d1, 2382, 0)
	e.device("frank", f1, 2382, 0)
	e.device("gina", g1, 2382, 0)
	must(t, e.store.Foreground(ctx, "carol", c1))
	must(t, e.store.SetSettings(ctx, "bob", recipient.Settings{C2CSound: "a.caf", GroupSound: "b.caf"}))
	must(t, e.store.SetSettings(ctx, "dave", recipient.Settings{OpenPush: recipient.OpenPushOff}))
	must(t, e.store.SetReceiveOpt(ctx, "frank", "group:g-42", recipient.NotNotify))
	must(t, e.store.SetReceiveOpt(ctx, "gina", "group:g-42", recipient.NotNotifyExceptAt))
	w := e.start(e.opts())
	eventually(t, "ready before any event", w.p.Ready)

	// Phase 1: a c2c text. Bob's badge was 3 at background time.
	e.publish(`{"id":"m1","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"text","text":"see you at 8"}]}`)
	got := e.waitDeliveries(1)
	checkDelivery(t, got[0], b1, "com.example.im", "Alice: see you at 8", "a.caf", 4, "alice")

	// Phase 2: a group message to six users, gina @-mentioned.
	e.publish(`{"id":"m2","chatType":"group","sender":{"userId":"alice","nickname":"Alice","groupNameCard":"Ali"},"group":{"id":"g-42","name":"Hiking"},
		"recipients":["bob","carol","dave","erin","frank","gina"],"atUserIds":["gina"],"elems":[{"type":"text","text":"hi"},{"type":"image"}]}`)
	got = e.waitDeliveries(4)
	byToken := map[string]int{}
	for i, d := range got[1:] {
		byToken[d.Token] = i + 1
	}
	if len(byToken) != 3 {
		t.Fatalf("group deliveries went to %v, want bob, carol's background device and gina", byToken)
	}
	checkDelivery(t, got[byToken[b1]], b1, "com.example.im", "Ali (Hiking): hi[image]", "b.caf", 5, "g-42")
	checkDelivery(t, got[byToken[c2]], c2, "com.example.im.enterprise", "Ali (Hiking): hi[image]", "default", 1, "g-42")
	checkDelivery(t, got[byToken[g1]], g1, "com.example.im", "Ali (Hiking): hi[image]", "default", 1, "g-42")

	// Phase 3: not pushed at all (empty custom, noPush), and a silent badge-less override.
	e.publish(
		`{"id":"m3","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"custom","data":"x"}]}`,
		`{"id":"m4","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"x"}],"offlinePush":{"pushFlag":"noPush"}}`,
		`{"id":"m5","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"elems":[{"type":"custom","data":"x"}],
		  "offlinePush":{"desc":"Payment received","ext":"order-7","ios":{"sound":"push.no_sound","ignoreBadge":true}}}`,
	)
	got = e.waitDeliveries(5)
	p := checkDelivery(t, got[4], b1, "com.example.im", "Alice: Payment received", "", -1, "alice")
	if p.Ext != "order-7" {
		t.Errorf("ext = %q, want order-7", p.Ext)
	}
	if h := got[4].Headers; h.CollapseID != "m5" || h.PushType != "alert" || h.Priority != "10" {
		t.Errorf("headers = %+v", h)
	}

	want := map[string]int64{
		"sent/": 5, "skipped/foreground": 1, "skipped/push_disabled": 1, "skipped/no_device": 1,
		"skipped/muted": 1, "skipped/empty_custom": 1, "skipped/no_push_flag": 1,
	}
	eventually(t, "every push counted", func() bool { return maps.Equal(w.pushes(t), want) })
	if n := len(e.sim.Deliveries()); n != 5 {
		t.Errorf("%d deliveries, want exactly 5", n)
	}
}

// checkDelivery compares one notification; badge -1 means no badge key, sound "" no sound key.
func checkDelivery(t *testing.T, d deliveryT, tok, topic, body, sound string, badge int, thread string) payload {
	t.Helper()
	p := decodePayload(t, d)
	if d.Token != tok || d.Headers.Topic != topic {
		t.Errorf("delivery to %s topic %s, want %s topic %s", d.Token, d.Headers.Topic, tok, topic)
	}
	if p.APS.Alert.Body != body || p.APS.Sound != sound || p.APS.ThreadID != thread {
		t.Errorf("payload %s: want body %q sound %q thread %q", d.Payload, body, sound, thread)
	}
	switch {
	case badge < 0 && p.APS.Badge != nil:
		t.Errorf("payload %s has a badge, want none", d.Payload)
	case badge >= 0 && (p.APS.Badge == nil || *p.APS.Badge != badge):
		t.Errorf("payload %s: want badge %d", d.Payload, badge)
	}
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecipientListedTwice: a user listed twice in one event gets one push per device.
func TestRecipientListedTwice(t *testing.T) { onEachRedis(t, testRecipientListedTwice) }

func testRecipientListedTwice(t *testing.T) {
	e := newEnv(t, 1)
	e.device("bob", token(), 2382, 0)
	w := e.start(e.opts())
	e.publish(`{"id":"twice","chatType":"group","sender":{"userId":"alice"},"group":{"id":"g"},"recipients":["bob","carol","bob"],"elems":[{"type":"image"}]}`)
	e.waitDeliveries(1)
	want := map[string]int64{"sent/": 1, "skipped/no_device": 1, "skipped/duplicate": 1}
	eventually(t, "outcomes counted", func() bool { return maps.Equal(w.pushes(t), want) })
	if n := len(e.sim.Deliveries()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}
