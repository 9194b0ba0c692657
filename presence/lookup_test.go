package presence_test

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"offpush/presence"
	"offpush/recipient"
)

// TestLookupReturnsStoredState: every piece of stored state comes back, per user, in input
// order, with unknown users present and empty.
func TestLookupReturnsStoredState(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.store
	must(t, s.SetToken(ctx, "bob", tokB, 2383))
	must(t, s.SetToken(ctx, "bob", tokA, 2382))
	must(t, s.Background(ctx, "bob", tokA, 2))
	must(t, s.Foreground(ctx, "bob", tokB))
	must(t, s.SetSettings(ctx, "bob", recipient.Settings{OpenPush: 1, C2CSound: "a.caf", GroupSound: "b.caf"}))
	must(t, s.SetReceiveOpt(ctx, "bob", "group:g-42", recipient.NotNotifyExceptAt))
	e.clock.Add(time.Minute)
	must(t, s.SetToken(ctx, "carol", "cc", 2516))
	must(t, s.SetSettings(ctx, "carol", recipient.Settings{OpenPush: recipient.OpenPushOff}))
	must(t, s.SetSettings(ctx, "dave", recipient.Settings{OpenPush: recipient.OpenPushOn})) // settings, no device
	if _, err := s.Claim(ctx, []presence.Claim{{UserID: "bob", MsgID: "m", Token: tokA}}); err != nil {
		t.Fatal(err)
	}

	got, err := s.Lookup(ctx, []string{"carol", "nobody", "bob", "dave"})
	must(t, err)
	want := []presence.Recipient{
		{UserID: "carol", Settings: recipient.Settings{OpenPush: 2},
			Devices: []recipient.Device{{Token: "cc", BusiID: 2516, UpdatedAt: t0.Add(time.Minute)}}},
		{UserID: "nobody"},
		{UserID: "bob",
			Settings: recipient.Settings{OpenPush: 1, C2CSound: "a.caf", GroupSound: "b.caf",
				ReceiveOpts: map[string]recipient.ReceiveOpt{"group:g-42": recipient.NotNotifyExceptAt}},
			Devices: []recipient.Device{
				{Token: tokA, BusiID: 2382, Badge: 3, UpdatedAt: t0},
				{Token: tokB, BusiID: 2383, Foreground: true, UpdatedAt: t0},
			}},
		{UserID: "dave", Settings: recipient.Settings{OpenPush: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup =\n%+v\nwant\n%+v", got, want)
	}

	// Recipients share one backing array for their devices; appending to one must not
	// overwrite the next.
	got[0].Devices = append(got[0].Devices, recipient.Device{Token: "x"})
	if got[2].Devices[0].Token != tokA {
		t.Fatalf("append to one recipient's devices changed another's: %+v", got[2].Devices)
	}
}

// TestLookupMalformedValues: a corrupt field reads as zero instead of failing the batch.
func TestLookupMalformedValues(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.rdb.HSet(ctx, "op:{bob}:u", "d:t1", "junk", "b:t1", "x", "f:t1", "y", "c:openPush", "z", "zz", "1").Err())
	got, err := e.store.Lookup(ctx, []string{"bob"})
	must(t, err)
	want := []presence.Recipient{{UserID: "bob",
		Devices: []recipient.Device{{Token: "t1", UpdatedAt: time.UnixMilli(0).UTC()}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup = %+v, want %+v", got, want)
	}
}

// TestLookupOneRoundTrip: 1000 users are read with one pipeline and no other command.
func TestLookupOneRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	users := make([]string, 1000)
	for i := range users {
		users[i] = "u" + strconv.Itoa(i)
		if i%3 == 0 {
			must(t, e.store.SetToken(ctx, users[i], "tok"+strconv.Itoa(i), 2382))
		}
	}
	e.hook.reset()
	got, err := e.store.Lookup(ctx, users)
	must(t, err)
	if calls, pipes := e.hook.calls.Load(), e.hook.pipes.Load(); calls != 0 || pipes != 1 {
		t.Fatalf("Lookup of 1000 users: %d commands and %d pipelines, want 0 and 1", calls, pipes)
	}
	for i, r := range got {
		if r.UserID != users[i] || (len(r.Devices) == 1) != (i%3 == 0) {
			t.Fatalf("recipient %d = %+v", i, r)
		}
	}
}

// TestLookupAllocations guards the hot path: a batch of users with two devices each costs a
// bounded number of allocations per user (go-redis's command, its reply map and strings).
func TestLookupAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	ctx := context.Background()
	e := newEnv(t)
	users := seedUsers(t, e.store, 100)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := e.store.Lookup(ctx, users); err != nil {
			t.Fatal(err)
		}
	})
	// The hook of newEnv adds nothing per command; 40 per user leaves room for go-redis.
	if per := allocs / float64(len(users)); per > 40 {
		t.Fatalf("Lookup allocates %.1f times per user, want ≤ 40", per)
	}
}

// seedUsers stores n users with settings, a receive option and two background devices.
func seedUsers(t testing.TB, s *presence.Store, n int) []string {
	ctx := context.Background()
	users := make([]string, n)
	for i := range users {
		u := "user-" + strconv.Itoa(i)
		users[i] = u
		must(t, s.SetSettings(ctx, u, recipient.Settings{OpenPush: 1, C2CSound: "a.caf"}))
		must(t, s.SetReceiveOpt(ctx, u, "group:g-1", recipient.NotNotify))
		for d := range 2 {
			tok := strconv.Itoa(d) + "f00d" + strconv.Itoa(i)
			must(t, s.SetToken(ctx, u, tok, 2382))
			must(t, s.Background(ctx, u, tok, int64(d)))
		}
	}
	return users
}
