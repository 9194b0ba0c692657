package presence_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"offpush/presence"
	"offpush/recipient"
)

const (
	tokA = "aaaa000000000000000000000000000000000000000000000000000000000001"
	tokB = "bbbb000000000000000000000000000000000000000000000000000000000002"
)

// TestSchema pins the documented key layout: what each writer stores, byte for byte.
func TestSchema(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.SetToken(ctx, "bob", tokB, 2383))
	must(t, e.store.Foreground(ctx, "bob", tokA))
	must(t, e.store.Background(ctx, "bob", tokB, 3))
	must(t, e.store.SetSettings(ctx, "bob", recipient.Settings{OpenPush: 1, C2CSound: "a.caf", GroupSound: "b.caf"}))
	must(t, e.store.SetReceiveOpt(ctx, "bob", "group:g-42", recipient.NotNotify))

	ms := "1795600800000" // t0 in unix ms
	want := map[string]string{
		"d:" + tokA:    "2382|" + ms,
		"d:" + tokB:    "2383|" + ms,
		"f:" + tokA:    "1795601400000", // t0 + 10m, the default ForegroundTTL
		"b:" + tokA:    "0",
		"b:" + tokB:    "3",
		"c:openPush":   "1",
		"c:c2cSound":   "a.caf",
		"c:groupSound": "b.caf",
		"r:group:g-42": "notNotify",
	}
	if got := e.raw(t, "op:{bob}:u"); !maps.Equal(got, want) {
		t.Errorf("op:{bob}:u =\n%v\nwant\n%v", got, want)
	}
	for _, tok := range []string{tokA, tokB} {
		if owner := e.rdb.Get(ctx, "op:tok:"+tok).Val(); owner != "bob" {
			t.Errorf("op:tok:%s = %q, want bob", tok, owner)
		}
	}
	if keys := e.keys(t, "*"); len(keys) != 3 {
		t.Errorf("keys = %v, want the user hash and two owner keys", keys)
	}
}

// TestSettingsRoundTrip: SetSettings/SetReceiveOpt read back by GetSettings; an empty sound
// and the receive option "receive" delete their fields.
func TestSettingsRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	got, err := e.store.GetSettings(ctx, "nobody")
	must(t, err)
	if !reflect.DeepEqual(got, recipient.Settings{}) {
		t.Fatalf("settings of an unknown user = %+v, want zero", got)
	}

	must(t, e.store.SetSettings(ctx, "bob", recipient.Settings{OpenPush: 2, C2CSound: "a.caf", GroupSound: "b.caf"}))
	must(t, e.store.SetReceiveOpt(ctx, "bob", "all", recipient.NotReceive))
	must(t, e.store.SetReceiveOpt(ctx, "bob", "c2c:alice", recipient.NotNotifyExceptAt))
	must(t, e.store.SetReceiveOpt(ctx, "bob", "c2c:alice", recipient.Receive)) // back to default
	must(t, e.store.SetReceiveOpt(ctx, "bob", "group:g-1", recipient.NotNotify))
	got, err = e.store.GetSettings(ctx, "bob")
	must(t, err)
	want := recipient.Settings{OpenPush: 2, C2CSound: "a.caf", GroupSound: "b.caf",
		ReceiveOpts: map[string]recipient.ReceiveOpt{"all": recipient.NotReceive, "group:g-1": recipient.NotNotify}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetSettings = %+v, want %+v", got, want)
	}

	must(t, e.store.SetSettings(ctx, "bob", recipient.Settings{OpenPush: 1, GroupSound: "c.caf"}))
	got, _ = e.store.GetSettings(ctx, "bob")
	want.OpenPush, want.C2CSound, want.GroupSound = 1, "", "c.caf"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after clearing c2cSound: GetSettings = %+v, want %+v", got, want)
	}
	if err := e.store.SetReceiveOpt(ctx, "bob", "all", "mute"); err == nil {
		t.Fatal("SetReceiveOpt accepted an invalid option")
	}
}

// TestDevices: registration, refresh, state and badge as Devices reports them, sorted.
func TestDevices(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokB, 2383))
	e.clock.Add(time.Second)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Background(ctx, "bob", tokA, 7))
	must(t, e.store.Foreground(ctx, "bob", tokB))
	e.clock.Add(time.Second)
	must(t, e.store.SetToken(ctx, "bob", tokB, 2516)) // refresh: new busiId and updatedAt, state kept

	got, err := e.store.Devices(ctx, "bob")
	must(t, err)
	want := []recipient.Device{
		{Token: tokA, BusiID: 2382, Badge: 7, UpdatedAt: t0.Add(time.Second)},
		{Token: tokB, BusiID: 2516, Foreground: true, UpdatedAt: t0.Add(2 * time.Second)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Devices =\n%+v\nwant\n%+v", got, want)
	}
}

// TestForegroundLapses: foreground holds for ForegroundTTL and lapses by itself; calling
// Foreground again refreshes it.
func TestForegroundLapses(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Foreground(ctx, "bob", tokA))
	fg := func() bool {
		r, err := e.store.Lookup(ctx, []string{"bob"})
		must(t, err)
		return r[0].Devices[0].Foreground
	}
	e.clock.Add(10*time.Minute - time.Millisecond)
	if !fg() {
		t.Fatal("foreground lapsed before ForegroundTTL")
	}
	must(t, e.store.Foreground(ctx, "bob", tokA)) // refresh
	e.clock.Add(10*time.Minute - time.Millisecond)
	if !fg() {
		t.Fatal("a second Foreground did not extend the state")
	}
	e.clock.Add(time.Millisecond)
	if fg() {
		t.Fatal("still foreground after ForegroundTTL")
	}
}

// TestBackgroundForeground: Background clears foreground and sets the badge base; Foreground
// resets the badge; both need a registered device.
func TestBackgroundForeground(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	dev := func() recipient.Device {
		d, err := e.store.Devices(ctx, "bob")
		must(t, err)
		return d[0]
	}
	must(t, e.store.Foreground(ctx, "bob", tokA))
	must(t, e.store.Background(ctx, "bob", tokA, 5))
	if d := dev(); d.Foreground || d.Badge != 5 {
		t.Fatalf("after Background(5): foreground %v badge %d, want false 5", d.Foreground, d.Badge)
	}
	if _, err := e.store.Claim(ctx, []presence.Claim{{UserID: "bob", MsgID: "m1", Token: tokA}}); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.Foreground(ctx, "bob", tokA))
	if d := dev(); !d.Foreground || d.Badge != 0 {
		t.Fatalf("after Foreground: foreground %v badge %d, want true 0", d.Foreground, d.Badge)
	}

	for name, err := range map[string]error{
		"Background": e.store.Background(ctx, "bob", tokB, 1),
		"Foreground": e.store.Foreground(ctx, "carol", tokA), // registered, but to bob
	} {
		if !errors.Is(err, presence.ErrNoDevice) {
			t.Errorf("%s of an unregistered device: err = %v, want ErrNoDevice", name, err)
		}
	}
	if h := e.raw(t, "op:{carol}:u"); len(h) != 0 {
		t.Errorf("Foreground of an unregistered device wrote %v", h)
	}
}

// TestTokenMovesBetweenUsers: a token registered by another user leaves the first one, with
// its state; the old user's logout then leaves the new owner alone.
func TestTokenMovesBetweenUsers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "alice", tokA, 2382))
	must(t, e.store.SetToken(ctx, "alice", tokB, 2382))
	must(t, e.store.Background(ctx, "alice", tokA, 4))
	e.clock.Add(time.Second)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2383))

	if h := e.raw(t, "op:{alice}:u"); len(h) != 2 || h["d:"+tokB] == "" || h["x:"+tokA] != strconv.FormatInt(t0.Add(time.Second).UnixMilli(), 10) {
		t.Errorf("alice's hash after the move = %v, want d:%s and x:%s (removed at the move)", h, tokB, tokA)
	}
	got, err := e.store.Devices(ctx, "bob")
	must(t, err)
	want := []recipient.Device{{Token: tokA, BusiID: 2383, UpdatedAt: t0.Add(time.Second)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bob's devices = %+v, want %+v", got, want)
	}
	must(t, e.store.Logout(ctx, "alice", tokA))
	if owner := e.rdb.Get(ctx, "op:tok:"+tokA).Val(); owner != "bob" {
		t.Errorf("owner after alice's logout = %q, want bob", owner)
	}
}

// TestLogout removes the device, its state and its owner key; logging out twice is fine.
func TestLogout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.SetToken(ctx, "bob", tokB, 2382))
	must(t, e.store.Foreground(ctx, "bob", tokA))
	must(t, e.store.Logout(ctx, "bob", tokA))
	must(t, e.store.Logout(ctx, "bob", tokA))
	if h := e.raw(t, "op:{bob}:u"); len(h) != 2 || h["d:"+tokB] == "" || h["x:"+tokA] == "" {
		t.Errorf("bob's hash after logout = %v, want %s and the removed x:%s", h, tokB, tokA)
	}
	if err := e.rdb.Get(ctx, "op:tok:"+tokA).Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("owner key after logout: err = %v, want redis.Nil", err)
	}
}

// TestRemoveDeadToken: a 410 removes a token registered before its timestamp, not one
// registered again after it; the zero time removes anyway.
func TestRemoveDeadToken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.Background(ctx, "bob", tokA, 2))

	removed, err := e.store.RemoveDeadToken(ctx, "bob", tokA, t0.Add(-time.Second)) // re-registered after the 410
	must(t, err)
	if removed != presence.TokenKept || len(e.raw(t, "op:{bob}:u")) != 2 {
		t.Fatalf("token registered after the 410: %v, want kept", removed)
	}
	removed, err = e.store.RemoveDeadToken(ctx, "bob", tokA, t0.Add(time.Millisecond))
	must(t, err)
	if h := e.raw(t, "op:{bob}:u"); removed != presence.TokenRemoved || len(h) != 1 || h["x:"+tokA] == "" {
		t.Fatalf("token registered before the 410: %v, hash %v, want only x:%s", removed, h, tokA)
	}
	if e.rdb.Exists(ctx, "op:tok:"+tokA).Val() != 0 {
		t.Error("owner key survived RemoveDeadToken")
	}
	removed, err = e.store.RemoveDeadToken(ctx, "bob", tokA, time.Time{})
	must(t, err)
	if removed != presence.TokenGone {
		t.Errorf("removing an absent token: %v, want gone", removed)
	}

	must(t, e.store.SetToken(ctx, "bob", tokB, 2382))
	removed, err = e.store.RemoveDeadToken(ctx, "bob", tokB, time.Time{})
	must(t, err)
	if removed != presence.TokenRemoved {
		t.Errorf("zero unregisteredAt: %v, want removed", removed)
	}
}

// TestPrefix: Options.Prefix starts every key.
func TestPrefix(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := presence.New(e.rdb, presence.Options{Prefix: "x"})
	must(t, s.SetToken(ctx, "bob", tokA, 1))
	if _, err := s.Claim(ctx, []presence.Claim{{UserID: "bob", MsgID: "m", Token: tokA, SentAt: t0}}); err != nil {
		t.Fatal(err)
	}
	keys := e.keys(t, "*")
	day := strconv.FormatInt(t0.Truncate(24*time.Hour).Unix(), 10)
	want := map[string]bool{"x:{bob}:u": true, "x:tok:" + tokA: true, "x:{bob}:dd:" + day: true}
	if len(keys) != len(want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for _, k := range keys {
		if !want[k] {
			t.Fatalf("keys = %v, want %v", keys, want)
		}
	}
}

// TestTokenMoveRace: alice registers the token again while bob's SetToken of it is between
// taking ownership and removing it from alice. Both calls converge on the last owner, alice,
// with the device in her hash only.
func TestTokenMoveRace(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	later := &clock{t: t0.Add(time.Second)}
	alice := presence.New(e.rdb, presence.Options{Now: later.Now})
	must(t, alice.SetToken(ctx, "alice", tokA, 2382))

	bobClient := e.newClient()
	var once sync.Once
	bobClient.AddHook(afterHook(func(cmd redis.Cmder) {
		if cmd.Name() == "set" && cmd.Args()[1] == "op:tok:"+tokA {
			once.Do(func() { must(t, alice.SetToken(ctx, "alice", tokA, 2382)) })
		}
	}))
	bob := presence.New(bobClient, presence.Options{Now: e.clock.Now})
	must(t, bob.SetToken(ctx, "bob", tokA, 2383))

	if owner := e.rdb.Get(ctx, "op:tok:"+tokA).Val(); owner != "alice" {
		t.Fatalf("owner = %q, want alice (the last to register)", owner)
	}
	if h := e.raw(t, "op:{alice}:u"); h["d:"+tokA] == "" {
		t.Errorf("alice lost the token she registered last: %v", h)
	}
	if h := e.raw(t, "op:{bob}:u"); h["d:"+tokA] != "" || h["f:"+tokA] != "" || h["b:"+tokA] != "" {
		t.Errorf("bob kept a token alice owns: %v", h)
	}
}

// afterHook is a go-redis hook calling f after each single command.
type afterHook func(redis.Cmder)

func (f afterHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f afterHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		f(cmd)
		return err
	}
}

func (f afterHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
