package render

import (
	"cmp"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"offpush/event"
	"offpush/recipient"
)

// FuzzRender checks that every valid message renders to a payload that is valid JSON and valid
// UTF-8 within MaxPayload, whose strings decode to the rendered ones (or a cut of them).
func FuzzRender(f *testing.F) {
	f.Add(false, "m1", "Alice", "", "", "see you at 8", uint16(1), "", "", "", "", int64(3))
	f.Add(true, "m2", "Alice", "Ali", "Hiking", "中文😀\n", uint16(700), "title", "", `{"k":"v"}`, "ring.caf", int64(-1))
	f.Add(true, strings.Repeat("\x00", 256), "\u2028", "\"", "\\", "\x01\xff", uint16(3000), "中", "😀", "\u2029", event.NoSound, int64(1<<63-1))
	f.Add(false, "m3", "", "", "", "", uint16(0), "t", "desc", "ext", strings.Repeat("é", 300), int64(0))
	f.Fuzz(func(t *testing.T, isGroup bool, id, nick, card, gname, text string, repeat uint16,
		title, desc, ext, sound string, badge int64) {
		m := &event.Message{
			ID: id, ChatType: event.C2C, Recipients: []string{"bob"},
			Sender:      event.Sender{UserID: cutID(nick + id), Nickname: nick, GroupNameCard: card},
			Elems:       []event.Elem{{Type: event.Text, Text: strings.Repeat(text, int(repeat%3000))}, {Type: event.Image}},
			OfflinePush: &event.OfflinePush{Title: title, Desc: desc, Ext: ext, IOS: &event.IOS{Sound: sound}},
		}
		if isGroup {
			m.ChatType, m.Group = event.Group, &event.GroupInfo{ID: cutID(gname + id), Name: gname}
		}
		if m.Validate() != nil {
			return
		}
		p := Prepare(m, opts)
		loc := opts
		loc.LocKeys = true
		for _, q := range []*Prepared{p, Prepare(m, loc)} {
			for _, st := range []Style{{Sound: q.sound(nil)}, {Preview: recipient.PreviewName, Passive: true}, {Sound: sound, Preview: recipient.PreviewNone}} {
				checkPayload(t, q, q.text(st), q.Notification("t", "topic", st, badge).Payload)
			}
		}
		s := &recipient.Settings{C2CSound: sound, GroupSound: sound}
		n, _ := p.Render("bob", s, &recipient.Device{Token: "t", Badge: badge}, "topic", now)
		if n.Payload != nil {
			checkPayload(t, p, p.text(Style{Sound: p.sound(s)}), n.Payload)
		}
	})
}

// cutID shortens s to a valid id length.
func cutID(s string) string { return cmp.Or(s[:min(len(s), event.MaxIDLen)], "u") }

// checkPayload checks that b is valid, fits, and carries thread-id, conv and the alert of want
// whole or cut.
func checkPayload(t *testing.T, p *Prepared, want payloadText, b []byte) {
	t.Helper()
	if len(b) > MaxPayload || !utf8.Valid(b) || !json.Valid(b) {
		t.Fatalf("payload of %d bytes, valid UTF-8 %v, valid JSON %v: %q", len(b), utf8.Valid(b), json.Valid(b), b)
	}
	var got struct {
		APS struct {
			Alert struct {
				Body   string `json:"body"`
				LocKey string `json:"loc-key"`
			} `json:"alert"`
			ThreadID string `json:"thread-id"`
		} `json:"aps"`
		Conv string `json:"conv"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if valid := string([]rune(p.threadID)); got.APS.ThreadID != valid || got.Conv != string([]rune(p.conv)) {
		t.Fatalf("thread-id %q conv %q, want %q %q", got.APS.ThreadID, got.Conv, valid, p.conv)
	}
	if got.APS.Alert.LocKey != want.locKey {
		t.Fatalf("loc-key %q, want %q", got.APS.Alert.LocKey, want.locKey)
	}
	body, valid := got.APS.Alert.Body, string([]rune(want.body))
	if kept, cut := strings.CutSuffix(body, ellipsis); body != valid && (!cut || !strings.HasPrefix(valid, kept)) {
		t.Fatalf("body %q is not %q or a cut of it", body, valid)
	}
}
