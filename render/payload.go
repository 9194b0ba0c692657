package render

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"offpush/event"
	"offpush/recipient"
)

// APNs header values offpush always sends (Apple, "Sending notification requests to APNs").
const (
	// PushTypeAlert is apns-push-type for a notification that shows an alert.
	PushTypeAlert = "alert"
	// PushTypeVoIP is apns-push-type for a PushKit call push.
	PushTypeVoIP = "voip"
	// voipTopicSuffix makes a bundle id the apns-topic of its VoIP pushes.
	voipTopicSuffix = ".voip"
	// PriorityImmediate is apns-priority 10: deliver immediately.
	PriorityImmediate = 10
	// PriorityConserve is apns-priority 5: deliver when it saves the device's power
	// (offlinePush.priority "normal").
	PriorityConserve = 5
)

// maxCached is the most (style, badge) payloads one Prepared keeps, about 1 MB.
const maxCached = 4096

// payloadOverhead is the length of the payload's fixed keys and punctuation, rounded up.
const payloadOverhead = 128

// ellipsis ends a string cut to fit MaxPayload.
const ellipsis = "…"

// maxSound is the longest sound name, escaped, kept in a payload that must be shortened: a
// file name has at most 255 bytes, a longer "name" cannot be a sound file.
const maxSound = 255

// defaultSound is the aps.sound value that plays the system's default sound.
const defaultSound = "default"

// Notification builds the APNs request of the message for one device: token, topic (the
// certificate's bundle id), the user's Style (see Decide) and badge (the aps.badge number;
// pass a negative badge to leave the key out, see IgnoreBadge). The payload bytes are built
// once per (style, badge) and shared by every call with the same pair (for the first 4096
// pairs of a message; more are built per call): callers must not modify Notification.Payload.
func (p *Prepared) Notification(token, topic string, st Style, badge int64) Notification {
	if p.revoke {
		return p.revokeNotification(token, topic, badge)
	}
	if p.voip {
		return p.voipNotification(token, topic)
	}
	return Notification{
		ID:         APNsID(p.msgID, token),
		Token:      token,
		Topic:      topic,
		PushType:   PushTypeAlert,
		Priority:   p.priority,
		Expiration: p.expiresAt,
		CollapseID: p.collapseID,
		Payload:    p.payload(st, badge),
	}
}

// Expiration is the apns-expiration of the message's pushes; zero means none.
func (p *Prepared) Expiration() time.Time { return p.expiresAt }

// payload returns the cached payload for (st, badge), building it on first use. Past
// maxCached pairs it builds without storing, so one message's cache stays bounded. The first
// payload built is kept in p.first, the others in p.payloads, which stays empty (and is never
// initialized) until a second one is built.
func (p *Prepared) payload(st Style, badge int64) []byte {
	key := payloadKey{style: st, badge: max(badge, -1)}
	first := p.first.Load()
	if first == nil {
		b := p.buildPayload(st, key.badge)
		if p.first.CompareAndSwap(nil, &firstPayload{key: key, b: b}) {
			p.cached.Add(1)
			return b // a one-to-one message's only payload: no map entry
		}
		if first = p.first.Load(); first.key == key {
			return first.b
		}
		return p.store(key, b)
	}
	if first.key == key {
		return first.b
	}
	if b, ok := p.payloads.Load(key); ok {
		return b.([]byte)
	}
	return p.store(key, p.buildPayload(st, key.badge))
}

// store caches b as the payload of key unless maxCached are cached, and returns the cached
// one (another goroutine may have stored it first).
func (p *Prepared) store(key payloadKey, b []byte) []byte {
	if p.cached.Load() >= maxCached {
		return b
	}
	v, loaded := p.payloads.LoadOrStore(key, b)
	if !loaded {
		p.cached.Add(1)
	}
	return v.([]byte)
}

// firstPayload is the first payload a Prepared built, kept apart from its map: most messages
// have one recipient device, hence one payload.
type firstPayload struct {
	key payloadKey
	b   []byte
}

// payloadText holds the strings of a payload; those that may be cut to fit MaxPayload are
// title, subtitle, body, locArg and sound. ext and image are never cut.
type payloadText struct {
	title, subtitle, body, sound string
	ext, image                   string
	locKey, locArg               string // loc-key replaces body; locArg its one loc-arg, if any
	level                        event.InterruptionLevel
}

// text is the alert of the message in style st: the preview's texts, as strings or, under
// Options.LocKeys, as loc-keys.
func (p *Prepared) text(st Style) payloadText {
	t := payloadText{title: p.title, subtitle: p.subtitle, body: p.body, ext: p.ext, image: p.image, sound: st.Sound, level: p.level}
	if st.Passive {
		t.level = event.Passive
	}
	key := p.elemKey
	switch st.Preview {
	case recipient.PreviewName:
		key, t.body = locNewMessage, p.previewName
		if p.from != "" {
			t.body = p.from + ": " + p.previewName
		}
	case recipient.PreviewNone:
		t.title, t.subtitle, t.image, t.body = "", "", "", p.previewNone
		if p.locKeys {
			t.body, t.locKey = "", locPreviewNone
		}
		return t
	}
	if p.locKeys && key != "" {
		t.body, t.locKey = "", key
		if p.from != "" {
			t.locKey, t.locArg = key+fromSuffix, p.from
		}
	}
	return t
}

// buildPayload writes the payload, shortened to MaxPayload as the package comment says.
func (p *Prepared) buildPayload(st Style, badge int64) []byte {
	t := p.text(st)
	size := payloadOverhead + len(t.title) + len(t.subtitle) + len(t.body) + len(t.ext) + len(t.image) + len(t.sound) +
		len(t.locKey) + len(t.locArg) + len(p.threadID) + len(p.conv)
	b := p.appendPayload(make([]byte, 0, size), t, badge)
	if len(b) > MaxPayload {
		t = t.shorten(len(b) - MaxPayload)
		b = p.appendPayload(b[:0], t, badge)
	}
	return slices.Clip(b) // a caller's append must not write into the shared array
}

// shorten makes the escaped strings at least excess bytes shorter in all: a sound name longer
// than maxSound becomes "default", then body, title, subtitle and locArg share what is left
// equally: a string within its share stays whole, the others are cut to the share and end
// with "…". ext and the image URL are never cut (a cut URL or ext is worse than none; a
// message whose ext and image do not fit is TooLarge).
func (t payloadText) shorten(excess int) payloadText {
	if n := escapedLen(t.sound); n > maxSound {
		t.sound, excess = defaultSound, excess-(n-len(defaultSound))
	}
	if excess <= 0 {
		return t
	}
	fields := [...]*string{&t.body, &t.title, &t.subtitle, &t.locArg}
	var lens [len(fields)]int
	total := 0
	for i, f := range fields {
		lens[i] = escapedLen(*f)
		total += lens[i]
	}
	share := fairShare(lens[:], total-excess)
	for i, f := range fields {
		if lens[i] > max(share, len(ellipsis)) { // "…" would not be shorter
			*f = cut(*f, max(share-len(ellipsis), 0)) + ellipsis
		}
	}
	return t
}

// fairShare is the largest share such that the lengths, each capped at share, add up to at
// most budget.
func fairShare(lens []int, budget int) int {
	sorted := slices.Sorted(slices.Values(lens))
	for i, n := range sorted {
		if k := len(sorted) - i; n*k > budget {
			return budget / k
		}
		budget -= n
	}
	return math.MaxInt
}

// appendPayload writes the payload JSON with its keys in the fixed order of the package
// comment; empty optional strings and a negative badge are left out.
func (p *Prepared) appendPayload(b []byte, t payloadText, badge int64) []byte {
	b = append(b, `{"aps":{"alert":{`...)
	if t.title != "" {
		b = append(appendString(append(b, `"title":`...), t.title), ',')
	}
	if t.subtitle != "" {
		b = append(appendString(append(b, `"subtitle":`...), t.subtitle), ',')
	}
	if t.locKey != "" {
		b = appendString(append(b, `"loc-key":`...), t.locKey)
		if t.locArg != "" {
			b = append(appendString(append(b, `,"loc-args":[`...), t.locArg), ']')
		}
		b = append(b, '}')
	} else {
		b = append(appendString(append(b, `"body":`...), t.body), '}')
	}
	if badge >= 0 {
		b = strconv.AppendInt(append(b, `,"badge":`...), badge, 10)
	}
	if t.sound != "" {
		b = appendString(append(b, `,"sound":`...), t.sound)
	}
	if t.level != "" {
		b = appendString(append(b, `,"interruption-level":`...), string(t.level))
	}
	if p.background {
		b = append(b, `,"content-available":1`...)
	}
	if t.image != "" {
		b = append(b, `,"mutable-content":1`...)
	}
	b = append(appendString(append(b, `,"thread-id":`...), p.threadID), '}')
	if t.ext != "" {
		b = appendString(append(b, `,"ext":`...), t.ext)
	}
	if t.image != "" {
		b = appendString(append(b, `,"image":`...), t.image)
	}
	b = appendString(append(b, `,"conv":`...), p.conv)
	return append(b, '}')
}

// maxLocKey is the longest loc-key text, with its _FROM suffix.
const maxLocKey = len("OFFPUSH_CHAT_HISTORY_FROM")

// minPayload is the size of the largest payload of the message once its cuttable strings are
// cut to nothing: with the longest sound that is kept, the longest badge, an interruption
// level, a loc-key and the ellipsis. Above MaxPayload no recipient's payload can fit.
//
// It writes that payload without the body's and the sound's text and adds their lengths: both
// stand-ins are ASCII that JSON does not escape (TestMinPayload checks the sum against the
// payload written whole).
func (p *Prepared) minPayload() int {
	t := payloadText{ext: p.ext, image: p.image, level: event.TimeSensitive}
	var buf [512]byte // on the stack unless ext or the image URL is long
	return len(p.appendPayload(buf[:0], t, math.MaxInt64)) + len(minBody) + len(`,"sound":""`) + len(minSound)
}

// minBody and minSound are minPayload's stand-ins for the longest loc-key with the ellipsis
// and the longest sound kept.
var minBody, minSound = ellipsis + strings.Repeat("k", maxLocKey), strings.Repeat("s", maxSound)

// TooLarge reports whether the message cannot be pushed within MaxPayload without cutting
// its ext or its image URL, which are never cut: the pipeline dead-letters it as
// payload_too_large instead of pushing it.
func (p *Prepared) TooLarge() bool { return p.tooLarge }

// voipNotification is the PushKit push of a call: apns-push-type voip, the bundle's .voip
// topic, priority 10, apns-expiration 0 (a call rings now or never), and the payload of
// voipPayload, the same for every device (no badge, no sound, no preview).
func (p *Prepared) voipNotification(token, topic string) Notification {
	b, _ := p.payloads.Load(voipKey)
	if b == nil {
		b, _ = p.payloads.LoadOrStore(voipKey, p.voipPayload())
	}
	return Notification{
		ID:         APNsID(p.msgID, token),
		Token:      token,
		Topic:      topic + voipTopicSuffix,
		PushType:   PushTypeVoIP,
		Priority:   PriorityImmediate,
		CollapseID: p.collapseID,
		Payload:    b.([]byte),
	}
}

// voipKey is the payloads entry of the VoIP payload.
var voipKey = payloadKey{badge: -2}

// voipPayload is {"aps":{},"conv":C,"msgId":M,"from":F,"ext":E} (ext left out when empty).
func (p *Prepared) voipPayload() []byte {
	b := make([]byte, 0, 64+len(p.conv)+len(p.msgID)+len(p.caller)+len(p.ext))
	b = appendString(append(b, `{"aps":{},"conv":`...), p.conv)
	b = appendString(append(b, `,"msgId":`...), p.msgID)
	b = appendString(append(b, `,"from":`...), p.caller)
	if p.ext != "" {
		b = appendString(append(b, `,"ext":`...), p.ext)
	}
	return append(b, '}')
}

// revokeNotification is the replacement of a recalled message's push on one device: the
// recalled message's collapse id, so iOS replaces the notification it shows; body "Alice
// recalled a message" (group: "Ali (Hiking) recalled a message"); no sound;
// interruption-level passive; badge the device's count after the recall (negative: no badge
// key). Under Options.LocKeys the body is {"loc-key":"OFFPUSH_RECALLED_FROM","loc-args":[…]}.
func (p *Prepared) revokeNotification(token, topic string, badge int64) Notification {
	t := payloadText{body: p.recalled, level: event.Passive}
	if p.locKeys {
		t.body, t.locKey, t.locArg = "", locRecalled+fromSuffix, p.from
		if p.from == "" {
			t.locKey, t.locArg = locRecalled, ""
		}
	}
	b := p.appendPayload(nil, t, max(badge, -1))
	if len(b) > MaxPayload {
		b = p.appendPayload(b[:0], t.shorten(len(b)-MaxPayload), max(badge, -1))
	}
	return Notification{
		ID:         APNsID(p.msgID, token),
		Token:      token,
		Topic:      topic,
		PushType:   PushTypeAlert,
		Priority:   PriorityImmediate,
		Expiration: p.expiresAt,
		CollapseID: p.collapseID,
		Payload:    b,
	}
}
