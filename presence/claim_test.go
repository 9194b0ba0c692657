package presence_test

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"offpush/presence"
)

// TestClaimStates walks one (message, device) pair through New, Busy, Resend and Done, and
// checks IgnoreBadge and Gone, all in one batch call where the order of results matters; with
// the message's sentAt, and without one (the Store's clock picks the bucket).
func TestClaimStates(t *testing.T) {
	for name, sentAt := range map[string]time.Time{"sentAt": time.Now(), "zero sentAt": {}} {
		t.Run(name, func(t *testing.T) { testClaimStates(t, sentAt) })
	}
}

func testClaimStates(t *testing.T, sentAt time.Time) {
	ctx := context.Background()
	e := newEnv(t)
	const lease = 300 * time.Millisecond
	e.store = presence.New(e.rdb, presence.Options{ClaimLease: lease})
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Background(ctx, "bob", tokA, 3))
	m1 := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA, SentAt: sentAt}
	m2 := presence.Claim{UserID: "bob", MsgID: "m2", Token: tokA, SentAt: sentAt, IgnoreBadge: true}
	unknown := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokB, SentAt: sentAt}
	claim := func(cs ...presence.Claim) []presence.ClaimResult {
		t.Helper()
		r, err := e.store.Claim(ctx, cs)
		must(t, err)
		return r
	}

	got := claim(m1, m2, unknown)
	want := []presence.ClaimResult{
		{State: presence.ClaimNew, Badge: 4},   // badge base 3 + 1
		{State: presence.ClaimNew, Badge: -1},  // ignoreBadge: no badge, no increment
		{State: presence.ClaimGone, Badge: -1}, // tokB is not registered
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("first claims = %+v, want %+v", got, want)
	}
	// Claimed, not Done, within the lease (in flight on another worker): busy.
	got = claim(m1, m2)
	want = []presence.ClaimResult{{State: presence.ClaimBusy, Badge: 4}, {State: presence.ClaimBusy, Badge: -1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claims within the lease = %+v, want %+v", got, want)
	}
	// Past the lease (its worker crashed mid-send): handed over with the same badge, no
	// increment, and the new owner holds a fresh lease.
	time.Sleep(lease + 50*time.Millisecond)
	got = claim(m1, m2)
	want = []presence.ClaimResult{{State: presence.ClaimResend, Badge: 4}, {State: presence.ClaimResend, Badge: -1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claims past the lease = %+v, want %+v", got, want)
	}
	if got = claim(m1); got[0].State != presence.ClaimBusy {
		t.Fatalf("claim right after a handover = %+v, want busy", got[0])
	}
	if b := e.raw(t, "op:{bob}:u")["b:"+tokA]; b != "4" {
		t.Fatalf("badge field = %s, want 4", b)
	}

	if st := states(t, e.store, m1, m2, unknown); st[0].Status != presence.DedupePending || st[0].Badge != 4 ||
		st[1].Status != presence.DedupePending || st[1].Badge != -1 || st[2].Status != presence.DedupeAbsent {
		t.Fatalf("DedupeStates of the pending claims = %+v", st)
	}
	must(t, e.store.Done(ctx, []presence.Claim{m1, m2}))
	got = claim(m1, m2)
	want = []presence.ClaimResult{{State: presence.ClaimDone, Badge: -1}, {State: presence.ClaimDone, Badge: -1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claims after Done = %+v, want %+v", got, want)
	}

	must(t, e.store.Logout(ctx, "bob", tokA))
	got = claim(presence.Claim{UserID: "bob", MsgID: "m3", Token: tokA, SentAt: sentAt})
	if got[0].State != presence.ClaimGone {
		t.Fatalf("claim after logout = %+v, want Gone", got[0])
	}
}

// TestConcurrentClaimsDistinctBadges: 50 messages claimed at once for one device get exactly
// the badges base+1..base+50.
func TestConcurrentClaimsDistinctBadges(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const n, base = 50, 10
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Background(ctx, "bob", tokA, base))
	badges := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := e.store.Claim(ctx, []presence.Claim{{UserID: "bob", MsgID: "m" + strconv.Itoa(i), Token: tokA}})
			if err != nil || r[0].State != presence.ClaimNew {
				t.Errorf("claim %d: %+v %v", i, r, err)
				return
			}
			badges[i] = r[0].Badge
		})
	}
	wg.Wait()
	slices.Sort(badges)
	for i, b := range badges {
		if b != int64(base+1+i) {
			t.Fatalf("badges = %v, want %d..%d each once", badges, base+1, base+n)
		}
	}
}

// TestClaimReloadsFlushedScript: after SCRIPT FLUSH (a Redis restart or failover) EVALSHA
// answers NOSCRIPT; Claim and Done load their scripts and still answer in one call.
func TestClaimReloadsFlushedScript(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	claims := []presence.Claim{{UserID: "bob", MsgID: "m1", Token: tokA}, {UserID: "bob", MsgID: "m2", Token: tokA}}
	must(t, e.rdb.ScriptFlush(ctx).Err())
	r, err := e.store.Claim(ctx, claims)
	must(t, err)
	want := []presence.ClaimResult{{State: presence.ClaimNew, Badge: 1}, {State: presence.ClaimNew, Badge: 2}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("claims after SCRIPT FLUSH = %+v, want %+v", r, want)
	}
	must(t, e.rdb.ScriptFlush(ctx).Err())
	must(t, e.store.Done(ctx, claims))
	if st := states(t, e.store, claims...); st[0].Status != presence.DedupeDone || st[1].Status != presence.DedupeDone {
		t.Fatalf("after Done following SCRIPT FLUSH: %+v", st)
	}
}

// TestClaimAndDoneOneRoundTrip: a batch of 500 claims is one pipeline, and so is its Done.
func TestClaimAndDoneOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	now := time.Now()
	claims := make([]presence.Claim, 501)
	for i := range claims {
		claims[i] = presence.Claim{UserID: "bob", MsgID: "m" + strconv.Itoa(i), Token: tokA, SentAt: now}
	}
	if _, err := e.store.Claim(ctx, claims[500:]); err != nil { // loads the scripts
		t.Fatal(err)
	}
	must(t, e.store.Done(ctx, claims[500:]))
	claims = claims[:500]
	e.hook.reset()
	r, err := e.store.Claim(ctx, claims)
	must(t, err)
	if r[499].State != presence.ClaimNew || r[499].Badge != 501 {
		t.Fatalf("last claim = %+v, want New with badge 501", r[499])
	}
	must(t, e.store.Done(ctx, claims))
	if calls, pipes := e.hook.calls.Load(), e.hook.pipes.Load(); calls != 0 || pipes != 2 {
		t.Fatalf("Claim+Done of 500: %d commands and %d pipelines, want 0 and 2", calls, pipes)
	}
}

func TestClaimStateString(t *testing.T) {
	for s, want := range map[presence.ClaimState]string{
		presence.ClaimNew: "new", presence.ClaimResend: "resend", presence.ClaimDone: "done",
		presence.ClaimGone: "gone", 0: "invalid", 99: "invalid",
	} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

// TestRelease: a released push (written to the DLQ) can be claimed anew, as a replay does;
// the badge it took is kept, and so is another push in the same hash. Release never undoes a
// finished push.
func TestRelease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	now := time.Now()
	m1 := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA, SentAt: now}
	m2 := presence.Claim{UserID: "bob", MsgID: "m2", Token: tokA, SentAt: now}
	if _, err := e.store.Claim(ctx, []presence.Claim{m1, m2}); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.Done(ctx, []presence.Claim{m2}))
	must(t, e.store.Release(ctx, []presence.Claim{m1}))
	if st := states(t, e.store, m1, m2); st[0].Status != presence.DedupeAbsent || st[1].Status != presence.DedupeDone {
		t.Fatalf("after releasing m1: states %+v, want absent and done", st)
	}
	r, err := e.store.Claim(ctx, []presence.Claim{m1, m2})
	must(t, err)
	want := []presence.ClaimResult{{State: presence.ClaimNew, Badge: 3}, {State: presence.ClaimDone, Badge: -1}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("claims after Release = %+v, want %+v", r, want)
	}
	must(t, e.store.Release(ctx, []presence.Claim{m1, m2}))
	if st := states(t, e.store, m1, m2); st[0].Status != presence.DedupeAbsent || st[1].Status != presence.DedupeDone {
		t.Fatalf("after releasing m1 again and the done m2: states %+v, want absent and done", st)
	}
	// Released without SentAt, claimed without: the same.
	z := presence.Claim{UserID: "bob", MsgID: "m3", Token: tokA}
	for range 2 {
		r, err := e.store.Claim(ctx, []presence.Claim{z})
		must(t, err)
		if r[0].State != presence.ClaimNew {
			t.Fatalf("claim of %+v = %+v, want new", z, r[0])
		}
		must(t, e.store.Release(ctx, []presence.Claim{z}))
	}
}

// states is Store.DedupeStates, failing t on an error.
func states(t *testing.T, s *presence.Store, claims ...presence.Claim) []presence.DedupeState {
	t.Helper()
	st, err := s.DedupeStates(context.Background(), claims)
	must(t, err)
	return st
}
