package render

import (
	"testing"

	"offpush/event"
)

// benchMessage is a typical group message: text and an image, a title, an ext.
func benchMessage() *event.Message {
	return group(
		elems(event.Elem{Type: event.Text, Text: "see you at 8 at the trailhead, bring water"}, event.Elem{Type: event.Image}),
		push(event.OfflinePush{Title: "Hiking", Ext: `{"route":"/chat/g-42"}`}),
	)
}

func BenchmarkPrepare(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		Prepare(m, opts)
	}
}

// BenchmarkNotificationCached is the fan-out case: the payload for (sound, badge) exists.
func BenchmarkNotificationCached(b *testing.B) {
	p := Prepare(benchMessage(), opts)
	p.Notification("t", "com.example.im", Style{Sound: "default"}, 4)
	b.ReportAllocs()
	for b.Loop() {
		p.Notification("t", "com.example.im", Style{Sound: "default"}, 4)
	}
}

// BenchmarkNotificationUncached builds and stores a new payload every time.
func BenchmarkNotificationUncached(b *testing.B) {
	p := Prepare(benchMessage(), opts)
	b.ReportAllocs()
	var badge int64
	for b.Loop() {
		if badge++; badge == 1024 {
			badge = 0
			p.payloads.Clear()
			p.cached.Store(0)
		}
		p.Notification("t", "com.example.im", Style{Sound: "default"}, badge)
	}
}

// BenchmarkOneToOne is a message with one recipient device: Prepare, then its one payload.
func BenchmarkOneToOne(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		Prepare(m, opts).Notification("t", "com.example.im", Style{Sound: "default"}, 4)
	}
}
