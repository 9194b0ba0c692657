package presence_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"offpush/presence"
)

// TestWindowErrors: every invalid window is refused with an error naming the field.
func TestWindowErrors(t *testing.T) {
	daily := []struct {
		start string
		dur   int64
		zone  string
		want  string
	}{
		{"22:00", 3600, "", "startTime: want HH:MM:SS"},
		{"24:00:00", 3600, "", "startTime: want HH:MM:SS"},
		{"22:60:00", 3600, "", "startTime: want HH:MM:SS"},
		{"22:00:0x", 3600, "", "startTime: want HH:MM:SS"},
		{"", 3600, "", "startTime: want HH:MM:SS"},
		{"22:00:00", 0, "", "duration: want 1..86400"},
		{"22:00:00", 86401, "", "duration: want 1..86400"},
		{"22:00:00", -5, "", "duration: want 1..86400"},
		{"22:00:00", 3600, "Mars/Base", `timeZone: unknown "Mars/Base"`},
		{"22:00:00", 3600, "Local", `timeZone: unknown "Local"`},
	}
	for _, c := range daily {
		if _, err := presence.DailyWindow(c.start, c.dur, c.zone); err == nil || err.Error() != c.want {
			t.Errorf("DailyWindow(%q, %d, %q) = %v, want %q", c.start, c.dur, c.zone, err, c.want)
		}
	}
	once := []struct {
		start, dur int64
		want       string
	}{
		{1767225600, 0, "duration: want 1..31536000"},
		{1767225600, 31536001, "duration: want 1..31536000"},
		{-1, 60, "startTimestamp: want unix seconds, got -1"},
	}
	for _, c := range once {
		if _, err := presence.OnceWindow(c.start, c.dur); err == nil || err.Error() != c.want {
			t.Errorf("OnceWindow(%d, %d) = %v, want %q", c.start, c.dur, err, c.want)
		}
	}
	for _, ok := range []struct {
		start string
		dur   int64
	}{{"00:00:00", 1}, {"23:59:59", 86400}} {
		if _, err := presence.DailyWindow(ok.start, ok.dur, "Europe/Berlin"); err != nil {
			t.Errorf("DailyWindow(%q, %d): %v", ok.start, ok.dur, err)
		}
	}
}

// TestWindowHolds: start included, end excluded, a window that wraps midnight, a whole-day
// window, and a one-time window.
func TestWindowHolds(t *testing.T) {
	day := func(h, m, s int) time.Time { return time.Date(2026, 12, 2, h, m, s, 0, time.UTC) }
	w, _ := presence.DailyWindow("23:00:00", 2*3600, "")
	whole, _ := presence.DailyWindow("12:00:00", 86400, "UTC")
	once, _ := presence.OnceWindow(day(9, 0, 0).Unix(), 60)
	tests := []struct {
		name string
		w    presence.Window
		at   time.Time
		want bool
	}{
		{"before", w, day(22, 59, 59), false},
		{"start", w, day(23, 0, 0), true},
		{"midnight", w, day(0, 0, 0), true},
		{"last second", w, day(0, 59, 59), true},
		{"end", w, day(1, 0, 0), false},
		{"midday", w, day(12, 0, 0), false},
		{"whole day, any time", whole, day(3, 0, 0), true},
		{"whole day, start", whole, day(12, 0, 0), true},
		{"once, start", once, day(9, 0, 0), true},
		{"once, end", once, day(9, 1, 0), false},
		{"once, a day later", once, day(9, 0, 0).AddDate(0, 0, 1), false},
	}
	for _, tt := range tests {
		if got := tt.w.Holds(tt.at); got != tt.want {
			t.Errorf("%s: Holds(%s) = %v, want %v", tt.name, tt.at.Format(time.TimeOnly), got, tt.want)
		}
	}
	if w.StartTime() != "23:00:00" {
		t.Errorf("StartTime = %q", w.StartTime())
	}
}

// TestReceiveWindowRoundTrip: SetReceiveWindow is read back by GetSettings (the same window),
// a permanent SetReceiveOpt of "all" removes the window, preview is stored and cleared, and a
// malformed stored window holds never.
func TestReceiveWindowRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	w, err := presence.DailyWindow("22:00:00", 28800, "Asia/Shanghai")
	must(t, err)
	must(t, e.store.SetReceiveWindow(ctx, "bob", presence.NotNotify, w))
	got, err := e.store.GetSettings(ctx, "bob")
	must(t, err)
	if got.ReceiveOpts["all"] != presence.NotNotify || got.AllWindow == nil || !reflect.DeepEqual(*got.AllWindow, w) {
		t.Fatalf("after SetReceiveWindow: %+v (window %+v), want notNotify in %+v", got, got.AllWindow, w)
	}
	if raw := e.raw(t, "op:{bob}:u"); raw["q:all"] != "d|79200|28800|Asia/Shanghai" || raw["r:all"] != "notNotify" {
		t.Fatalf("stored %v", raw)
	}
	once, _ := presence.OnceWindow(1767225600, 3600)
	must(t, e.store.SetReceiveWindow(ctx, "bob", presence.Silent, once))
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.ReceiveOpts["all"] != presence.Silent || got.AllWindow == nil || *got.AllWindow != once {
		t.Fatalf("after a one-time window: %+v", got)
	}

	must(t, e.store.SetReceiveOpt(ctx, "bob", "all", presence.NotReceive))
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.ReceiveOpts["all"] != presence.NotReceive || got.AllWindow != nil {
		t.Fatalf("a permanent option kept the window: %+v", got)
	}
	must(t, e.store.SetReceiveWindow(ctx, "bob", presence.NotNotify, w))
	must(t, e.store.SetReceiveWindow(ctx, "bob", presence.Receive, w))
	if raw := e.raw(t, "op:{bob}:u"); len(raw) != 0 {
		t.Fatalf("receive in a window left %v", raw)
	}

	must(t, e.store.SetSettings(ctx, "bob", presence.Settings{Preview: presence.PreviewNone}))
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.Preview != presence.PreviewNone {
		t.Fatalf("preview = %q", got.Preview)
	}
	must(t, e.store.SetSettings(ctx, "bob", presence.Settings{Preview: presence.PreviewFull}))
	if raw := e.raw(t, "op:{bob}:u"); raw["c:preview"] != "" {
		t.Fatalf("preview full is stored as %q, want no field", raw["c:preview"])
	}
	if err := e.store.SetSettings(ctx, "bob", presence.Settings{Preview: "blur"}); err == nil {
		t.Fatal("SetSettings accepted preview blur")
	}

	must(t, e.rdb.HSet(ctx, "op:{bob}:u", "r:all", "notNotify", "q:all", "d|x|1|UTC").Err())
	got, _ = e.store.GetSettings(ctx, "bob")
	if got.AllWindow == nil || got.AllWindow.Holds(time.Now()) {
		t.Fatalf("a malformed window reads as %+v, want one that never holds", got.AllWindow)
	}
}
