package render

import (
	"testing"
	"time"

	"offpush/event"
	"offpush/recipient"
)

// daily is a daily quiet-hours window; the test fails on an invalid one.
func daily(t *testing.T, start string, dur int64, zone string) *recipient.Window {
	t.Helper()
	w, err := recipient.DailyWindow(start, dur, zone)
	if err != nil {
		t.Fatal(err)
	}
	return &w
}

// quiet is settings with the "all" option o inside window w.
func quiet(o recipient.ReceiveOpt, w *recipient.Window) *recipient.Settings {
	return &recipient.Settings{ReceiveOpts: map[string]recipient.ReceiveOpt{recipient.AllConversations: o}, AllWindow: w}
}

// TestUserControls: quiet hours, silent and the previews, as exact payloads; a nil want is
// a skip (Muted).
func TestUserControls(t *testing.T) {
	bg := &recipient.Device{Token: "t", Badge: 2}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	night := daily(t, "22:00:00", 8*3600, "Asia/Shanghai") // 22:00–06:00 in UTC+8: 14:00–22:00 UTC
	once, err := recipient.OnceWindow(at("2026-11-25T10:00:00Z").Unix(), 3600)
	if err != nil {
		t.Fatal(err)
	}
	const full = `{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`
	const silent = `{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`
	tests := []struct {
		name string
		msg  *event.Message
		s    *recipient.Settings
		opts Options
		now  time.Time
		want string // "" = Muted
	}{
		// a daily window in Asia/Shanghai that wraps midnight, at its start, inside, at its end.
		{"night: before start", c2c(), quiet(recipient.NotNotify, night), opts, at("2026-11-25T13:59:59Z"), full},
		{"night: at start", c2c(), quiet(recipient.NotNotify, night), opts, at("2026-11-25T14:00:00Z"), ""},
		{"night: after midnight local", c2c(), quiet(recipient.NotNotify, night), opts, at("2026-11-25T17:30:00Z"), ""},
		{"night: last second", c2c(), quiet(recipient.NotNotify, night), opts, at("2026-11-25T21:59:59Z"), ""},
		{"night: at end", c2c(), quiet(recipient.NotNotify, night), opts, at("2026-11-25T22:00:00Z"), full},
		// a one-time window: start included, end excluded.
		{"once: before", c2c(), quiet(recipient.NotReceive, &once), opts, at("2026-11-25T09:59:59Z"), full},
		{"once: start", c2c(), quiet(recipient.NotReceive, &once), opts, at("2026-11-25T10:00:00Z"), ""},
		{"once: end", c2c(), quiet(recipient.NotReceive, &once), opts, at("2026-11-25T11:00:00Z"), full},
		// the conversation's own option beats quiet hours on "all".
		{"conv beats window", c2c(), &recipient.Settings{ReceiveOpts: map[string]recipient.ReceiveOpt{
			"all": recipient.NotNotify, "c2c:alice": recipient.Receive}, AllWindow: night}, opts, at("2026-11-25T15:00:00Z"), full},
		// silent: no sound (the message's own sound overridden), passive, the badge counts.
		{"silent", c2c(push(event.OfflinePush{IOS: &event.IOS{Sound: "ring.caf"}})), opt("c2c:alice", recipient.Silent), opts, now, silent},
		{"silent on all", c2c(), opt("all", recipient.Silent), opts, now, silent},
		{"silent inside window", c2c(), quiet(recipient.Silent, night), opts, at("2026-11-25T15:00:00Z"), silent},
		{"silent outside window", c2c(), quiet(recipient.Silent, night), opts, at("2026-11-25T12:00:00Z"), full},
		// notReceiveExceptAt pushes a group message only with an @.
		{"notReceiveExceptAt, no @", group(), opt("group:g-42", recipient.NotReceiveExceptAt), opts, now, ""},
		{"notReceiveExceptAt, @bob", group(func(m *event.Message) { m.AtUserIDs = []string{"bob"} }), opt("group:g-42", recipient.NotReceiveExceptAt), opts, now,
			`{"aps":{"alert":{"body":"Ali (Hiking): see you at 8"},"badge":3,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		{"notReceiveExceptAt, c2c", c2c(), opt("all", recipient.NotReceiveExceptAt), opts, now, ""},
		// preview name: the sender prefix stays, the content (offlinePush.desc too) is replaced.
		{"preview name", c2c(push(event.OfflinePush{Desc: "secret", Title: "T"})), &recipient.Settings{Preview: recipient.PreviewName}, opts, now,
			`{"aps":{"alert":{"title":"T","body":"Alice: New message"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"preview name, group", group(), &recipient.Settings{Preview: recipient.PreviewName}, opts, now,
			`{"aps":{"alert":{"body":"Ali (Hiking): New message"},"badge":3,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		{"preview name, no nickname", c2c(func(m *event.Message) { m.Sender.Nickname = "" }), &recipient.Settings{Preview: recipient.PreviewName}, opts, now,
			`{"aps":{"alert":{"body":"New message"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// preview none: a fixed body, no title; badge and sound stay; ext (app data) stays.
		{"preview none", c2c(push(event.OfflinePush{Desc: "secret", Title: "T", Ext: "e"})), &recipient.Settings{Preview: recipient.PreviewNone}, opts, now,
			`{"aps":{"alert":{"body":"You have a new message"},"badge":3,"sound":"default","thread-id":"alice"},"ext":"e","conv":"c2c:alice"}`},
		{"preview full", c2c(), &recipient.Settings{Preview: recipient.PreviewFull}, opts, now, full},
		// server-side localised texts.
		{"preview texts", c2c(), &recipient.Settings{Preview: recipient.PreviewName},
			Options{Expiry: opts.Expiry, PreviewName: "新消息", PreviewNone: "您有一条新消息"}, now,
			`{"aps":{"alert":{"body":"Alice: 新消息"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// device-side localisation: loc-keys instead of the fixed texts.
		{"loc: image", c2c(elems(event.Elem{Type: event.Image})), nil, Options{LocKeys: true}, now,
			`{"aps":{"alert":{"loc-key":"OFFPUSH_IMAGE_FROM","loc-args":["Alice"]},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"loc: voice, no nickname", c2c(elems(event.Elem{Type: event.Voice}), func(m *event.Message) { m.Sender.Nickname = "" }), nil, Options{LocKeys: true}, now,
			`{"aps":{"alert":{"loc-key":"OFFPUSH_VOICE"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"loc: mixed content stays text", c2c(elems(event.Elem{Type: event.Text, Text: "look "}, event.Elem{Type: event.Image})), nil, Options{LocKeys: true}, now,
			`{"aps":{"alert":{"body":"Alice: look [image]"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"loc: desc stays text", c2c(elems(event.Elem{Type: event.Image}), push(event.OfflinePush{Desc: "a photo"})), nil, Options{LocKeys: true}, now,
			`{"aps":{"alert":{"body":"Alice: a photo"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"loc: preview name", group(), &recipient.Settings{Preview: recipient.PreviewName}, Options{LocKeys: true}, now,
			`{"aps":{"alert":{"loc-key":"OFFPUSH_NEW_MESSAGE_FROM","loc-args":["Ali (Hiking)"]},"badge":3,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		{"loc: preview none", c2c(), &recipient.Settings{Preview: recipient.PreviewNone}, Options{LocKeys: true}, now,
			`{"aps":{"alert":{"loc-key":"OFFPUSH_PREVIEW_NONE"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// silent and a hidden preview together.
		{"silent + none", c2c(), &recipient.Settings{Preview: recipient.PreviewNone, ReceiveOpts: map[string]recipient.ReceiveOpt{"all": recipient.Silent}}, opts, now,
			`{"aps":{"alert":{"body":"You have a new message"},"badge":3,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.msg
			m.SentAt = tt.now // expiry is not what these cases test
			n, skip := Render(m, "bob", tt.s, bg, "com.example.im", tt.opts, tt.now)
			if tt.want == "" {
				if skip != Muted {
					t.Fatalf("skip %q, payload %s; want muted", skip, n.Payload)
				}
				return
			}
			if skip != NoSkip {
				t.Fatalf("skip %q, want a push", skip)
			}
			if string(n.Payload) != tt.want {
				t.Errorf("payload\n got %s\nwant %s", n.Payload, tt.want)
			}
		})
	}
}

// TestQuietHoursDST: a daily 22:00 + 8 h window in New York across both switches of 2026
// starts at 22:00 local time each day and lasts 8 hours of real time.
func TestQuietHoursDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	w := daily(t, "22:00:00", 8*3600, "America/New_York")
	local := func(y int, m time.Month, d, h, mi int) time.Time { return time.Date(y, m, d, h, mi, 0, 0, ny) }
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		// spring forward, 2026-03-08 02:00 EST → 03:00 EDT: the night of the 7th is 7 hours of
		// wall clock but 8 real hours: it ends at 07:00 EDT.
		{"spring: 21:59 EST", local(2026, 3, 7, 21, 59), false},
		{"spring: 22:00 EST", local(2026, 3, 7, 22, 0), true},
		{"spring: 06:59 EDT", local(2026, 3, 8, 6, 59), true},
		{"spring: 07:00 EDT", local(2026, 3, 8, 7, 0), false},
		// fall back, 2026-11-01 02:00 EDT → 01:00 EST: 8 real hours end at 05:00 EST.
		{"fall: 22:00 EDT", local(2026, 10, 31, 22, 0), true},
		{"fall: 04:59 EST", local(2026, 11, 1, 4, 59), true},
		{"fall: 05:00 EST", local(2026, 11, 1, 5, 0), false},
		// the next nights start at 22:00 local time again.
		{"after spring: 22:00 EDT", local(2026, 3, 8, 22, 0), true},
		{"after fall: 21:59 EST", local(2026, 11, 1, 21, 59), false},
		{"after fall: 22:00 EST", local(2026, 11, 1, 22, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := w.Holds(tt.at); got != tt.want {
				t.Errorf("Holds(%s) = %v, want %v", tt.at, got, tt.want)
			}
			_, skip := Render(c2c(func(m *event.Message) { m.SentAt = tt.at }), "bob", quiet(recipient.NotNotify, w),
				&recipient.Device{Token: "t"}, "topic", opts, tt.at)
			if (skip == Muted) != tt.want {
				t.Errorf("Render at %s: skip %q", tt.at, skip)
			}
		})
	}
}
