package render

import (
	"strings"
	"testing"

	"offpush/event"
	"offpush/recipient"
)

// TestSDKOptions: the newer SDK's push options as exact payloads and apns-priority.
func TestSDKOptions(t *testing.T) {
	const img = "https://cdn.example.com/a.jpg"
	ios := func(i event.IOS) func(*event.Message) {
		return push(event.OfflinePush{IOS: &i})
	}
	tests := []struct {
		name     string
		msg      *event.Message
		style    Style
		priority int
		want     string
	}{
		{"priority normal", c2c(push(event.OfflinePush{Priority: event.PriorityNormal})), Style{Sound: "default"}, 5,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"priority high", c2c(push(event.OfflinePush{Priority: event.PriorityHigh})), Style{Sound: "default"}, 10,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"image", c2c(ios(event.IOS{Image: img})), Style{Sound: "default"}, 10,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"sound":"default","mutable-content":1,"thread-id":"alice"},"image":"` + img + `","conv":"c2c:alice"}`},
		{"subtitle", c2c(push(event.OfflinePush{Title: "T", IOS: &event.IOS{Subtitle: "S"}})), Style{Sound: "default"}, 10,
			`{"aps":{"alert":{"title":"T","subtitle":"S","body":"Alice: see you at 8"},"badge":3,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"time-sensitive", c2c(ios(event.IOS{InterruptionLevel: event.TimeSensitive})), Style{Sound: "default"}, 10,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"sound":"default","interruption-level":"time-sensitive","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"background", c2c(ios(event.IOS{BackgroundNotification: true})), Style{Sound: "default"}, 10,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"sound":"default","content-available":1,"thread-id":"alice"},"conv":"c2c:alice"}`},
		// the user's silent option wins over the message's level.
		{"silent beats critical", c2c(ios(event.IOS{InterruptionLevel: event.Critical})), Style{Passive: true}, 10,
			`{"aps":{"alert":{"body":"Alice: see you at 8"},"badge":3,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`},
		// preview none drops subtitle and image; ext stays.
		{"preview none", c2c(push(event.OfflinePush{Title: "T", Ext: "e", IOS: &event.IOS{Subtitle: "S", Image: img}})), Style{Sound: "default", Preview: recipient.PreviewNone}, 10,
			`{"aps":{"alert":{"body":"You have a new message"},"badge":3,"sound":"default","thread-id":"alice"},"ext":"e","conv":"c2c:alice"}`},
		// preview name keeps title, subtitle and image: only the content is replaced.
		{"preview name", c2c(push(event.OfflinePush{IOS: &event.IOS{Subtitle: "S", Image: img}})), Style{Sound: "default", Preview: recipient.PreviewName}, 10,
			`{"aps":{"alert":{"subtitle":"S","body":"Alice: New message"},"badge":3,"sound":"default","mutable-content":1,"thread-id":"alice"},"image":"` + img + `","conv":"c2c:alice"}`},
		{"everything", c2c(push(event.OfflinePush{Title: "T", Ext: "e", Priority: event.PriorityNormal, IOS: &event.IOS{Sound: "ring.caf", Subtitle: "S", Image: img,
			InterruptionLevel: event.Active, BackgroundNotification: true}})), Style{Sound: "ring.caf"}, 5,
			`{"aps":{"alert":{"title":"T","subtitle":"S","body":"Alice: see you at 8"},"badge":3,"sound":"ring.caf","interruption-level":"active","content-available":1,"mutable-content":1,"thread-id":"alice"},"ext":"e","image":"` + img + `","conv":"c2c:alice"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Prepare(tt.msg, opts).Notification("t", "com.example.im", tt.style, 3)
			if string(n.Payload) != tt.want {
				t.Errorf("payload\n got %s\nwant %s", n.Payload, tt.want)
			}
			if n.Priority != tt.priority {
				t.Errorf("apns-priority %d, want %d", n.Priority, tt.priority)
			}
		})
	}
}

// TestVoIP: a pushType voip message goes only to VoIP tokens, with the PushKit headers and
// payload, ringing also when the app is in the foreground; an ordinary message never goes to
// a VoIP token; quiet hours still hold a call back.
func TestVoIP(t *testing.T) {
	call := func(edits ...func(*event.Message)) *event.Message {
		first := push(event.OfflinePush{Ext: `{"room":7}`, IOS: &event.IOS{PushType: event.PushVoIP, Sound: "ring.caf"}})
		return c2c(append([]func(*event.Message){first}, edits...)...)
	}
	voipDev := &recipient.Device{Token: "vv", Kind: recipient.KindVoIP, Badge: 4, Foreground: true}
	n, skip := Render(call(), "bob", nil, voipDev, "com.example.im", opts, now)
	if skip != NoSkip {
		t.Fatalf("call to a VoIP token: skip %q", skip)
	}
	want := Notification{ID: APNsID("m1", "vv"), Token: "vv", Topic: "com.example.im.voip", PushType: "voip", Priority: 10, CollapseID: "m1",
		Payload: []byte(`{"aps":{},"conv":"c2c:alice","msgId":"m1","from":"Alice","ext":"{\"room\":7}"}`)}
	if n.ID != want.ID || n.Topic != want.Topic || n.PushType != want.PushType || n.Priority != want.Priority ||
		!n.Expiration.IsZero() || n.CollapseID != want.CollapseID || string(n.Payload) != string(want.Payload) {
		t.Errorf("VoIP notification\n got %+v %s\nwant %+v %s", n, n.Payload, want, want.Payload)
	}
	// group: from is the name card; no nickname and no card: the user id.
	g, _ := Render(group(func(m *event.Message) { m.OfflinePush = &event.OfflinePush{IOS: &event.IOS{PushType: event.PushVoIP}} }), "bob", nil, voipDev, "t", opts, now)
	if string(g.Payload) != `{"aps":{},"conv":"group:g-42","msgId":"m1","from":"Ali"}` {
		t.Errorf("group call payload %s", g.Payload)
	}
	anon, _ := Render(call(func(m *event.Message) { m.Sender.Nickname = "" }), "bob", nil, voipDev, "t", opts, now)
	if !strings.Contains(string(anon.Payload), `"from":"alice"`) {
		t.Errorf("call without a nickname: %s", anon.Payload)
	}

	ordinary := &recipient.Device{Token: "aa"}
	for _, c := range []struct {
		name string
		msg  *event.Message
		s    *recipient.Settings
		d    *recipient.Device
		want Skip
	}{
		{"call to an ordinary token", call(), nil, ordinary, OtherKind},
		{"message to a VoIP token", c2c(), nil, voipDev, OtherKind},
		{"call in quiet hours", call(), quiet(recipient.NotNotify, nil), voipDev, Muted},
		{"call with push off", call(), &recipient.Settings{OpenPush: recipient.OpenPushOff}, voipDev, PushDisabled},
		{"call, noPush", call(func(m *event.Message) { m.OfflinePush.PushFlag = event.NoPush }), nil, voipDev, NoPushFlag},
		{"silent user still rings", call(), opt("all", recipient.Silent), voipDev, NoSkip},
	} {
		if _, got := Render(c.msg, "bob", c.s, c.d, "t", opts, now); got != c.want {
			t.Errorf("%s: skip %q, want %q", c.name, got, c.want)
		}
	}
	if p := Prepare(call(), opts); !p.IgnoreBadge() || !p.VoIP() {
		t.Error("a call counts the badge")
	}
	huge := call(func(m *event.Message) { m.OfflinePush.Ext = strings.Repeat("e", MaxVoIPPayload) })
	if !Prepare(huge, opts).TooLarge() {
		t.Error("a VoIP payload over 5120 bytes is not TooLarge")
	}
}

// TestRecallNotification: a recall's replacement, as exact payloads: the recalled message's
// collapse id, the sender's recall text, passive, no sound, the badge passed in.
func TestRecallNotification(t *testing.T) {
	rev := func(m *event.Message) {
		m.ID, m.Kind, m.Revokes, m.Elems = "r-9", event.KindRevoke, "m-42", nil
	}
	for _, c := range []struct {
		name  string
		msg   *event.Message
		opts  Options
		badge int64
		want  string
	}{
		{"c2c", c2c(rev), opts, 3, `{"aps":{"alert":{"body":"Alice recalled a message"},"badge":3,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"group, no badge", group(rev), opts, -1, `{"aps":{"alert":{"body":"Ali (Hiking) recalled a message"},"interruption-level":"passive","thread-id":"g-42"},"conv":"group:g-42"}`},
		{"no nickname", c2c(rev, func(m *event.Message) { m.Sender.Nickname = "" }), opts, 0,
			`{"aps":{"alert":{"body":"alice recalled a message"},"badge":0,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"server text", c2c(rev), Options{Recalled: "撤回了一条消息"}, 1,
			`{"aps":{"alert":{"body":"Alice 撤回了一条消息"},"badge":1,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`},
		{"loc-keys", c2c(rev), Options{LocKeys: true}, 1,
			`{"aps":{"alert":{"loc-key":"OFFPUSH_RECALLED_FROM","loc-args":["Alice"]},"badge":1,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}`},
	} {
		n := Prepare(c.msg, c.opts).Notification("tok", "com.example.im", Style{Sound: "default"}, c.badge)
		if string(n.Payload) != c.want || n.CollapseID != "m-42" || n.ID != APNsID("r-9", "tok") || n.PushType != "alert" {
			t.Errorf("%s: %+v\n got %s\nwant %s", c.name, n, n.Payload, c.want)
		}
	}
	if s := Prepare(c2c(rev), opts).MessageSkip(now); s != NoSkip {
		t.Errorf("a recall skips as %q", s)
	}
}
