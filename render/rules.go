package render

import (
	"slices"
	"time"

	"offpush/event"
	"offpush/presence"
)

// allConversations is the receive-option key of the user's global option.
const allConversations = "all"

// Skip is the per-recipient decision: the reason userID, with settings s (nil: defaults), gets
// no push of the message at time now, or NoSkip. The checks and their order are in the package
// comment; device-level reasons are SkipDevice's.
func (p *Prepared) Skip(userID string, s *presence.Settings, now time.Time) Skip {
	switch {
	case userID == p.sender:
		return SelfMessage
	case p.skip != NoSkip:
		return p.skip
	case s != nil && s.OpenPush == presence.OpenPushOff:
		return PushDisabled
	case p.muted(userID, s):
		return Muted
	case !p.expiresAt.IsZero() && now.After(p.expiresAt):
		return Expired
	}
	return NoSkip
}

// MessageSkip is the part of Skip that holds for every recipient alike (pushFlag noPush, an
// empty custom elem, no content, expiry), so a fan-out can skip them all without looking
// anyone up; NoSkip when the message is pushable.
func (p *Prepared) MessageSkip(now time.Time) Skip {
	if p.skip == NoSkip && !p.expiresAt.IsZero() && now.After(p.expiresAt) {
		return Expired
	}
	return p.skip
}

// SkipDevice is the device-level decision: NoDevice for a nil device, Foreground when the
// device's app is in the foreground (it got the message over its live connection), else NoSkip.
func (p *Prepared) SkipDevice(d *presence.Device) Skip {
	switch {
	case d == nil:
		return NoDevice
	case d.Foreground:
		return Foreground
	}
	return NoSkip
}

// muted applies the receive options: the conversation's option, else "all", else receive.
func (p *Prepared) muted(userID string, s *presence.Settings) bool {
	if s == nil || len(s.ReceiveOpts) == 0 {
		return false
	}
	opt, ok := s.ReceiveOpts[p.conv]
	if !ok {
		opt = s.ReceiveOpts[allConversations]
	}
	switch opt {
	case presence.NotReceive, presence.NotNotify:
		return true
	case presence.NotNotifyExceptAt:
		return !p.group || !p.mentioned(userID)
	}
	return false
}

// mentioned is event.Message.IsMentioned over the prepared mention list.
func (p *Prepared) mentioned(userID string) bool {
	if p.atAll {
		return true
	}
	if p.atSet != nil {
		_, ok := p.atSet[userID]
		return ok
	}
	return slices.Contains(p.atUsers, userID)
}

// Sound is the sound of the push to a user with settings s (nil: defaults): the message's
// offlinePush.ios.sound, else the user's c2cSound or groupSound by chat type, else "default".
// It returns "" (no sound key in the payload) when the chosen sound is event.NoSound.
func (p *Prepared) Sound(s *presence.Settings) string {
	snd := p.msgSound
	if snd == "" && s != nil {
		snd = s.C2CSound
		if p.group {
			snd = s.GroupSound
		}
	}
	switch snd {
	case "":
		return "default"
	case event.NoSound:
		return ""
	}
	return snd
}

// IgnoreBadge reports whether the message asks to push without touching the badge
// (offlinePush.ios.ignoreBadge): callers then pass badge -1 to Notification and do not
// count the push in the device's badge.
func (p *Prepared) IgnoreBadge() bool { return p.noBadge }
