package chaos

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/presence"
	"offpush/render"
)

// TestRecallKill9 recalls a fifth of the one-to-one messages (each recall in the same
// conversation, 1–40 or 150–700 events after the original) while one of two workers is
// killed with SIGKILL and a third is added; bursts of 429 (Retry-After 1 s) before the kill
// leave originals retrying when it comes. Per recalled push, the original is either never
// delivered or delivered and then replaced exactly once (same collapse id, "… recalled a
// message"), never delivered after its replacement; nothing else is lost.
//
// The events of one conversation run one after another, so a recall published after its
// message is handled once the message's event finished: on one worker a recall finds the
// original sent (replaced) or, for a device it was never meant for, absent (prevented). The
// orderings that remain are those of a crash: originals in flight at the kill, which the
// next owner sends again after the claim lease, and their recalls after them.
func TestRecallKill9(t *testing.T) {
	long(t)
	spec := workload()
	spec.Recall = 0.2
	h := New(t, Options{Workload: spec, MaxAttempts: 8})
	h.SetLatency(300 * time.Millisecond)
	h.Stream()
	w := h.StartWorker()
	h.StartWorker()
	for _, at := range []float64{0.1, 0.2, 0.3} {
		h.WaitDelivered(at)
		h.Fault(429, "TooManyRequests", 150, 1)
	}
	h.WaitDelivered(0.35)
	h.Kill9(w)
	h.StartWorker()
	h.WaitSettled(3 * time.Minute)
	h.expectRejected("TooManyRequests")
	l := h.Account("recall 20% + kill -9 (2 workers)", false)
	if l.Recall == nil || l.Recall.Replaced == 0 || l.Recall.InFlight == 0 {
		t.Errorf("want recalled pushes replaced, and some in flight at the kill: %v", l.Recall)
	}
}

// TestRecallWorkload: a share of the c2c events is followed, later in the stream and with
// the same key, by a recall naming it; other workloads stay as they were.
func TestRecallWorkload(t *testing.T) {
	plain := NewWorkload(ShortWorkload)
	spec := ShortWorkload
	spec.Recall = 0.2
	w := NewWorkload(spec)
	if len(plain.Recalls) != 0 || len(w.Recalls) < 60 || len(w.Recalls) > 180 {
		t.Fatalf("%d recalls of %d c2c events (plain workload: %d)", len(w.Recalls), ShortWorkload.C2C, len(plain.Recalls))
	}
	if len(w.Events) != len(plain.Events)+len(w.Recalls) || len(w.Pushes) != len(plain.Pushes) {
		t.Errorf("%d events, %d pushes; want %d + %d recalls, %d", len(w.Events), len(w.Pushes), len(plain.Events), len(w.Recalls), len(plain.Pushes))
	}
	pos := map[string]int{}
	key := map[string]string{}
	for i, e := range w.Events {
		pos[e.ID], key[e.ID] = i, e.Key
	}
	for orig, rid := range w.Recalls {
		if pos[rid] <= pos[orig] || key[rid] != key[orig] {
			t.Errorf("recall %s at %d (key %s) of %s at %d (key %s)", rid, pos[rid], key[rid], orig, pos[orig], key[orig])
		}
		var ev map[string]any
		if err := json.Unmarshal(w.Events[pos[rid]].Value, &ev); err != nil || ev["kind"] != "revoke" || ev["revokes"] != orig || ev["elems"] != nil {
			t.Errorf("recall %s: %s", rid, w.Events[pos[rid]].Value)
		}
	}
}

// replacement is the replacement of msg's push on token sent by the recall rid.
func replacement(msg, rid, token string, badge int64, at time.Time) Delivery {
	d := delivery(msg, token, badge, at)
	d.Headers.ID = render.APNsID(rid, token)
	d.Payload.APS.Alert = json.RawMessage(`{"title":"Nick a","body":"Nick a recalled a message"}`)
	d.Payload.APS.InterruptionLevel = "passive"
	return d
}

// TestDrawRecalls: the workload of TestDraw with m1 (devices ta, tb of user a) recalled by
// rm1; m2 is not recalled.
func TestDrawRecalls(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	unknownCert := deadLetter("m1", tok("c"), "unknown_certificate")
	m2 := delivery("m2", tok("a"), 2, at(0))
	origA, origB := delivery("m1", tok("a"), 1, at(1)), delivery("m1", tok("b"), 1, at(1))
	repA, repB := replacement("m1", "rm1", tok("a"), 0, at(2)), replacement("m1", "rm1", tok("b"), 0, at(2))
	revoked := map[Pair]presence.PushState{{"m1", tok("a")}: presence.PushRevoked, {"m1", tok("b")}: presence.PushRevoked}
	for _, tc := range []struct {
		name                          string
		deliveries                    []Delivery
		inFlight                      map[Pair]string
		kills                         []time.Time
		states                        map[Pair]presence.PushState
		replaced, prevented, blind    int
		repeats, lost, wantViolations int
		problems                      []string
	}{
		{name: "prevented", deliveries: []Delivery{m2}, states: revoked, prevented: 2},
		{name: "replaced", deliveries: []Delivery{origA, origB, m2, repA, repB}, states: revoked, replaced: 2},
		{name: "one replaced, one prevented", deliveries: []Delivery{origA, m2, repA}, states: revoked, replaced: 1, prevented: 1},
		{name: "not prevented: lost", deliveries: []Delivery{origA, m2, repA}, states: map[Pair]presence.PushState{{"m1", tok("a")}: presence.PushRevoked},
			replaced: 1, lost: 1, problems: []string{"lost: message m1"}},
		{name: "original after its replacement", deliveries: []Delivery{repA, origA, m2, origB, repB}, states: revoked,
			inFlight: map[Pair]string{{"m1", tok("a")}: "kill"}, replaced: 1, wantViolations: 1, problems: []string{"after its replacement"}},
		{name: "never replaced", deliveries: []Delivery{origA, m2}, states: revoked, prevented: 1, wantViolations: 1, problems: []string{"never replaced"}},
		{name: "replaced twice across a kill", deliveries: []Delivery{origA, repA, m2, replacement("m1", "rm1", tok("a"), 0, at(20000))},
			kills: []time.Time{at(3)}, states: revoked, replaced: 1, prevented: 1, repeats: 1},
		{name: "replaced just after the kill, then again", deliveries: []Delivery{origA, repA, m2, replacement("m1", "rm1", tok("a"), 0, at(20000))},
			kills: []time.Time{at(-2)}, states: revoked, replaced: 1, prevented: 1, repeats: 1},
		{name: "replaced twice", deliveries: []Delivery{origA, repA, m2, replacement("m1", "rm1", tok("a"), 0, at(20000))},
			kills: []time.Time{at(30000)}, states: revoked, prevented: 1, wantViolations: 1, problems: []string{"replaced 2 times"}},
		{name: "blind, in flight", deliveries: []Delivery{repA, m2}, inFlight: map[Pair]string{{"m1", tok("a")}: "kill"}, states: revoked, blind: 1, prevented: 1},
		{name: "blind", deliveries: []Delivery{repA, m2}, states: revoked, prevented: 1, wantViolations: 1, problems: []string{"never delivered, nor in flight"}},
		{name: "replacement of another message", deliveries: []Delivery{m2, replacement("m2", "rm2", tok("a"), 0, at(3))}, states: revoked, prevented: 2,
			wantViolations: 1, problems: []string{"was not recalled"}},
		{name: "replacement with the original's apns-id", deliveries: []Delivery{origA, m2, func() Delivery {
			d := repA
			d.Headers.ID = render.APNsID("m1", tok("a"))
			return d
		}()}, states: revoked, replaced: 1, prevented: 1, wantViolations: 1, problems: []string{"want the recall's"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := ledgerWorkload()
			w.Recalls = map[string]string{"m1": "rm1"}
			in := ledgerInput{w: w, deliveries: tc.deliveries, deadLetter: []kafka.Message{unknownCert}, inFlight: tc.inFlight,
				kills: tc.kills, recallStates: tc.states}
			l := draw(tc.name, in)
			r := l.Recall
			if r == nil {
				t.Fatal("no recall ledger")
			}
			if r.Recalled != 2 || r.Replaced != tc.replaced || r.Prevented != tc.prevented || r.Blind != tc.blind || r.Repeats != tc.repeats || l.Lost != tc.lost || len(r.Violations) != tc.wantViolations {
				t.Errorf("%s; lost %d\nwant replaced %d, prevented %d, blind %d, repeats %d, lost %d, violations %d; problems %q",
					r, l.Lost, tc.replaced, tc.prevented, tc.blind, tc.repeats, tc.lost, tc.wantViolations, l.Problems)
			}
			if l.Expected != l.Delivered+l.Skipped+l.DLQ+l.Lost {
				t.Errorf("expected %d ≠ delivered %d + skipped %d + DLQ %d + lost %d", l.Expected, l.Delivered, l.Skipped, l.DLQ, l.Lost)
			}
			got := strings.Join(l.Problems, "\n")
			for _, want := range tc.problems {
				if !strings.Contains(got, want) {
					t.Errorf("problems %q do not mention %q", l.Problems, want)
				}
			}
			if len(tc.problems) == 0 && len(l.Problems) > 0 {
				t.Errorf("problems %q, want none", l.Problems)
			}
		})
	}
}
