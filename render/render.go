package render

import (
	"math"
	"time"

	"offpush/event"
	"offpush/recipient"
)

// Render is the one-call form of rendering, used by `offpush render`: the skip reason of the
// message m for user userID (settings s, nil: defaults) and device d (nil: the user has no
// device) at time now, or the notification to send to d with topic topic. The pipeline, which
// renders one message for many devices, calls Prepare once and Prepared.Render or the finer
// methods.
func Render(m *event.Message, userID string, s *recipient.Settings, d *recipient.Device, topic string, opts Options, now time.Time) (Notification, Skip) {
	return Prepare(m, opts).Render(userID, s, d, topic, now)
}

// Render is Decide (with one device, or none for a nil d), then SkipDevice, then Notification
// with the Style and the badge NextBadge(d.Badge), or no badge when IgnoreBadge. A device of
// the other kind (Targets) is not a target at all: OtherKind, before any other reason.
func (p *Prepared) Render(userID string, s *recipient.Settings, d *recipient.Device, topic string, now time.Time) (Notification, Skip) {
	devices := 1
	switch {
	case d == nil:
		devices = 0
	case !p.Targets(d):
		return Notification{}, OtherKind
	}
	st, skip := p.Decide(userID, s, devices, now)
	if skip != NoSkip {
		return Notification{}, skip
	}
	if skip := p.SkipDevice(d); skip != NoSkip {
		return Notification{}, skip
	}
	badge := int64(-1)
	if !p.IgnoreBadge() {
		badge = NextBadge(d.Badge)
	}
	return p.Notification(d.Token, topic, st, badge), NoSkip
}

// NextBadge is the badge a push carries to a device whose current badge is current: one more,
// counting a negative (corrupt) count as 0 and never overflowing.
func NextBadge(current int64) int64 {
	if current < 0 {
		return 1
	}
	if current == math.MaxInt64 {
		return current
	}
	return current + 1
}
