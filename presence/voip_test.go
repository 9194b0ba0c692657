package presence_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"offpush/presence"
	"offpush/recipient"
)

// TestVoIPToken: setVOIP registers a token of kind voip, kept through background/foreground;
// the 410 check reads its registration time; explain keeps the kind of a removed VoIP token;
// registering it again as an ordinary token changes its kind.
func TestVoIPToken(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	must(t, e.store.SetVoIPToken(ctx, "bob", tokB, 2390))
	if raw := e.raw(t, "op:{bob}:u"); raw["d:"+tokB] != "2390|"+unixMsString(t0)+"|v" {
		t.Fatalf("stored %q", raw["d:"+tokB])
	}
	devs, err := e.store.Devices(ctx, "bob")
	must(t, err)
	if len(devs) != 2 || devs[0].Kind != "" || devs[1].Kind != recipient.KindVoIP || devs[1].BusiID != 2390 || !devs[1].UpdatedAt.Equal(t0) {
		t.Fatalf("devices %+v, want tokA ordinary and tokB voip", devs)
	}
	// A 410 older than the registration keeps it: the time is read past the kind.
	removed, err := e.store.RemoveDeadToken(ctx, "bob", tokB, t0.Add(-time.Second))
	must(t, err)
	if removed != presence.TokenKept {
		t.Fatalf("410 before the registration: %v, want kept", removed)
	}
	c := presence.Claim{UserID: "bob", MsgID: "call-1", Token: tokB, SentAt: t0, IgnoreBadge: true}
	if _, err := e.store.Claim(ctx, []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}
	c.Outcome, c.Attempts = presence.OutcomeTokenRemoved, 1
	if _, err := e.store.RemoveDeadToken(ctx, "bob", tokB, time.Time{}); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.Done(ctx, []presence.Claim{c}))
	rs, err := e.store.Explain(ctx, "bob", "call-1")
	must(t, err)
	if len(rs) != 2 || rs[1].Token != tokB || rs[1].Kind != recipient.KindVoIP || rs[1].State != presence.PushTokenRemoved || rs[1].Badge != -1 {
		t.Fatalf("explain %+v, want the removed VoIP token, token_removed without badge", rs)
	}
	must(t, e.store.SetVoIPToken(ctx, "bob", tokA, 2390))
	must(t, e.store.SetToken(ctx, "bob", tokA, 2382))
	if devs, _ := e.store.Devices(ctx, "bob"); len(devs) != 1 || devs[0].Kind != "" {
		t.Fatalf("after registering tokA as ordinary again: %+v", devs)
	}
}

func unixMsString(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
