package render

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"offpush/event"
	"offpush/recipient"
)

var (
	sentAt = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now    = sentAt.Add(time.Minute)
	opts   = Options{Expiry: 24 * time.Hour}
)

// c2c is a one-to-one message from alice to bob, changed by the edits.
func c2c(edits ...func(*event.Message)) *event.Message {
	m := &event.Message{
		ID:         "m1",
		ChatType:   event.C2C,
		Sender:     event.Sender{UserID: "alice", Nickname: "Alice"},
		Recipients: []string{"bob"},
		Elems:      []event.Elem{{Type: event.Text, Text: "see you at 8"}},
		SentAt:     sentAt,
	}
	for _, e := range edits {
		e(m)
	}
	return m
}

// group is a message from alice (name card "Ali") to the group g-42 "Hiking".
func group(edits ...func(*event.Message)) *event.Message {
	return c2c(append([]func(*event.Message){func(m *event.Message) {
		m.ChatType = event.Group
		m.Sender.GroupNameCard = "Ali"
		m.Group = &event.GroupInfo{ID: "g-42", Name: "Hiking"}
		m.Recipients = []string{"bob", "carol"}
	}}, edits...)...)
}

func elems(es ...event.Elem) func(*event.Message) {
	return func(m *event.Message) { m.Elems = es }
}

func push(op event.OfflinePush) func(*event.Message) {
	return func(m *event.Message) { m.OfflinePush = &op }
}

func opt(conv string, o recipient.ReceiveOpt) *recipient.Settings {
	return &recipient.Settings{ReceiveOpts: map[string]recipient.ReceiveOpt{conv: o}}
}

func TestRenderPayload(t *testing.T) {
	tests := []struct {
		name string
		msg  *event.Message
		s    *recipient.Settings
		d    *recipient.Device // nil: background device with badge 3
		want string
	}{
		// c2c: "Nickname: content", thread-id is the sender, badge is the device's + 1.
		{"c2c", c2c(), nil, nil,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":4,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// c2c without a nickname: the content alone.
		{"c2c no nickname", c2c(func(m *event.Message) { m.Sender.Nickname = "" }), nil, nil,
			`{"aps":{"alert":{"body":"see you at 8"},"badge":4,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// group: "Name (GroupName): content", the name card wins; thread-id is the group.
		{"group name card", group(), nil, nil,
			`{"aps":{"alert":{"body":"Ali (Hiking): see you at 8"},"badge":4,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		// group without a name card: the nickname.
		{"group nickname", group(func(m *event.Message) { m.Sender.GroupNameCard = "" }), nil, nil,
			`{"aps":{"alert":{"body":"Alice (Hiking): see you at 8"},"badge":4,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		// group without name card or nickname: the user id.
		{"group user id", group(func(m *event.Message) { m.Sender.GroupNameCard, m.Sender.Nickname = "", "" }), nil, nil,
			`{"aps":{"alert":{"body":"alice (Hiking): see you at 8"},"badge":4,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		// a group without a name shows its id.
		{"group without name", group(func(m *event.Message) { m.Group.Name = "" }), nil, nil,
			`{"aps":{"alert":{"body":"Ali (g-42): see you at 8"},"badge":4,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		// every elem type in order, no separator; tips and system elems add nothing.
		{"elem words", c2c(elems(
			event.Elem{Type: event.Text, Text: "hi"}, event.Elem{Type: event.Image}, event.Elem{Type: event.Voice},
			event.Elem{Type: event.File}, event.Elem{Type: event.Video}, event.Elem{Type: event.Location},
			event.Elem{Type: event.Face}, event.Elem{Type: event.Merger}, event.Elem{Type: event.GroupTips, Text: "x"},
			event.Elem{Type: event.System, Text: "y"}, event.Elem{Type: event.Custom, Desc: "Payment received", Data: "z"},
		)), nil, nil,
			`{"aps":{"alert":{"body":"Alice: hi[image][voice][file][video][location][sticker][chat history]Payment received"},"badge":4,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// offlinePush.desc replaces the content and keeps the sender prefix.
		{"desc replaces content", group(push(event.OfflinePush{Desc: "New message"})), nil, nil,
			`{"aps":{"alert":{"body":"Ali (Hiking): New message"},"badge":4,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
		// offlinePush.desc makes a custom elem with an empty desc pushable.
		{"desc rescues empty custom", c2c(elems(event.Elem{Type: event.Custom, Data: "{}"}), push(event.OfflinePush{Desc: "Call"})), nil, nil,
			`{"aps":{"alert":{"body":"Alice: Call"},"badge":4,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// offlinePush.title is aps.alert.title; ext is the top-level "ext", escaped.
		{"title and ext", c2c(push(event.OfflinePush{Title: "Alice", Ext: `{"k":1}`})), nil, nil,
			`{"aps":{"alert":{"title":"Alice","body":"Alice: see you at 8"},"badge":4,"sound":"default","thread-id":"alice"},"ext":"{\"k\":1}","conv":"c2c:alice"}`},
		// JSON escaping: quote, backslash, \n, \t, other controls, U+2028/9; UTF-8 stays raw.
		{"escaping", c2c(elems(event.Elem{Type: event.Text, Text: "a\"b\\c\nd\te\x01\x1ff\u2028\u2029g😀中\u00e9</>"})), nil, nil,
			`{"aps":{"alert":{"body":"Alice: a\"b\\c\nd\te\u0001\u001ff\u2028\u2029g😀中é</>"},"badge":4,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// ignoreBadge: no badge key at all.
		{"ignore badge", c2c(push(event.OfflinePush{IOS: &event.IOS{IgnoreBadge: true}})), nil, nil,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// badge of a device that has 0: 1.
		{"badge from zero", c2c(), nil, &recipient.Device{Token: "t"},
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":1,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		// the message's sound beats the user's.
		{"message sound", c2c(push(event.OfflinePush{IOS: &event.IOS{Sound: "ring.caf"}})), &recipient.Settings{C2CSound: "a.caf"}, nil,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":4,"sound":"ring.caf","thread-id":"alice"},"conv":"c2c:alice"}`},
		// c2c uses the user's c2cSound.
		{"user c2c sound", c2c(), &recipient.Settings{C2CSound: "a.caf", GroupSound: "b.caf"}, nil,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":4,"sound":"a.caf","thread-id":"alice"},"conv":"c2c:alice"}`},
		// group uses the user's groupSound.
		{"user group sound", group(), &recipient.Settings{C2CSound: "a.caf", GroupSound: "b.caf"}, nil,
			`{"aps":{"alert":{"body":"Ali (Hiking): see you at 8"},"badge":4,"sound":"b.caf","thread-id":"g-42"},"conv":"group:g-42"}`},
		// push.no_sound in the message: no sound key, even if the user has one.
		{"message no sound", c2c(push(event.OfflinePush{IOS: &event.IOS{Sound: event.NoSound}})), &recipient.Settings{C2CSound: "a.caf"}, nil,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":4,"thread-id":"alice"},"conv":"c2c:alice"}`},
		// push.no_sound as the user's sound: no sound key either.
		{"user no sound", group(), &recipient.Settings{GroupSound: event.NoSound}, nil,
			`{"aps":{"alert":{"body":"Ali (Hiking): see you at 8"},"badge":4,"thread-id":"g-42"},"conv":"group:g-42"}`},
		// notNotifyExceptAt in a group where the user is @-mentioned: pushed.
		{"mentioned", group(func(m *event.Message) { m.AtUserIDs = []string{"carol", "bob"} }), opt("group:g-42", recipient.NotNotifyExceptAt), nil,
			`{"aps":{"alert":{"body":"Ali (Hiking): see you at 8"},"badge":4,"sound":"default","thread-id":"g-42"},"conv":"group:g-42"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.d
			if d == nil {
				d = &recipient.Device{Token: "t", Badge: 3}
			}
			n, skip := Render(tt.msg, "bob", tt.s, d, "com.example.im", opts, now)
			if skip != NoSkip {
				t.Fatalf("skip = %v, want none", skip)
			}
			if got := string(n.Payload); got != tt.want {
				t.Errorf("payload\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(n.Payload) {
				t.Errorf("payload is not valid JSON")
			}
		})
	}
}

func TestRenderSkip(t *testing.T) {
	bg := &recipient.Device{Token: "t"}
	mentioned := func(m *event.Message) { m.AtUserIDs = []string{"bob"} }
	tests := []struct {
		name string
		msg  *event.Message
		user string
		s    *recipient.Settings
		d    *recipient.Device
		now  time.Time
		want Skip
	}{
		// the sender is among the recipients.
		{"self", group(), "alice", nil, bg, now, SelfMessage},
		// pushFlag noPush.
		{"noPush", c2c(push(event.OfflinePush{PushFlag: event.NoPush})), "bob", nil, bg, now, NoPushFlag},
		// pushFlag noPush wins over a desc.
		{"noPush with desc", c2c(push(event.OfflinePush{PushFlag: event.NoPush, Desc: "d"})), "bob", nil, bg, now, NoPushFlag},
		// a custom elem with an empty desc, even next to text.
		{"empty custom", c2c(elems(event.Elem{Type: event.Text, Text: "x"}, event.Elem{Type: event.Custom, Data: "d"})), "bob", nil, bg, now, EmptyCustom},
		// only tips and system elems.
		{"no content", group(elems(event.Elem{Type: event.GroupTips}, event.Elem{Type: event.System})), "bob", nil, bg, now, NoContent},
		// an empty text is no content either.
		{"empty text", c2c(elems(event.Elem{Type: event.Text})), "bob", nil, bg, now, NoContent},
		// openPush 2.
		{"push disabled", c2c(), "bob", &recipient.Settings{OpenPush: recipient.OpenPushOff}, bg, now, PushDisabled},
		// openPush 1 pushes.
		{"push on", c2c(), "bob", &recipient.Settings{OpenPush: recipient.OpenPushOn}, bg, now, NoSkip},
		// notNotify on the conversation.
		{"conv notNotify", c2c(), "bob", opt("c2c:alice", recipient.NotNotify), bg, now, Muted},
		// notReceive on the conversation.
		{"conv notReceive", group(), "bob", opt("group:g-42", recipient.NotReceive), bg, now, Muted},
		// an option on another conversation does not apply.
		{"other conv", group(), "bob", opt("group:g-1", recipient.NotNotify), bg, now, NoSkip},
		// no option on the conversation: "all" applies.
		{"all notNotify", group(), "bob", opt("all", recipient.NotNotify), bg, now, Muted},
		// the conversation's receive beats "all".
		{"conv receive beats all", c2c(), "bob", &recipient.Settings{ReceiveOpts: map[string]recipient.ReceiveOpt{
			"all": recipient.NotNotify, "c2c:alice": recipient.Receive}}, bg, now, NoSkip},
		// notNotifyExceptAt, not mentioned.
		{"except at, not mentioned", group(func(m *event.Message) { m.AtUserIDs = []string{"carol"} }), "bob",
			opt("group:g-42", recipient.NotNotifyExceptAt), bg, now, Muted},
		// notNotifyExceptAt, mentioned.
		{"except at, mentioned", group(mentioned), "bob", opt("group:g-42", recipient.NotNotifyExceptAt), bg, now, NoSkip},
		// notNotifyExceptAt, @all.
		{"except at, atAll", group(func(m *event.Message) { m.AtAll = true }), "bob", opt("all", recipient.NotNotifyExceptAt), bg, now, NoSkip},
		// notNotifyExceptAt on c2c always mutes, even with a stray @.
		{"except at, c2c", c2c(mentioned), "bob", opt("c2c:alice", recipient.NotNotifyExceptAt), bg, now, Muted},
		// notNotifyExceptAt with many mentions (the set path).
		{"except at, many mentions", group(func(m *event.Message) {
			for i := range 40 {
				m.AtUserIDs = append(m.AtUserIDs, strings.Repeat("u", i+1))
			}
			m.AtUserIDs = append(m.AtUserIDs, "bob")
		}), "bob", opt("group:g-42", recipient.NotNotifyExceptAt), bg, now, NoSkip},
		// later than SentAt + Expiry.
		{"expired", c2c(), "bob", nil, bg, sentAt.Add(24*time.Hour + time.Second), Expired},
		// exactly SentAt + Expiry is still in time.
		{"expiry boundary", c2c(), "bob", nil, bg, sentAt.Add(24 * time.Hour), NoSkip},
		// no SentAt: never expires.
		{"no sentAt", c2c(func(m *event.Message) { m.SentAt = time.Time{} }), "bob", nil, bg, sentAt.AddDate(1, 0, 0), NoSkip},
		// expiry holds for every recipient alike: it comes before the user's own rules, as in
		// the worker, which skips an expired event without looking anyone up.
		{"expired before muted", c2c(), "bob", opt("all", recipient.NotNotify), bg, sentAt.AddDate(0, 0, 2), Expired},
		// a user without devices is no_device, whatever the settings say.
		{"no device before muted", c2c(), "bob", opt("all", recipient.NotNotify), nil, now, NoDevice},
		{"no device before disabled", c2c(), "bob", &recipient.Settings{OpenPush: recipient.OpenPushOff}, nil, now, NoDevice},
		// a message-level reason names the sender too.
		{"noPush before self", c2c(func(m *event.Message) { m.OfflinePush = &event.OfflinePush{PushFlag: event.NoPush} }), "alice", nil, bg, now, NoPushFlag},
		// the device's app is in the foreground.
		{"foreground", c2c(), "bob", nil, &recipient.Device{Token: "t", Foreground: true}, now, Foreground},
		// no device.
		{"no device", c2c(), "bob", nil, nil, now, NoDevice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, got := Render(tt.msg, tt.user, tt.s, tt.d, "com.example.im", opts, tt.now)
			if got != tt.want {
				t.Fatalf("skip = %q, want %q", got, tt.want)
			}
			if (got == NoSkip) != (n.Payload != nil) {
				t.Errorf("skip %q with payload %q", got, n.Payload)
			}
		})
	}
}

func TestNotificationHeaders(t *testing.T) {
	long := strings.Repeat("x", 65)
	tests := []struct {
		name string
		msg  *event.Message
		opts Options
		want Notification // without Payload and ID
	}{
		// the message id is the collapse id; expiration is SentAt + Expiry.
		{"short id", c2c(), opts, Notification{Token: "tok", Topic: "com.example.im", PushType: "alert", Priority: 10,
			Expiration: sentAt.Add(24 * time.Hour), CollapseID: "m1"}},
		// 64 bytes is still allowed as is.
		{"64-byte id", c2c(func(m *event.Message) { m.ID = long[:64] }), opts, Notification{Token: "tok", Topic: "com.example.im",
			PushType: "alert", Priority: 10, Expiration: sentAt.Add(24 * time.Hour), CollapseID: long[:64]}},
		// longer ids are hashed: hex(sha256("x"*65)).
		{"65-byte id", c2c(func(m *event.Message) { m.ID = long }), opts, Notification{Token: "tok", Topic: "com.example.im",
			PushType: "alert", Priority: 10, Expiration: sentAt.Add(24 * time.Hour),
			CollapseID: "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"}},
		// no expiry option: no expiration.
		{"no expiry", c2c(), Options{}, Notification{Token: "tok", Topic: "com.example.im", PushType: "alert", Priority: 10, CollapseID: "m1"}},
		// no SentAt: no expiration.
		{"no sentAt", c2c(func(m *event.Message) { m.SentAt = time.Time{} }), opts,
			Notification{Token: "tok", Topic: "com.example.im", PushType: "alert", Priority: 10, CollapseID: "m1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Prepare(tt.msg, tt.opts).Notification("tok", "com.example.im", Style{Sound: "default"}, 1)
			if want := APNsID(tt.msg.ID, "tok"); n.ID != want {
				t.Errorf("apns-id %q, want %q", n.ID, want)
			}
			n.Payload, n.ID = nil, ""
			if !reflect.DeepEqual(n, tt.want) {
				t.Errorf("got  %+v\nwant %+v", n, tt.want)
			}
		})
	}
}

// TestAPNsID: the apns-id is the version-5 UUID of "msgId/token" in the namespace
// uuid5(URL, "offpush:apns-id"); the values are Python's uuid.uuid5, an implementation of
// RFC 9562 other than the one offpush uses.
func TestAPNsID(t *testing.T) {
	for _, c := range []struct{ msg, token, want string }{
		{"m1", "tok", "e2483e3b-e890-5626-bfbb-a7d3a2a68770"},
		{strings.Repeat("x", 65), "tok", "fa824e79-ae78-5427-a71e-b1db7afcad1e"},
	} {
		if got := APNsID(c.msg, c.token); got != c.want {
			t.Errorf("APNsID(%q, %q) = %s, want %s", c.msg, c.token, got, c.want)
		}
	}
	if APNsID("m1", "a") == APNsID("m1", "b") || APNsID("m1", "a") == APNsID("m2", "a") {
		t.Error("distinct pushes share an apns-id")
	}
}

func TestNextBadge(t *testing.T) {
	for _, c := range []struct{ in, want int64 }{{0, 1}, {41, 42}, {-5, 1}, {1<<63 - 1, 1<<63 - 1}} {
		if got := NextBadge(c.in); got != c.want {
			t.Errorf("NextBadge(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

// apsOf decodes a payload.
func apsOf(t *testing.T, b []byte) (alert map[string]string, sound, ext string) {
	t.Helper()
	var p struct {
		APS struct {
			Alert map[string]string `json:"alert"`
			Sound string            `json:"sound"`
		} `json:"aps"`
		Ext string `json:"ext"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("payload %q: %v", b, err)
	}
	return p.APS.Alert, p.APS.Sound, p.Ext
}

func checkFits(t *testing.T, b []byte) {
	t.Helper()
	if len(b) > MaxPayload || !utf8.Valid(b) || !json.Valid(b) {
		t.Fatalf("payload of %d bytes, valid UTF-8 %v, valid JSON %v", len(b), utf8.Valid(b), json.Valid(b))
	}
}

func TestTruncation(t *testing.T) {
	cjk := strings.Repeat("中文😀\n", 2000) // 3+3+4 bytes, \n escapes to 2
	bigExt := strings.Repeat("e", 3000)  // fits whole, with little room left for the rest
	sub := func(s string) *event.IOS { return &event.IOS{Subtitle: s} }
	tests := []struct {
		name                           string
		op                             event.OfflinePush
		sound                          string
		cutBody, cutTitle, cutSubtitle bool
		wantSound                      string
	}{
		// only the body is too long: it is cut, the rest stays.
		{"body", event.OfflinePush{Desc: cjk, Title: "T", Ext: "E"}, "ring.caf", true, false, false, "ring.caf"},
		// only the title is too long: it is cut, the body stays whole.
		{"title", event.OfflinePush{Desc: "short", Title: cjk, Ext: "E"}, "ring.caf", false, true, false, "ring.caf"},
		// only the subtitle is too long.
		{"subtitle", event.OfflinePush{Desc: "short", IOS: sub(cjk)}, "ring.caf", false, false, true, "ring.caf"},
		// a large ext stays whole; the body gives way.
		{"body and large ext", event.OfflinePush{Desc: cjk, Title: "T", Ext: bigExt}, "", true, false, false, ""},
		// everything including a sound longer than a file name: it becomes "default".
		{"all", event.OfflinePush{Desc: cjk, Title: cjk, Ext: bigExt, IOS: sub(cjk)}, strings.Repeat("\x01", 256), true, true, true, "default"},
		// a long sound name that is a possible file name stays; the body is cut.
		{"long sound kept", event.OfflinePush{Desc: cjk}, strings.Repeat("s", 255), true, false, false, strings.Repeat("s", 255)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Prepare(c2c(push(tt.op)), opts)
			if p.TooLarge() {
				t.Fatal("TooLarge, want a payload that fits")
			}
			b := p.Notification("t", "topic", Style{Sound: tt.sound}, 12345).Payload
			checkFits(t, b)
			if len(b) < MaxPayload-16 {
				t.Errorf("payload cut to %d bytes, more than needed", len(b))
			}
			alert, sound, ext := apsOf(t, b)
			checkCut(t, "body", alert["body"], "Alice: "+tt.op.Desc, tt.cutBody)
			checkCut(t, "title", alert["title"], tt.op.Title, tt.cutTitle)
			if tt.op.IOS != nil {
				checkCut(t, "subtitle", alert["subtitle"], tt.op.IOS.Subtitle, tt.cutSubtitle)
			}
			checkCut(t, "ext", ext, tt.op.Ext, false)
			if sound != tt.wantSound {
				t.Errorf("sound = %q, want %q", sound, tt.wantSound)
			}
		})
	}
}

// TestTooLarge: an ext or image URL that cannot fit whole makes the message TooLarge (the
// pipeline dead-letters it); one byte less and it fits for any recipient's sound and badge.
func TestTooLarge(t *testing.T) {
	const img = "https://cdn.example.com/a.jpg"
	mk := func(extLen int) *Prepared {
		return Prepare(c2c(push(event.OfflinePush{Desc: "d", Ext: strings.Repeat("e", extLen), IOS: &event.IOS{Image: img}})), opts)
	}
	lo, hi := 0, MaxPayload // the largest ext that fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if mk(mid).TooLarge() {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	if lo < 3000 || lo > MaxPayload-len(img) {
		t.Fatalf("largest ext that fits: %d bytes", lo)
	}
	p := mk(lo)
	for _, st := range []Style{{Sound: strings.Repeat("s", 255), Passive: true}, {Preview: recipient.PreviewName}, {}} {
		b := p.Notification("t", "topic", st, math.MaxInt64).Payload
		checkFits(t, b)
		if _, _, ext := apsOf(t, b); len(ext) != lo || !strings.Contains(string(b), `"image":"`+img+`"`) {
			t.Errorf("style %+v: ext or image cut: %d bytes of ext", st, len(ext))
		}
	}
	if !mk(lo + 1).TooLarge() {
		t.Error("one byte more still fits")
	}
}

// checkCut checks that got is orig, or, when cut, a prefix of orig followed by "…".
func checkCut(t *testing.T, field, got, orig string, wantCut bool) {
	t.Helper()
	if !wantCut {
		if got != orig {
			t.Errorf("%s = %q, want it unchanged", field, got)
		}
		return
	}
	kept, ok := strings.CutSuffix(got, "…")
	if !ok || !strings.HasPrefix(orig, kept) || got == orig {
		t.Errorf("%s = %.40q…, want a prefix of the original + …", field, got)
	}
}

func TestTruncationWorstCaseIDs(t *testing.T) {
	// ids of MaxIDLen control bytes: each escapes to 6 bytes, and they are never cut.
	id := strings.Repeat("\x00", event.MaxIDLen)
	m := group(func(m *event.Message) {
		m.ID, m.Sender.UserID, m.Group.ID = id, id, id
		m.OfflinePush = &event.OfflinePush{Desc: strings.Repeat("\x02", 5000), Title: "t", Ext: "e"}
	})
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	b := Prepare(m, opts).Notification("t", "topic", Style{Sound: strings.Repeat("s", 9000)}, 1<<63-1).Payload
	checkFits(t, b)
}

func TestPayloadCache(t *testing.T) {
	p := Prepare(group(), opts)
	a := p.Notification("t1", "topic", Style{Sound: "default"}, 4).Payload
	b := p.Notification("t2", "topic", Style{Sound: "default"}, 4).Payload
	if &a[0] != &b[0] {
		t.Error("equal (sound, badge) built two payloads, want one shared slice")
	}
	if cap(a) != len(a) {
		t.Errorf("cached payload has spare capacity %d: a caller's append would write into it", cap(a)-len(a))
	}
	if c := p.Notification("t1", "topic", Style{Sound: "default"}, 5).Payload; string(c) == string(a) {
		t.Error("another badge shares the payload")
	}
	if c := p.Notification("t1", "topic", Style{Sound: "x.caf"}, 4).Payload; string(c) == string(a) {
		t.Error("another sound shares the payload")
	}
	// every negative badge is the same "no badge" payload.
	if x, y := p.Notification("t", "topic", Style{Sound: ""}, -1).Payload, p.Notification("t", "topic", Style{Sound: ""}, -7).Payload; &x[0] != &y[0] {
		t.Error("badge -1 and -7 built two payloads")
	}
}

func TestPayloadCacheBounded(t *testing.T) {
	p := Prepare(c2c(), opts)
	for badge := range int64(maxCached) {
		p.Notification("t", "topic", Style{Sound: "default"}, badge)
	}
	a := p.Notification("t", "topic", Style{Sound: "default"}, maxCached).Payload
	b := p.Notification("t", "topic", Style{Sound: "default"}, maxCached).Payload
	if &a[0] == &b[0] || string(a) != string(b) {
		t.Error("a payload past the cache limit was stored, or differs between calls")
	}
	if c, d := p.Notification("t", "topic", Style{Sound: "default"}, 7).Payload, p.Notification("t", "topic", Style{Sound: "default"}, 7).Payload; &c[0] != &d[0] {
		t.Error("a payload cached before the limit was rebuilt")
	}
}

func TestPayloadCacheConcurrent(t *testing.T) {
	p := Prepare(group(), opts)
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() {
			for badge := range int64(50) {
				got[i] = p.Notification("t", "topic", Style{Sound: "default"}, badge).Payload
			}
		})
	}
	wg.Wait()
	for _, b := range got[1:] {
		if &b[0] != &got[0][0] {
			t.Fatal("concurrent callers got different slices for the same (sound, badge)")
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "\x00\x1f\x7f", "\"\\/", "\b\f\n\r\t", "\u2027\u2028\u2029\u202a",
		"中😀", "bad\xffbyte\xc3", "\xed\xa0\x80", "\ufffd"} {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil || !utf8.Valid(b) {
			t.Errorf("appendString(%q) = %s: %v", s, b, err)
			continue
		}
		if want := string([]rune(s)); got != want {
			t.Errorf("appendString(%q) decodes to %q, want %q", s, got, want)
		}
		if n := escapedLen(s); n != len(b)-2 {
			t.Errorf("escapedLen(%q) = %d, appendString wrote %d", s, n, len(b)-2)
		}
	}
}

func TestTruncationExact(t *testing.T) {
	// the body is cut just enough: every "中" is 3 bytes, "…" is 3 bytes.
	const head, tail = `{"aps":{"alert":{"body":"`, `"},"badge":4,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`
	k := (MaxPayload - len(head) - len(tail) - len("Alice: ") - len("…")) / 3
	want := head + "Alice: " + strings.Repeat("中", k) + "…" + tail
	m := c2c(elems(event.Elem{Type: event.Text, Text: strings.Repeat("中", 2000)}))
	n, _ := Render(m, "bob", nil, &recipient.Device{Token: "t", Badge: 3}, "topic", opts, now)
	if string(n.Payload) != want {
		t.Errorf("payload of %d bytes\n got %s\nwant %s", len(n.Payload), n.Payload, want)
	}
}

// TestMessageSkip: the reasons that hold for every recipient, and nothing per-user.
func TestMessageSkip(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, event string
		want        Skip
	}{
		// A plain text is pushable whoever reads it.
		{"pushable", `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text","text":"hi"}]}`, NoSkip},
		// pushFlag noPush.
		{"no push", `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text","text":"hi"}],"offlinePush":{"pushFlag":"noPush"}}`, NoPushFlag},
		// A custom elem without desc.
		{"empty custom", `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"custom"}]}`, EmptyCustom},
		// Sent more than the 24h expiry before now.
		{"expired", `{"id":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text","text":"hi"}],"sentAt":"2026-11-24T11:00:00Z"}`, Expired},
	}
	for _, tt := range tests {
		m, err := event.Decode([]byte(tt.event))
		if err != nil {
			t.Fatal(err)
		}
		if got := Prepare(m, Options{Expiry: 24 * time.Hour}).MessageSkip(now); got != tt.want {
			t.Errorf("%s: MessageSkip = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestOneToOneAllocs: rendering a message for its one device allocates the Prepared, its
// strings, the payload and the apns-id, and no cache entry.
func TestOneToOneAllocs(t *testing.T) {
	m := benchMessage()
	n := testing.AllocsPerRun(200, func() {
		Prepare(m, opts).Notification("t", "com.example.im", Style{Sound: "default"}, 4)
	})
	if n > 9 {
		t.Errorf("Prepare and one Notification: %.0f allocations, want at most 9", n)
	}
}

// TestMinPayload: minPayload's sum equals the length of the smallest payload written whole.
func TestMinPayload(t *testing.T) {
	for _, m := range []*event.Message{
		c2c(),
		benchMessage(),
		group(elems(event.Elem{Type: event.Image}), push(event.OfflinePush{Ext: "{\"q\":\"\\u00e9\\n\"}\u2028é"})),
		c2c(push(event.OfflinePush{Ext: strings.Repeat("x", 2000)})),
	} {
		p := Prepare(m, opts)
		t0 := payloadText{body: minBody, sound: minSound, ext: p.ext, image: p.image, level: event.TimeSensitive}
		if want := len(p.appendPayload(nil, t0, 1<<63-1)); p.minPayload() != want {
			t.Errorf("%s: minPayload %d, want %d", m.ID, p.minPayload(), want)
		}
	}
}
