package render

import (
	"testing"

	"offpush/event"
	"offpush/presence"
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
		{"preview none", c2c(push(event.OfflinePush{Title: "T", Ext: "e", IOS: &event.IOS{Subtitle: "S", Image: img}})), Style{Sound: "default", Preview: presence.PreviewNone}, 10,
			`{"aps":{"alert":{"body":"You have a new message"},"badge":3,"sound":"default","thread-id":"alice"},"ext":"e","conv":"c2c:alice"}`},
		// preview name keeps title, subtitle and image: only the content is replaced.
		{"preview name", c2c(push(event.OfflinePush{IOS: &event.IOS{Subtitle: "S", Image: img}})), Style{Sound: "default", Preview: presence.PreviewName}, 10,
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
