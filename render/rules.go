package render

import (
	"slices"
	"time"

	"offpush/event"
	"offpush/recipient"
)

// Style is how the pushes of a message look on one user's devices, decided by the user's
// settings at the time of the push.
type Style struct {
	Sound   string            // aps.sound; "" for no sound key (see Decide)
	Passive bool              // aps.interruption-level "passive": receive option silent
	Preview recipient.Preview // how much of the message the alert shows; "" is full
}

// Decide is the recipient-level decision for user userID, with settings s (nil: defaults)
// and devices registered devices of the message's kind (Targets), at time now (the time of the push, which quiet hours are
// judged against): the reason none of the user's devices gets a push, or NoSkip and the Style
// of the user's pushes. The rules and their order are in the package comment; the device
// level is SkipDevice's. The worker and `offpush render` both decide through it.
func (p *Prepared) Decide(userID string, s *recipient.Settings, devices int, now time.Time) (Style, Skip) {
	if skip := p.MessageSkip(now); skip != NoSkip {
		return Style{}, skip
	}
	switch {
	case userID == p.sender:
		return Style{}, SelfMessage
	case devices == 0:
		return Style{}, NoDevice
	case s != nil && s.OpenPush == recipient.OpenPushOff:
		return Style{}, PushDisabled
	}
	opt := p.receiveOpt(s, now)
	if p.mutes(userID, opt) {
		return Style{}, Muted
	}
	st := Style{Sound: p.sound(s)}
	if s != nil && s.Preview != recipient.PreviewFull {
		st.Preview = s.Preview
	}
	if opt == recipient.Silent {
		st.Sound, st.Passive = "", true
	}
	return st, NoSkip
}

// MessageSkip is the part of Decide that holds for every recipient alike (pushFlag noPush, an
// empty custom elem, no content, expiry), so a fan-out can skip them all without looking
// anyone up; NoSkip when the message is pushable.
func (p *Prepared) MessageSkip(now time.Time) Skip {
	if p.skip == NoSkip && !p.expiresAt.IsZero() && now.After(p.expiresAt) {
		return Expired
	}
	return p.skip
}

// SkipDevice is the device-level decision: NoDevice for a nil device, OtherKind for a token
// of the other kind (see Targets), Foreground when the device's app is in the foreground (it
// got the message over its live connection; a VoIP push rings anyway), else NoSkip.
func (p *Prepared) SkipDevice(d *recipient.Device) Skip {
	switch {
	case d == nil:
		return NoDevice
	case !p.Targets(d):
		return OtherKind
	case d.Foreground && !p.voip:
		return Foreground
	}
	return NoSkip
}

// Targets reports whether d is of the kind the message goes to: VoIP tokens for a VoIP push
// (offlinePush.ios.pushType voip), ordinary tokens otherwise. Decide counts only these
// devices.
func (p *Prepared) Targets(d *recipient.Device) bool { return (d.Kind == recipient.KindVoIP) == p.voip }

// Revoke reports whether the message is a recall: Notification is then the replacement of
// the recalled message's push, and the skip rules do not apply (the pipeline sends it only
// where the original was sent).
func (p *Prepared) Revoke() bool { return p.revoke }

// VoIP reports whether the message is a PushKit call push.
func (p *Prepared) VoIP() bool { return p.voip }

// receiveOpt is the receive option that applies to the message at now: the conversation's
// option, else the "all" option while its window (if any) holds, else receive.
func (p *Prepared) receiveOpt(s *recipient.Settings, now time.Time) recipient.ReceiveOpt {
	if s == nil || len(s.ReceiveOpts) == 0 {
		return recipient.Receive
	}
	if opt, ok := s.ReceiveOpts[p.conv]; ok {
		return opt
	}
	opt, ok := s.ReceiveOpts[recipient.AllConversations]
	if !ok || s.AllWindow != nil && !s.AllWindow.Holds(now) {
		return recipient.Receive
	}
	return opt
}

// mutes reports whether the receive option opt keeps the message from userID.
func (p *Prepared) mutes(userID string, opt recipient.ReceiveOpt) bool {
	switch opt {
	case recipient.NotReceive, recipient.NotNotify:
		return true
	case recipient.NotNotifyExceptAt, recipient.NotReceiveExceptAt:
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

// sound is the sound of the push to a user with settings s (nil: defaults): the message's
// offlinePush.ios.sound, else the user's c2cSound or groupSound by chat type, else "default".
// It returns "" (no sound key in the payload) when the chosen sound is event.NoSound.
func (p *Prepared) sound(s *recipient.Settings) string {
	snd := p.msgSound
	if snd == "" && s != nil {
		snd = s.C2CSound
		if p.group {
			snd = s.GroupSound
		}
	}
	switch snd {
	case "":
		return defaultSound
	case event.NoSound:
		return ""
	}
	return snd
}

// IgnoreBadge reports whether the message pushes without touching the badge
// (offlinePush.ios.ignoreBadge, and every VoIP push): callers then pass badge -1 to
// Notification and do not count the push in the device's badge.
func (p *Prepared) IgnoreBadge() bool { return p.noBadge || p.voip }
