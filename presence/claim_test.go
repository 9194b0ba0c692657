package presence_test

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"offpush/presence"
)

// TestClaimStates walks one (message, device) pair through New, Busy, Resend and Done, and
// checks IgnoreBadge and Gone, all in one batch call where the order of results matters.
func TestClaimStates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const lease = 300 * time.Millisecond
	e.store = presence.New(e.rdb, presence.Options{ClaimLease: lease})
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Background(ctx, "bob", tokA, 3))
	m1 := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA}
	m2 := presence.Claim{UserID: "bob", MsgID: "m2", Token: tokA, IgnoreBadge: true}
	unknown := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokB}
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

	must(t, e.store.Done(ctx, []presence.Claim{m1, m2}))
	got = claim(m1, m2)
	want = []presence.ClaimResult{{State: presence.ClaimDone, Badge: -1}, {State: presence.ClaimDone, Badge: -1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("claims after Done = %+v, want %+v", got, want)
	}

	must(t, e.store.Logout(ctx, "bob", tokA))
	got = claim(presence.Claim{UserID: "bob", MsgID: "m3", Token: tokA})
	if got[0].State != presence.ClaimGone {
		t.Fatalf("claim after logout = %+v, want Gone", got[0])
	}
}

// TestDedupeKeyTTL: Claim writes the dedupe key with DedupeTTL, Done keeps that TTL, and Done
// of an expired key writes one with a fresh TTL (never a key without TTL).
func TestDedupeKeyTTL(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := presence.New(e.rdb, presence.Options{DedupeTTL: time.Hour})
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	c := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA}
	key := "op:{bob}:dd:m1:" + tokA
	if _, err := s.Claim(ctx, []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}
	if v := e.rdb.Get(ctx, key).Val(); !strings.HasPrefix(v, "p:1:") {
		t.Fatalf("dedupe value after Claim = %q, want p:1:<claimed at>", v)
	}
	must(t, e.rdb.PExpire(ctx, key, 10*time.Minute).Err()) // as if 50 minutes had passed
	must(t, s.Done(ctx, []presence.Claim{c}))
	if v, ttl := e.rdb.Get(ctx, key).Val(), e.rdb.PTTL(ctx, key).Val(); v != "s" || ttl <= 0 || ttl > 10*time.Minute {
		t.Fatalf("after Done: value %q ttl %v, want s with the remaining 10m", v, ttl)
	}

	gone := presence.Claim{UserID: "bob", MsgID: "expired", Token: tokA}
	must(t, s.Done(ctx, []presence.Claim{gone}))
	key = "op:{bob}:dd:expired:" + tokA
	if v, ttl := e.rdb.Get(ctx, key).Val(), e.rdb.PTTL(ctx, key).Val(); v != "s" || ttl <= 50*time.Minute || ttl > time.Hour {
		t.Fatalf("Done of an absent key: value %q ttl %v, want s with DedupeTTL", v, ttl)
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
// answers NOSCRIPT; Claim loads the script and still answers in one call.
func TestClaimReloadsFlushedScript(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.rdb.ScriptFlush(ctx).Err())
	r, err := e.store.Claim(ctx, []presence.Claim{
		{UserID: "bob", MsgID: "m1", Token: tokA}, {UserID: "bob", MsgID: "m2", Token: tokA}})
	must(t, err)
	want := []presence.ClaimResult{{State: presence.ClaimNew, Badge: 1}, {State: presence.ClaimNew, Badge: 2}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("claims after SCRIPT FLUSH = %+v, want %+v", r, want)
	}
}

// TestClaimAndDoneOneRoundTrip: a batch of 500 claims is one pipeline, and so is its Done.
func TestClaimAndDoneOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	claims := make([]presence.Claim, 500)
	for i := range claims {
		claims[i] = presence.Claim{UserID: "bob", MsgID: "m" + strconv.Itoa(i), Token: tokA}
	}
	if _, err := e.store.Claim(ctx, claims[:1]); err != nil { // loads the script
		t.Fatal(err)
	}
	e.hook.reset()
	r, err := e.store.Claim(ctx, claims)
	must(t, err)
	if r[499].State != presence.ClaimNew || r[499].Badge != 500 {
		t.Fatalf("last claim = %+v, want New with badge 500", r[499])
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
// the badge it took is kept.
func TestRelease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	c := []presence.Claim{{UserID: "bob", MsgID: "m1", Token: tokA}}
	if _, err := e.store.Claim(ctx, c); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.Release(ctx, c))
	r, err := e.store.Claim(ctx, c)
	must(t, err)
	if want := (presence.ClaimResult{State: presence.ClaimNew, Badge: 2}); r[0] != want {
		t.Fatalf("claim after Release = %+v, want %+v", r[0], want)
	}
}
