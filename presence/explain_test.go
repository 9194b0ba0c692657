package presence_test

import (
	"context"
	"testing"
	"time"

	"offpush/presence"
)

// TestExplain follows one message to bob's devices through every state Explain reports:
// none, pending, sent, dead letter and its replay, token removed, and a token logged out
// after its push; an unknown message reads as none.
func TestExplain(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const tokC = "cccc000000000000000000000000000000000000000000000000000000000003"
	for _, tok := range []string{tokA, tokB, tokC} {
		must(t, e.store.SetToken(ctx, "bob", tok, 2382))
		must(t, e.store.Background(ctx, "bob", tok, 2))
	}
	sentAt := e.clock.Now().Add(-time.Hour)
	claim := func(tok string) presence.Claim {
		return presence.Claim{UserID: "bob", MsgID: "m1", Token: tok, SentAt: sentAt}
	}
	explain := func(msg string) map[string]presence.PushRecord {
		t.Helper()
		rs, err := e.store.Explain(ctx, "bob", msg)
		must(t, err)
		out := map[string]presence.PushRecord{}
		for i, r := range rs {
			if i > 0 && rs[i-1].Token >= r.Token {
				t.Fatalf("records not sorted by token: %+v", rs)
			}
			out[r.Token] = r
		}
		return out
	}
	for tok, r := range explain("m1") {
		if r.State != presence.PushNone || !r.Registered || r.Badge != -1 || !r.At.IsZero() {
			t.Errorf("%s before any push: %+v, want none", tok, r)
		}
	}

	if _, err := e.store.Claim(ctx, []presence.Claim{claim(tokA), claim(tokB), claim(tokC)}); err != nil {
		t.Fatal(err)
	}
	r := explain("m1")
	if a := r[tokA]; a.State != presence.PushPending || a.Badge != 3 || a.At.IsZero() {
		t.Fatalf("claimed: %+v, want pending with badge 3 and a time", a)
	}

	// A: sent on the second attempt. B: dead-lettered after 5. C: its token died.
	sentA, deadB, goneC := claim(tokA), claim(tokB), claim(tokC)
	sentA.Attempts, deadB.Attempts, goneC.Attempts, goneC.Outcome = 2, 5, 1, presence.OutcomeTokenRemoved
	e.clock.Add(90 * time.Second)
	must(t, e.store.Done(ctx, []presence.Claim{sentA}))
	must(t, e.store.Release(ctx, []presence.Claim{deadB}))
	if _, err := e.store.RemoveDeadToken(ctx, "bob", tokC, time.Time{}); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.Done(ctx, []presence.Claim{goneC}))
	r = explain("m1")
	now := time.Now() // the Redis clock the records are written with
	for tok, want := range map[string]presence.PushRecord{
		tokA: {Registered: true, State: presence.PushSent, Badge: 3, Attempts: 2},
		tokB: {Registered: true, State: presence.PushDeadLetter, Badge: 3, Attempts: 5},
		tokC: {Registered: false, State: presence.PushTokenRemoved, Badge: 3, Attempts: 1},
	} {
		got := r[tok]
		at := got.At
		got.At, got.Token = time.Time{}, ""
		if got != want {
			t.Errorf("%s: %+v, want %+v", tok[:4], got, want)
		}
		if d := now.Sub(at); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("%s finished at %s, want about %s", tok[:4], at, now)
		}
	}

	// The DLQ record replayed: claimed anew (badge 4), then sent.
	res, err := e.store.Claim(ctx, []presence.Claim{claim(tokB)})
	must(t, err)
	if res[0].State != presence.ClaimNew {
		t.Fatalf("claim of the replay = %+v, want new", res[0])
	}
	if b := explain("m1")[tokB]; b.State != presence.PushPending || b.Badge != 4 {
		t.Fatalf("replay claimed: %+v, want pending with badge 4", b)
	}
	replayed := claim(tokB)
	replayed.Attempts = 1
	must(t, e.store.Done(ctx, []presence.Claim{replayed}))
	if b := explain("m1")[tokB]; b.State != presence.PushSent || b.Badge != 4 || b.Attempts != 1 {
		t.Fatalf("replay sent: %+v", b)
	}
	// A dead letter never undoes a finished push.
	must(t, e.store.Release(ctx, []presence.Claim{replayed}))
	if b := explain("m1")[tokB]; b.State != presence.PushSent {
		t.Fatalf("Release after Done: %+v, want sent", b)
	}

	// A logged-out token stays listed with the push it got; another message does not list it.
	must(t, e.store.Logout(ctx, "bob", tokA))
	if a := explain("m1")[tokA]; a.State != presence.PushSent || a.Registered {
		t.Fatalf("after logout: %+v, want sent, no longer registered", a)
	}
	other := explain("m-unknown")
	if _, ok := other[tokA]; ok {
		t.Errorf("a removed token is listed for a message that never touched it: %+v", other)
	}
	if len(other) != 1 || other[tokB].State != presence.PushNone {
		t.Errorf("unknown message: %+v, want bob's one device at none", other)
	}

	// A message without sentAt is found too.
	z := presence.Claim{UserID: "bob", MsgID: "m-zero", Token: tokB}
	if _, err := e.store.Claim(ctx, []presence.Claim{z}); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.Done(ctx, []presence.Claim{z}))
	if b := explain("m-zero")[tokB]; b.State != presence.PushSent {
		t.Errorf("zero sentAt: %+v, want sent", b)
	}
}
