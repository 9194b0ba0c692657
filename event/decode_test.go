package event

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const valid = `{"id":"m1","chatType":"group","sender":{"userId":"alice","nickname":"Alice","groupNameCard":"Ali"},
"group":{"id":"g-42","name":"Hiking"},"recipients":["bob","carol"],
"elems":[{"type":"text","text":"see you at 8"},{"type":"image"},{"type":"custom","desc":"Payment received","data":"x"}],
"atUserIds":["carol"],"atAll":false,
"offlinePush":{"title":"T","desc":"D","ext":"E","pushFlag":"default","ios":{"sound":"ring.caf","ignoreBadge":true},"android":{"title":"a","sound":"s","notifyMode":"normal"}},
"sentAt":"2026-11-25T10:00:00Z","someFutureField":{"x":1}}`

func TestDecodeValid(t *testing.T) {
	m, err := Decode([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "m1" || m.ChatType != Group || m.Group.ID != "g-42" || m.Group.Name != "Hiking" {
		t.Errorf("header fields: %+v", m)
	}
	if m.Sender != (Sender{UserID: "alice", Nickname: "Alice", GroupNameCard: "Ali"}) {
		t.Errorf("sender: %+v", m.Sender)
	}
	if strings.Join(m.Recipients, ",") != "bob,carol" || len(m.Elems) != 3 || m.Elems[2].Desc != "Payment received" {
		t.Errorf("recipients/elems: %+v %+v", m.Recipients, m.Elems)
	}
	p := m.OfflinePush
	if p.Title != "T" || p.Desc != "D" || p.Ext != "E" || p.PushFlag != PushDefault || p.IOS.Sound != "ring.caf" || !p.IOS.IgnoreBadge || p.Android.NotifyMode != "normal" {
		t.Errorf("offlinePush: %+v", p)
	}
	if !m.SentAt.Equal(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("sentAt: %v", m.SentAt)
	}
	if m.ConversationID() != "group:g-42" || !m.IsMentioned("carol") || m.IsMentioned("bob") {
		t.Errorf("conversation/mentions wrong")
	}
}

func TestDecodeErrors(t *testing.T) {
	base := func(repl ...string) string { return strings.NewReplacer(repl...).Replace(valid) }
	tests := []struct {
		name, in, want string
	}{
		// Producer bugs: bytes that are not JSON at all.
		{"malformed", `{"id":`, "malformed JSON"},
		{"not an object", `["x"]`, "not a JSON object"},
		{"empty", ``, "not a JSON object"},
		// encoding/json would turn these into U+FFFD silently.
		{"invalid utf8", "{\"id\":\"m\xff1\"}", "invalid UTF-8 at byte 8"},
		// Wrong JSON types name the field.
		{"recipients wrong type", base(`"recipients":["bob","carol"]`, `"recipients":"bob"`), "recipients: want array, got string"},
		{"id wrong type", base(`"id":"m1"`, `"id":7`), "id: want string, got number"},
		{"elem text wrong type", base(`"text":"see you at 8"`, `"text":8`), "elems.text: want string, got number"},
		{"atAll wrong type", base(`"atAll":false`, `"atAll":"no"`), "atAll: want bool, got string"},
		{"sdkAppId in exponent form", base(`"id":"m1"`, `"id":"m1","sdkAppId":1e3`), "sdkAppId: want an integer, got number 1e3"},
		{"sdkAppId a string", base(`"id":"m1"`, `"id":"m1","sdkAppId":"1400"`), "sdkAppId: want an integer, got string"},
		{"sentAt not RFC 3339", base(`"2026-11-25T10:00:00Z"`, `"yesterday"`), "sentAt: want an RFC 3339 time"},
		// Required fields.
		{"missing id", base(`"id":"m1",`, ``), "id: required"},
		{"missing chatType", base(`"chatType":"group",`, ``), "chatType: required"},
		{"unknown chatType", base(`"chatType":"group"`, `"chatType":"room"`), `chatType: unknown "room"`},
		{"missing sender", base(`"userId":"alice",`, ``), "sender.userId: required"},
		{"group without group", base(`"group":{"id":"g-42","name":"Hiking"},`, ``), "group: required for chatType group"},
		{"group without id", base(`"id":"g-42",`, ``), "group.id: required"},
		{"empty recipients", base(`"recipients":["bob","carol"]`, `"recipients":[]`), "recipients: must not be empty"},
		{"empty recipient id", base(`"recipients":["bob","carol"]`, `"recipients":["bob",""]`), "recipients[1]: required"},
		{"no elems", base(`"elems":[{"type":"text","text":"see you at 8"},{"type":"image"},{"type":"custom","desc":"Payment received","data":"x"}]`, `"elems":[]`), "elems: must not be empty"},
		{"unknown elem", base(`{"type":"image"}`, `{"type":"xyz"}`), `elems[1].type: unknown "xyz"`},
		{"elem without type", base(`{"type":"image"}`, `{}`), `elems[1].type: required`},
		{"bad pushFlag", base(`"pushFlag":"default"`, `"pushFlag":"loud"`), `offlinePush.pushFlag: unknown "loud"`},
		{"bad priority", base(`"pushFlag":"default"`, `"pushFlag":"default","priority":"urgent"`), `offlinePush.priority: unknown "urgent" (want high or normal)`},
		{"priority number", base(`"pushFlag":"default"`, `"pushFlag":"default","priority":10`), `offlinePush.priority`},
		{"bad pushType", base(`"ignoreBadge":true`, `"ignoreBadge":true,"pushType":"pushkit"`), `offlinePush.ios.pushType: unknown "pushkit" (want apns or voip)`},
		{"bad interruptionLevel", base(`"ignoreBadge":true`, `"ignoreBadge":true,"interruptionLevel":"urgent"`), `offlinePush.ios.interruptionLevel: unknown "urgent" (want passive, active, time-sensitive or critical)`},
		{"image not a URL", base(`"ignoreBadge":true`, `"ignoreBadge":true,"image":"a.jpg"`), `offlinePush.ios.image: want an absolute http or https URL`},
		{"image ftp", base(`"ignoreBadge":true`, `"ignoreBadge":true,"image":"ftp://cdn.example.com/a.jpg"`), `offlinePush.ios.image: want an absolute http or https URL`},
		{"image too long", base(`"ignoreBadge":true`, `"ignoreBadge":true,"image":"https://cdn.example.com/`+strings.Repeat("a", MaxImageURLLen)+`"`), `offlinePush.ios.image: longer than 1024 bytes`},
		{"backgroundNotification string", base(`"ignoreBadge":true`, `"ignoreBadge":true,"backgroundNotification":"yes"`), `offlinePush.ios.backgroundNotification`},
		{"id too long", base(`"id":"m1"`, `"id":"`+strings.Repeat("x", MaxIDLen+1)+`"`), "id: longer than 256 bytes"},
		{"too many recipients", base(`"recipients":["bob","carol"]`, `"recipients":[`+strings.Repeat(`"u",`, MaxRecipients)+`"u"]`), "recipients: 100001 entries, at most 100000 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("error %T is not *event.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDecodeC2CNeedsNoGroup(t *testing.T) {
	m, err := Decode([]byte(`{"id":"m2","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"voice"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.ConversationID() != "c2c:alice" || m.Key() != "c2c:alice:bob" || !m.SentAt.IsZero() {
		t.Errorf("conv %q key %q sentAt %v", m.ConversationID(), m.Key(), m.SentAt)
	}
}

func TestNarrow(t *testing.T) {
	m, err := Decode([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	n := m.Narrow("carol")
	if len(n.Recipients) != 1 || n.Recipients[0] != "carol" || !n.IsMentioned("carol") || len(n.AtUserIDs) != 1 {
		t.Errorf("narrow carol: %+v", n)
	}
	if b := m.Narrow("bob"); b.IsMentioned("bob") || len(b.AtUserIDs) != 0 {
		t.Errorf("narrow bob: %+v", b)
	}
	if len(m.Recipients) != 2 {
		t.Errorf("Narrow changed the original")
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(valid)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeSDKOptions: the newer SDK's push options decode into their fields.
func TestDecodeSDKOptions(t *testing.T) {
	m, err := Decode([]byte(`{"id":"m3","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"hi"}],
"offlinePush":{"priority":"normal","ios":{"pushType":"voip","image":"https://cdn.example.com/a.jpg","subtitle":"S",
"interruptionLevel":"time-sensitive","backgroundNotification":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := IOS{PushType: PushVoIP, Image: "https://cdn.example.com/a.jpg", Subtitle: "S", InterruptionLevel: TimeSensitive, BackgroundNotification: true}
	if m.OfflinePush.Priority != PriorityNormal || *m.OfflinePush.IOS != want {
		t.Errorf("offlinePush %+v, ios %+v", m.OfflinePush, m.OfflinePush.IOS)
	}
}

// TestDecodeRevoke: a revoke needs revokes instead of elems; a message may not carry revokes.
func TestDecodeRevoke(t *testing.T) {
	m, err := Decode([]byte(`{"id":"r-9","kind":"revoke","revokes":"m-42","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],"sentAt":"2026-11-25T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !m.IsRevoke() || m.Revokes != "m-42" {
		t.Errorf("revoke %+v", m)
	}
	for _, c := range []struct{ in, want string }{
		{`{"id":"r","kind":"revoke","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"]}`, "revokes: required"},
		{`{"id":"r","kind":"revoke","revokes":"r","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"]}`, "revokes: a revoke cannot recall itself"},
		{`{"id":"r","kind":"recall","revokes":"m","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"]}`, `kind: unknown "recall" (want message or revoke)`},
		{`{"id":"m","revokes":"x","chatType":"c2c","sender":{"userId":"a"},"recipients":["b"],"elems":[{"type":"text"}]}`, "revokes: only in a revoke (kind revoke)"},
		{`{"id":"r","kind":"revoke","revokes":"m","chatType":"c2c","sender":{"userId":"a"}}`, "recipients: must not be empty"},
	} {
		if _, err := Decode([]byte(c.in)); err == nil || err.Error() != c.want {
			t.Errorf("Decode(%s) = %v, want %q", c.in, err, c.want)
		}
	}
}

// TestDecodeCaseVariantKeys: a key that differs from a field's name only in case, or by a
// Unicode look-alike, is refused and named, wherever it is; it is never taken for the field.
// Unknown keys, and field names of another level, are still ignored.
func TestDecodeCaseVariantKeys(t *testing.T) {
	base := `"id":"m1","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"hi"}]`
	for _, c := range []struct {
		name, doc, want string
	}{
		{"upper id", `{` + base + `,"ID":42}`, "ID: unknown field that differs from id only in case: field names are case-sensitive"},
		{"id only in upper case", `{"ID":"m1","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"hi"}]}`,
			"ID: unknown field that differs from id only in case: field names are case-sensitive"},
		{"kelvin sign", `{` + base + `,"` + "\u212a" + `ind":"revoke","revokes":"m0"}`, "\u212aind: unknown field that differs from kind only in case: field names are case-sensitive"},
		{"escaped kelvin sign", `{` + base + `,"\u212aind":"revoke"}`, "\u212aind: unknown field that differs from kind only in case: field names are case-sensitive"},
		{"nested", `{"id":"m1","chatType":"c2c","sender":{"userId":"alice","NickName":"A"},"recipients":["bob"],"elems":[{"type":"text","text":"hi"}]}`,
			"NickName: unknown field that differs from nickname only in case: field names are case-sensitive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode([]byte(c.doc))
			if err == nil || err.Error() != c.want {
				t.Errorf("Decode error %v, want %q", err, c.want)
			}
		})
	}
	for _, doc := range []string{
		`{` + base + `,"traceId":"x","text":"a top-level text is unknown here"}`,
		`{` + base + `,"note":"a value \"ID\": with a key-like string inside"}`,
	} {
		if _, err := Decode([]byte(doc)); err != nil {
			t.Errorf("Decode(%s): %v", doc, err)
		}
	}
}
