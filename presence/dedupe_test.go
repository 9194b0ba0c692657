package presence_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"offpush/presence"
)

// bucketKey is the documented dedupe hash of user for sentAt with buckets of size b.
func bucketKey(user string, sentAt time.Time, b time.Duration) string {
	return "op:{" + user + "}:dd:" + strconv.FormatInt(sentAt.Truncate(b).Unix(), 10)
}

// field is the documented dedupe field of (msg, token).
func field(msg, token string) string {
	in := binary.AppendUvarint(nil, uint64(len(msg)))
	sum := sha256.Sum256(append(append(in, msg...), token...))
	return string(sum[:8])
}

// expireAt is the key's expiry (PEXPIRETIME), -1 without one, -2 without the key.
func (e *env) expireAt(t *testing.T, key string) time.Time {
	t.Helper()
	ms, err := e.rdb.Do(context.Background(), "PEXPIRETIME", key).Int64()
	must(t, err)
	if ms < 0 {
		t.Fatalf("PEXPIRETIME %s = %d", key, ms)
	}
	return time.UnixMilli(ms)
}

// TestDedupeSchema pins the dedupe hash byte for byte: its name, its field, the pending and
// the done value, and its encoding.
func TestDedupeSchema(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Background(ctx, "bob", tokA, 3))
	sentAt := time.Now()
	c := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA, SentAt: sentAt}
	before := time.Now().UnixMilli()
	if _, err := e.store.Claim(ctx, []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	key := bucketKey("bob", sentAt, 24*time.Hour)
	h := e.raw(t, key)
	v, ok := h[field("m1", tokA)]
	if len(h) != 1 || !ok {
		t.Fatalf("%s = %q, want one field %q", key, h, field("m1", tokA))
	}
	m := regexp.MustCompile(`^p:4:(\d+)$`).FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("pending value %q, want p:4:<claimed at>", v)
	}
	if at, _ := strconv.ParseInt(m[1], 10, 64); at < before-1000 || at > after+1000 {
		t.Errorf("claimed at %d, want about %d (the Redis clock)", at, before)
	}
	must(t, e.store.Done(ctx, []presence.Claim{c}))
	if h := e.raw(t, key); len(h) != 1 || !regexp.MustCompile(`^s:4:\d+:0$`).MatchString(h[field("m1", tokA)]) {
		t.Fatalf("%s after Done = %q, want the field at s:4:<seconds into the bucket>:0", key, h)
	}
	if enc := e.rdb.ObjectEncoding(ctx, key).Val(); enc != "listpack" {
		t.Errorf("encoding %q, want listpack", enc)
	}
	if n := len(e.keys(t, "*")); n != 3 {
		t.Errorf("%d keys, want the user hash, the owner key and one dedupe hash", n)
	}
}

// TestDedupeTTL: the hash of a bucket expires DedupeTTL after the bucket's end, or after now
// when the bucket ended already, or after now + DedupeBucket for a sentAt far ahead.
func TestDedupeTTL(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const ttl = time.Hour
	s := presence.New(e.rdb, presence.Options{DedupeTTL: ttl})
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	now := time.Now()
	end := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	for _, tc := range []struct {
		name     string
		sentAt   time.Time
		from, to time.Time // the expiry, within
	}{
		{"this bucket", now, end.Add(ttl), end.Add(ttl)},
		{"a bucket that ended", now.Add(-72 * time.Hour), now.Add(ttl), time.Now().Add(ttl + 5*time.Second)},
		{"a year ahead", now.AddDate(1, 0, 0), now.Add(24*time.Hour + ttl), time.Now().Add(24*time.Hour + ttl + 5*time.Second)},
		{"zero sentAt", time.Time{}, end.Add(ttl), end.Add(ttl)},
	} {
		c := presence.Claim{UserID: "bob", MsgID: tc.name, Token: tokA, SentAt: tc.sentAt}
		if _, err := s.Claim(ctx, []presence.Claim{c}); err != nil {
			t.Fatal(err)
		}
		sentAt := tc.sentAt
		if sentAt.IsZero() {
			sentAt = now
		}
		key := bucketKey("bob", sentAt, 24*time.Hour)
		if at := e.expireAt(t, key); at.Before(tc.from.Truncate(time.Millisecond)) || at.After(tc.to) {
			t.Errorf("%s: %s expires at %v, want %v..%v", tc.name, key, at, tc.from, tc.to)
		}
		must(t, s.Done(ctx, []presence.Claim{c}))
		if st := states(t, s, c); st[0].Status != presence.DedupeDone {
			t.Errorf("%s: %+v after Done", tc.name, st[0])
		}
	}
}

// TestDedupeExpiryOnlyExtends: a claim or Done restores the expiry of a hash that lost it or
// whose expiry came too close (as a claim after the bucket's end would find it), and never
// shortens a later one.
func TestDedupeExpiryOnlyExtends(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const ttl = time.Hour
	s := presence.New(e.rdb, presence.Options{DedupeTTL: ttl})
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	now := time.Now()
	want := now.Truncate(24 * time.Hour).Add(24*time.Hour + ttl)
	key := bucketKey("bob", now, 24*time.Hour)
	claim := func(msg string) presence.Claim {
		t.Helper()
		c := presence.Claim{UserID: "bob", MsgID: msg, Token: tokA, SentAt: now}
		if _, err := s.Claim(ctx, []presence.Claim{c}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	m1 := claim("m1")

	must(t, e.rdb.Persist(ctx, key).Err())
	must(t, s.Done(ctx, []presence.Claim{m1}))
	if at := e.expireAt(t, key); !at.Equal(want) {
		t.Errorf("Done of a hash without expiry: expires at %v, want %v", at, want)
	}
	must(t, e.rdb.PExpire(ctx, key, 10*time.Minute).Err())
	claim("m2")
	if at := e.expireAt(t, key); !at.Equal(want) {
		t.Errorf("claim into a hash expiring in 10m: expires at %v, want %v", at, want)
	}
	later := want.Add(100 * time.Hour)
	must(t, e.rdb.PExpireAt(ctx, key, later).Err())
	m3 := claim("m3")
	must(t, s.Done(ctx, []presence.Claim{m3}))
	if at := e.expireAt(t, key); !at.Equal(later) {
		t.Errorf("claim and Done shortened the expiry to %v from %v", at, later)
	}
}

// TestDoneOfAbsentHash: Done of a push whose hash expired (or that was never claimed) writes
// it done, with an expiry; a claim then answers Done.
func TestDoneOfAbsentHash(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := presence.New(e.rdb, presence.Options{DedupeTTL: time.Hour})
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	now := time.Now()
	c := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA, SentAt: now}
	if _, err := s.Claim(ctx, []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}
	key := bucketKey("bob", now, 24*time.Hour)
	must(t, e.rdb.Del(ctx, key).Err()) // as if it had expired
	for _, c := range []presence.Claim{c, {UserID: "bob", MsgID: "never claimed", Token: tokA, SentAt: now}} {
		must(t, s.Done(ctx, []presence.Claim{c}))
		if at, want := e.expireAt(t, key), now.Truncate(24*time.Hour).Add(25*time.Hour); !at.Equal(want) {
			t.Errorf("Done of %s: expires at %v, want %v", c.MsgID, at, want)
		}
		r, err := s.Claim(ctx, []presence.Claim{c})
		must(t, err)
		if r[0].State != presence.ClaimDone {
			t.Errorf("claim of %s after its Done = %+v, want done", c.MsgID, r[0])
		}
	}
}

// TestMessagesShareABucket: the pushes of one user within a bucket are fields of one hash,
// each with its own state; another bucket or another user is another hash.
func TestMessagesShareABucket(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := presence.New(e.rdb, presence.Options{DedupeBucket: time.Hour})
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	must(t, s.SetToken(ctx, "bob", tokB, 2382))
	must(t, s.SetToken(ctx, "carol", "cc", 2382))
	hour := time.Now().Truncate(time.Hour)
	at := func(user, msg, tok string, d time.Duration) presence.Claim {
		return presence.Claim{UserID: user, MsgID: msg, Token: tok, SentAt: hour.Add(d)}
	}
	m1a, m1b, m2a := at("bob", "m1", tokA, time.Minute), at("bob", "m1", tokB, time.Minute), at("bob", "m2", tokA, 59*time.Minute)
	next, carol := at("bob", "m3", tokA, 61*time.Minute), at("carol", "m1", "cc", time.Minute)
	all := []presence.Claim{m1a, m1b, m2a, next, carol}
	r, err := s.Claim(ctx, all)
	must(t, err)
	for i := range r {
		if r[i].State != presence.ClaimNew {
			t.Fatalf("claim %d = %+v, want new", i, r[i])
		}
	}
	must(t, s.Done(ctx, []presence.Claim{m1a}))
	must(t, s.Release(ctx, []presence.Claim{m1b}))
	if got := e.raw(t, bucketKey("bob", hour, time.Hour)); len(got) != 3 || !strings.HasPrefix(got[field("m1", tokA)], "s:") ||
		!strings.HasPrefix(got[field("m1", tokB)], "d:") || !strings.HasPrefix(got[field("m2", tokA)], "p:") {
		t.Errorf("bob's hash of the hour = %q, want m1 to tokA done, to tokB dead-lettered, and m2 pending", got)
	}
	for _, k := range []string{bucketKey("bob", hour.Add(time.Hour), time.Hour), bucketKey("carol", hour, time.Hour)} {
		if n := e.rdb.HLen(ctx, k).Val(); n != 1 {
			t.Errorf("%s has %d fields, want 1", k, n)
		}
	}
	want := []presence.DedupeStatus{presence.DedupeDone, presence.DedupeAbsent, presence.DedupePending, presence.DedupePending, presence.DedupePending}
	for i, st := range states(t, s, all...) {
		if st.Status != want[i] {
			t.Errorf("state of %+v = %v, want %v", all[i], st.Status, want[i])
		}
	}
}

// TestZeroSentAt: a push without sentAt goes to the bucket of the Store's clock and is found
// from any clock within DedupeTTL of its claim (a day of skew between workers included);
// only well past DedupeTTL is it forgotten.
func TestZeroSentAt(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	clk := &clock{t: time.Now()}
	start := clk.Now()
	s := presence.New(e.rdb, presence.Options{Now: clk.Now})
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	c := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA}
	claim := func() presence.ClaimState {
		t.Helper()
		r, err := s.Claim(ctx, []presence.Claim{c})
		must(t, err)
		return r[0].State
	}
	if st := claim(); st != presence.ClaimNew {
		t.Fatalf("first claim = %v", st)
	}
	key := bucketKey("bob", start, 24*time.Hour)
	if e.rdb.HLen(ctx, key).Val() != 1 {
		t.Fatalf("no field in %s, the bucket of the clock", key)
	}
	clk.Add(30 * time.Hour) // another bucket
	if st := claim(); st != presence.ClaimBusy {
		t.Fatalf("claim 30h later = %v, want busy (found in the first bucket)", st)
	}
	must(t, s.Done(ctx, []presence.Claim{c}))
	if keys := e.keys(t, "op:{bob}:dd:*"); len(keys) != 1 || !strings.HasPrefix(e.raw(t, key)[field("m1", tokA)], "s:") {
		t.Fatalf("Done 30h later: keys %v, want the first bucket's field done", keys)
	}
	for _, d := range []time.Duration{-23 * time.Hour, 0, 47 * time.Hour} {
		clk.t = start.Add(d)
		if st := claim(); st != presence.ClaimDone {
			t.Errorf("claim at the clock %+v = %v, want done", d, st)
		}
	}
	clk.t = start.Add(5 * 24 * time.Hour)
	if st := claim(); st != presence.ClaimNew {
		t.Errorf("claim 5 days later = %v, want new: only DedupeTTL is promised", st)
	}
}

// TestDedupeStates reads without writing: an absent record creates nothing, a pending one
// reports its badge and claim time, and expiries stay as they are.
func TestDedupeStates(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Background(ctx, "bob", tokA, 6))
	now := time.Now()
	c := presence.Claim{UserID: "bob", MsgID: "m1", Token: tokA, SentAt: now}
	absent := []presence.Claim{{UserID: "bob", MsgID: "m2", Token: tokA, SentAt: now}, {UserID: "carol", MsgID: "m1", Token: tokA}}
	if st := states(t, e.store, absent...); st[0] != (presence.DedupeState{}) || st[1] != (presence.DedupeState{}) {
		t.Fatalf("states of unclaimed pushes = %+v", st)
	}
	if keys := e.keys(t, "*:dd:*"); len(keys) != 0 {
		t.Fatalf("DedupeStates wrote %v", keys)
	}
	before := time.Now().Truncate(time.Millisecond)
	if _, err := e.store.Claim(ctx, []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}
	key := bucketKey("bob", now, 24*time.Hour)
	must(t, e.rdb.PExpire(ctx, key, time.Minute).Err())
	st := states(t, e.store, c)[0]
	if st.Status != presence.DedupePending || st.Badge != 7 || st.ClaimedAt.Before(before) || st.ClaimedAt.After(time.Now()) {
		t.Errorf("state of a pending claim = %+v, want pending, badge 7, claimed after %v", st, before)
	}
	if ttl := e.rdb.PTTL(ctx, key).Val(); ttl > time.Minute {
		t.Errorf("DedupeStates changed the expiry: PTTL %v", ttl)
	}
	if s := presence.DedupeDone.String() + presence.DedupeStatus(9).String(); s != "doneinvalid" {
		t.Errorf("status names: %q", s)
	}
}

// TestDedupeBucketOption: DedupeBucket sets the span of a hash, in whole seconds.
func TestDedupeBucketOption(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := presence.New(e.rdb, presence.Options{DedupeBucket: 1500 * time.Millisecond}) // 1s
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	sec := time.Now().Truncate(time.Second)
	var claims []presence.Claim
	for i, d := range []time.Duration{0, 999 * time.Millisecond, time.Second, 2500 * time.Millisecond} {
		claims = append(claims, presence.Claim{UserID: "bob", MsgID: strconv.Itoa(i), Token: tokA, SentAt: sec.Add(d)})
	}
	if _, err := s.Claim(ctx, claims); err != nil {
		t.Fatal(err)
	}
	for k, n := range map[string]int64{
		bucketKey("bob", sec, time.Second):                    2,
		bucketKey("bob", sec.Add(time.Second), time.Second):   1,
		bucketKey("bob", sec.Add(2*time.Second), time.Second): 1,
	} {
		if got := e.rdb.HLen(ctx, k).Val(); got != n {
			t.Errorf("%s has %d fields, want %d", k, got, n)
		}
	}
}
