package presence_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// TestClaimChunks: a batch of pushes claimed and settled together, many to a script call on a
// single node, answers and records exactly what the same pushes do one call each. Two sets of
// users with the same state take the same pushes, one set in batches, the other one by one;
// the batch mixes new, ignoreBadge, sentAt-less, busy, done, dead-lettered and unknown-token
// pushes of several users, more than one chunk of them.
func TestClaimChunks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := time.Now()
	const users = 5
	user := func(set, u int) string { return "s" + strconv.Itoa(set) + "u" + strconv.Itoa(u) }
	token := func(set, u int) string { return fmt.Sprintf("%064x", 1000*set+u+1) }
	claimOf := func(set, i int) presence.Claim {
		u := i % users
		c := presence.Claim{UserID: user(set, u), Token: token(set, u), MsgID: "m" + strconv.Itoa(i), SentAt: now}
		switch i % 7 {
		case 1:
			c.IgnoreBadge = true
		case 2:
			c.SentAt = time.Time{}
		case 3:
			c.MsgID = "busy" + strconv.Itoa(u)
		case 4:
			c.MsgID = "done" + strconv.Itoa(u)
		case 5:
			c.MsgID = "dead" + strconv.Itoa(u)
		case 6:
			c.Token = token(set, users+u) // never registered
		}
		return c
	}
	for set := range 2 {
		for u := range users {
			must(t, e.store.SetToken(ctx, user(set, u), token(set, u), 2382))
			must(t, e.store.Background(ctx, user(set, u), token(set, u), int64(u)))
			pre := func(msg string) presence.Claim {
				return presence.Claim{UserID: user(set, u), Token: token(set, u), MsgID: msg + strconv.Itoa(u), SentAt: now}
			}
			_, err := e.store.Claim(ctx, []presence.Claim{pre("busy"), pre("done"), pre("dead")})
			must(t, err)
			must(t, e.store.Done(ctx, []presence.Claim{pre("done")}))
			must(t, e.store.Release(ctx, []presence.Claim{pre("dead")}))
		}
	}
	const n = 150 // three calls of a single node's chunks
	batch, alone := make([]presence.Claim, n), make([]presence.Claim, n)
	for i := range n {
		batch[i], alone[i] = claimOf(0, i), claimOf(1, i)
	}
	e.hook.reset()
	calls := evalshaCalls(t, e)
	got, err := e.store.Claim(ctx, batch)
	must(t, err)
	if pipes := e.hook.pipes.Load(); pipes != 1 {
		t.Errorf("Claim of %d pushes: %d pipelines, want 1", n, pipes)
	}
	// A single node takes 64 pushes to a script call; Redis Cluster one.
	if made, want := evalshaCalls(t, e)-calls, map[bool]int64{false: 3, true: n}[cluster != nil]; made != want {
		t.Errorf("Claim of %d pushes: %d script calls, want %d", n, made, want)
	}
	for i := range n {
		want, err := e.store.Claim(ctx, alone[i:i+1])
		must(t, err)
		if got[i] != want[0] {
			t.Errorf("push %d (%s %s): claimed %+v in a batch, %+v alone", i, batch[i].UserID, batch[i].MsgID, got[i], want[0])
		}
	}
	for i := range n { // settle every other push as sent, the rest as dead letters or dead tokens
		switch i % 3 {
		case 1:
			batch[i].Outcome, alone[i].Outcome = presence.OutcomeTokenRemoved, presence.OutcomeTokenRemoved
		}
		batch[i].Attempts, alone[i].Attempts = i%4, i%4
	}
	must(t, e.store.Done(ctx, batch[:100]))
	must(t, e.store.Release(ctx, batch[100:]))
	for i := range n {
		if i < 100 {
			must(t, e.store.Done(ctx, alone[i:i+1]))
		} else {
			must(t, e.store.Release(ctx, alone[i:i+1]))
		}
	}
	a, b := states(t, e.store, batch...), states(t, e.store, alone...)
	for i := range n {
		if a[i].Status != b[i].Status || a[i].Badge != b[i].Badge {
			t.Errorf("push %d: settled %+v in a batch, %+v alone", i, a[i], b[i])
		}
	}
	// The claims did what they say: new ones pending then done, the unknown token absent.
	if got[0].State != presence.ClaimNew || got[3].State != presence.ClaimBusy || got[4].State != presence.ClaimDone ||
		got[5].State != presence.ClaimNew || got[6].State != presence.ClaimGone {
		t.Errorf("claims 0, 3, 4, 5, 6 = %+v, want new, busy, done, new (dead-lettered), gone", got[:7])
	}
}

// evalshaCalls is the EVALSHA calls the Redis servers of e counted (INFO commandstats).
func evalshaCalls(t *testing.T, e *env) int64 {
	t.Helper()
	ctx := context.Background()
	count := func(info string) int64 {
		_, rest, ok := strings.Cut(info, "cmdstat_evalsha:calls=")
		if !ok {
			return 0
		}
		n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
		must(t, err)
		return n
	}
	cc, ok := e.rdb.(*redis.ClusterClient)
	if !ok {
		return count(e.rdb.Info(ctx, "commandstats").Val())
	}
	var mu sync.Mutex
	var total int64
	must(t, cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		info, err := node.Info(ctx, "commandstats").Result()
		mu.Lock()
		total += count(info)
		mu.Unlock()
		return err
	}))
	return total
}
