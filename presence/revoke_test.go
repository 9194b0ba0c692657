package presence_test

import (
	"context"
	"testing"
	"time"

	"offpush/presence"
)

// TestRevokeOrderings: a recall against every state the original's push can be in.
func TestRevokeOrderings(t *testing.T) {
	ctx := context.Background()
	sentAt := t0.Add(-time.Minute)
	orig := func(user string) presence.Claim {
		return presence.Claim{UserID: user, MsgID: "m-42", Token: tokA, SentAt: sentAt}
	}
	recall := func(user string) presence.Claim {
		return presence.Claim{UserID: user, MsgID: "m-42", Token: tokA, SentAt: t0}
	}
	setup := func(t *testing.T, e *env, user string, badge int64) {
		t.Helper()
		must(t, e.store.SetToken(ctx, user, tokA, 2382))
		must(t, e.store.Background(ctx, user, tokA, badge))
	}
	revoke := func(t *testing.T, s *presence.Store, c presence.Claim) presence.RevokeResult {
		t.Helper()
		r, err := s.Revoke(ctx, []presence.Claim{c})
		must(t, err)
		return r[0]
	}
	claim := func(t *testing.T, s *presence.Store, c presence.Claim) presence.ClaimResult {
		t.Helper()
		r, err := s.Claim(ctx, []presence.Claim{c})
		must(t, err)
		return r[0]
	}
	badge := func(t *testing.T, e *env, user string) int64 {
		t.Helper()
		d, err := e.store.Devices(ctx, user)
		must(t, err)
		return d[0].Badge
	}
	state := func(t *testing.T, e *env, user string) presence.PushRecord {
		t.Helper()
		rs, err := e.store.Explain(ctx, user, "m-42")
		must(t, err)
		return rs[0]
	}

	t.Run("original sent first", func(t *testing.T) {
		e := newEnv(t)
		setup(t, e, "bob", 2)
		if r := claim(t, e.store, orig("bob")); r.Badge != 3 {
			t.Fatalf("claim %+v", r)
		}
		must(t, e.store.Done(ctx, []presence.Claim{orig("bob")}))
		if r := revoke(t, e.store, recall("bob")); r != (presence.RevokeResult{State: presence.RevokeReplace, Badge: 2}) {
			t.Fatalf("revoke %+v, want replace with badge 2", r)
		}
		if b := badge(t, e, "bob"); b != 2 {
			t.Errorf("stored badge %d, want 2", b)
		}
		done := recall("bob")
		done.Attempts = 1
		must(t, e.store.RevokeDone(ctx, []presence.Claim{done}))
		if st := state(t, e, "bob"); st.State != presence.PushRevoked || st.Attempts != 1 || st.Badge != 2 {
			t.Errorf("explain %+v, want revoked by a replacement with badge 2", st)
		}
		// A redelivered recall does nothing twice; a redelivered original is not pushed.
		if r := revoke(t, e.store, recall("bob")); r.State != presence.RevokeDone || badge(t, e, "bob") != 2 {
			t.Errorf("second revoke %+v, badge %d", r, badge(t, e, "bob"))
		}
		if r := claim(t, e.store, orig("bob")); r.State != presence.ClaimRevoked {
			t.Errorf("claim after the recall %+v, want revoked", r)
		}
	})

	t.Run("recall first", func(t *testing.T) {
		e := newEnv(t)
		setup(t, e, "bob", 2)
		if r := revoke(t, e.store, recall("bob")); r.State != presence.RevokePrevent {
			t.Fatalf("revoke %+v, want prevent", r)
		}
		if r := claim(t, e.store, orig("bob")); r.State != presence.ClaimRevoked {
			t.Fatalf("claim of the original after its recall: %+v", r)
		}
		// An original sent the day before the recall finds the tombstone too.
		yesterday := orig("bob")
		yesterday.SentAt = t0.Add(-20 * time.Hour)
		if r := claim(t, e.store, yesterday); r.State != presence.ClaimRevoked {
			t.Errorf("claim of an original of the day before: %+v", r)
		}
		// And one without sentAt.
		zero := orig("bob")
		zero.SentAt = time.Time{}
		if r := claim(t, e.store, zero); r.State != presence.ClaimRevoked {
			t.Errorf("claim of an original without sentAt: %+v", r)
		}
		if b := badge(t, e, "bob"); b != 2 {
			t.Errorf("stored badge %d, want 2 (untouched)", b)
		}
		if st := state(t, e, "bob"); st.State != presence.PushRevoked || st.Attempts != 0 {
			t.Errorf("explain %+v, want revoked, never sent", st)
		}
	})

	t.Run("original dead-lettered, replayed after the recall", func(t *testing.T) {
		e := newEnv(t)
		setup(t, e, "bob", 0)
		claim(t, e.store, orig("bob"))
		must(t, e.store.Release(ctx, []presence.Claim{orig("bob")}))
		if r := revoke(t, e.store, recall("bob")); r.State != presence.RevokePrevent {
			t.Fatalf("revoke of a dead letter %+v, want prevent", r)
		}
		if r := claim(t, e.store, orig("bob")); r.State != presence.ClaimRevoked {
			t.Errorf("replay claim %+v, want revoked", r)
		}
	})

	t.Run("original in flight, stopped before its retry", func(t *testing.T) {
		e := newEnv(t)
		setup(t, e, "bob", 2)
		claim(t, e.store, orig("bob")) // badge 3, in flight
		if r := revoke(t, e.store, recall("bob")); r.State != presence.RevokeBusy {
			t.Fatalf("revoke of a push in flight %+v, want busy", r)
		}
		stop, err := e.store.StopIfRevoked(ctx, orig("bob"))
		must(t, err)
		if !stop {
			t.Fatal("the retry was not stopped")
		}
		if b := badge(t, e, "bob"); b != 2 {
			t.Errorf("badge %d, want the claim's given back: 2", b)
		}
		if r := revoke(t, e.store, recall("bob")); r.State != presence.RevokeDone {
			t.Errorf("revoke again %+v, want done", r)
		}
		if r := claim(t, e.store, orig("bob")); r.State != presence.ClaimRevoked {
			t.Errorf("claim %+v, want revoked", r)
		}
	})

	t.Run("original in flight, delivered after the recall asked", func(t *testing.T) {
		e := newEnv(t)
		setup(t, e, "bob", 0)
		claim(t, e.store, orig("bob")) // badge 1
		revoke(t, e.store, recall("bob"))
		if stop, _ := e.store.StopIfRevoked(ctx, presence.Claim{UserID: "bob", MsgID: "other", Token: tokA, SentAt: sentAt}); stop {
			t.Error("another message's retry was stopped")
		}
		must(t, e.store.Done(ctx, []presence.Claim{orig("bob")})) // its first attempt was accepted
		if r := revoke(t, e.store, recall("bob")); r != (presence.RevokeResult{State: presence.RevokeReplace, Badge: 0}) {
			t.Fatalf("revoke after delivery %+v, want replace with badge 0", r)
		}
	})

	t.Run("leases run out", func(t *testing.T) {
		e := newEnv(t)
		s := presence.New(e.rdb, presence.Options{Now: e.clock.Now, ClaimLease: 30 * time.Millisecond})
		setup(t, e, "bob", 5)
		claim(t, s, orig("bob")) // badge 6; its worker dies
		time.Sleep(50 * time.Millisecond)
		r := revoke(t, s, recall("bob"))
		if r != (presence.RevokeResult{State: presence.RevokeReplace, Badge: 5}) {
			t.Fatalf("revoke of a push whose worker died %+v, want replace (it may have been sent)", r)
		}
		if r := revoke(t, s, recall("bob")); r.State != presence.RevokeBusy {
			t.Fatalf("revoke while the replacement is in flight %+v, want busy", r)
		}
		time.Sleep(50 * time.Millisecond) // the recall's worker dies too
		if r := revoke(t, s, recall("bob")); r != (presence.RevokeResult{State: presence.RevokeReplace, Badge: 5}) {
			t.Fatalf("revoke after the replacement's lease %+v, want it handed over with the same badge", r)
		}
		if b := badge(t, e, "bob"); b != 5 {
			t.Errorf("badge %d, want 5: one decrement only", b)
		}

		// A push stopped by a recall whose worker died: its redelivery is never pushed.
		must(t, s.SetToken(ctx, "carol", tokB, 2382))
		c := presence.Claim{UserID: "carol", MsgID: "m-42", Token: tokB, SentAt: sentAt}
		claim(t, s, c)
		rc := c
		rc.SentAt = t0
		revoke(t, s, rc) // busy: P
		time.Sleep(50 * time.Millisecond)
		if r := claim(t, s, c); r.State != presence.ClaimRevoked {
			t.Errorf("redelivered original after its recall asked it to stop: %+v, want revoked", r)
		}
	})

	t.Run("ignoreBadge original, removed token", func(t *testing.T) {
		e := newEnv(t)
		setup(t, e, "bob", 4)
		c := orig("bob")
		c.IgnoreBadge = true
		claim(t, e.store, c)
		must(t, e.store.Done(ctx, []presence.Claim{c}))
		if r := revoke(t, e.store, recall("bob")); r != (presence.RevokeResult{State: presence.RevokeReplace, Badge: -1}) {
			t.Fatalf("revoke of an ignoreBadge push %+v, want replace without badge", r)
		}
		if b := badge(t, e, "bob"); b != 4 {
			t.Errorf("badge %d, want 4", b)
		}
		must(t, e.store.SetToken(ctx, "dave", tokB, 2382))
		claim(t, e.store, presence.Claim{UserID: "dave", MsgID: "m-42", Token: tokB, SentAt: sentAt})
		must(t, e.store.Done(ctx, []presence.Claim{{UserID: "dave", MsgID: "m-42", Token: tokB, SentAt: sentAt}}))
		must(t, e.store.Logout(ctx, "dave", tokB))
		if r := revoke(t, e.store, presence.Claim{UserID: "dave", MsgID: "m-42", Token: tokB, SentAt: t0}); r.State != presence.RevokeGone {
			t.Errorf("revoke to a logged-out token %+v, want gone", r)
		}
	})
}
