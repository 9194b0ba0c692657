package presence_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"offpush/recipient"
)

// TestReceiveWindowRoundTrip: SetReceiveWindow is read back by GetSettings (the same window),
// a permanent SetReceiveOpt of "all" removes the window, preview is stored and cleared, and a
// malformed stored window holds never.
func TestReceiveWindowRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	w, err := recipient.DailyWindow("22:00:00", 28800, "Asia/Shanghai")
	must(t, err)
	must(t, e.store.SetReceiveWindow(ctx, "bob", recipient.NotNotify, w))
	got, err := e.store.GetSettings(ctx, "bob")
	must(t, err)
	if got.ReceiveOpts["all"] != recipient.NotNotify || got.AllWindow == nil || !reflect.DeepEqual(*got.AllWindow, w) {
		t.Fatalf("after SetReceiveWindow: %+v (window %+v), want notNotify in %+v", got, got.AllWindow, w)
	}
	if raw := e.raw(t, "op:{bob}:u"); raw["q:all"] != "d|79200|28800|Asia/Shanghai" || raw["r:all"] != "notNotify" {
		t.Fatalf("stored %v", raw)
	}
	once, _ := recipient.OnceWindow(1767225600, 3600)
	must(t, e.store.SetReceiveWindow(ctx, "bob", recipient.Silent, once))
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.ReceiveOpts["all"] != recipient.Silent || got.AllWindow == nil || *got.AllWindow != once {
		t.Fatalf("after a one-time window: %+v", got)
	}

	must(t, e.store.SetReceiveOpt(ctx, "bob", "all", recipient.NotReceive))
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.ReceiveOpts["all"] != recipient.NotReceive || got.AllWindow != nil {
		t.Fatalf("a permanent option kept the window: %+v", got)
	}
	must(t, e.store.SetReceiveWindow(ctx, "bob", recipient.NotNotify, w))
	must(t, e.store.SetReceiveWindow(ctx, "bob", recipient.Receive, w))
	if raw := e.raw(t, "op:{bob}:u"); len(raw) != 0 {
		t.Fatalf("receive in a window left %v", raw)
	}

	must(t, e.store.SetSettings(ctx, "bob", recipient.Settings{Preview: recipient.PreviewNone}))
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.Preview != recipient.PreviewNone {
		t.Fatalf("preview = %q", got.Preview)
	}
	must(t, e.store.SetSettings(ctx, "bob", recipient.Settings{Preview: recipient.PreviewFull}))
	if raw := e.raw(t, "op:{bob}:u"); raw["c:preview"] != "" {
		t.Fatalf("preview full is stored as %q, want no field", raw["c:preview"])
	}
	if err := e.store.SetSettings(ctx, "bob", recipient.Settings{Preview: "blur"}); err == nil {
		t.Fatal("SetSettings accepted preview blur")
	}

	must(t, e.rdb.HSet(ctx, "op:{bob}:u", "r:all", "notNotify", "q:all", "d|x|1|UTC").Err())
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.AllWindow == nil || got.AllWindow.Holds(time.Now()) {
		t.Fatalf("a malformed window reads as %+v, want one that never holds", got.AllWindow)
	}
}
