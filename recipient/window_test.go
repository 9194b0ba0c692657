package recipient_test

import (
	"testing"
	"time"

	"offpush/recipient"
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
		if _, err := recipient.DailyWindow(c.start, c.dur, c.zone); err == nil || err.Error() != c.want {
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
		if _, err := recipient.OnceWindow(c.start, c.dur); err == nil || err.Error() != c.want {
			t.Errorf("OnceWindow(%d, %d) = %v, want %q", c.start, c.dur, err, c.want)
		}
	}
	for _, ok := range []struct {
		start string
		dur   int64
	}{{"00:00:00", 1}, {"23:59:59", 86400}} {
		if _, err := recipient.DailyWindow(ok.start, ok.dur, "Europe/Berlin"); err != nil {
			t.Errorf("DailyWindow(%q, %d): %v", ok.start, ok.dur, err)
		}
	}
}

// TestWindowHolds: start included, end excluded, a window that wraps midnight, a whole-day
// window, and a one-time window.
func TestWindowHolds(t *testing.T) {
	day := func(h, m, s int) time.Time { return time.Date(2026, 12, 2, h, m, s, 0, time.UTC) }
	w, _ := recipient.DailyWindow("23:00:00", 2*3600, "")
	whole, _ := recipient.DailyWindow("12:00:00", 86400, "UTC")
	once, _ := recipient.OnceWindow(day(9, 0, 0).Unix(), 60)
	tests := []struct {
		name string
		w    recipient.Window
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
