// Package event is the Kafka wire contract between IM core and offpush: the JSON message event
// published to the topic im.messages, its types, and Decode, which turns raw bytes
// into a validated Message or an error that names the offending field.
//
// Validation rules, in the order Decode applies them:
//   - the bytes must be valid UTF-8 and one JSON object (encoding/json would silently replace
//     invalid UTF-8 with U+FFFD, so it is checked on the raw bytes first);
//   - no key differs from a field's name only in case (see below);
//   - a field of the wrong JSON type is an error naming the field ("recipients: want array");
//   - id, chatType and sender.userId are required, and recipients for c2c; group (with
//     group.id) is required when chatType is "group", where leaving recipients out (absent or
//     null) pushes to the group's members (see ToMembers);
//   - recipients holds 1..MaxRecipients non-empty user ids, atUserIds at most MaxRecipients;
//   - kind is "message" (or empty) or "revoke". A revoke names in revokes the id of the message
//     it recalls (not its own) and needs nothing more: its elems and push options are not
//     checked. A message has no revokes;
//   - a message has 1..MaxElems elems of a known type;
//   - offlinePush.pushFlag is "default", "noPush" or empty; offlinePush.priority "high",
//     "normal" or empty; offlinePush.ios.pushType "apns", "voip" or empty;
//     ios.interruptionLevel "passive", "active", "time-sensitive", "critical" or empty;
//     ios.image an absolute http(s) URL of at most MaxImageURLLen bytes.
//
// Unknown fields are ignored, so IM core can add fields without breaking older workers. Field
// names are case-sensitive: a key that differs from a field's name only in case ("ID",
// "Kind") is refused, since the JSON decoder would otherwise take it for that field.
//
// Decode reads the usual event with a decoder written for Message (about 6× faster than
// encoding/json, which was a sixth of a one-to-one push's CPU) and leaves what it does not
// handle exactly as encoding/json would (escaped keys, repeated keys, UTF-16 surrogates,
// null inside arrays, any error) to encoding/json; FuzzDecodeFast checks that both agree.
package event

import (
	"time"
)

// DefaultTopic is the Kafka topic IM core publishes message events to unless configured
// otherwise (kafka.topic).
const DefaultTopic = "im.messages"

// Limits of the event contract.
const (
	// MaxRecipients is the largest fan-out one event may carry.
	MaxRecipients = 100000
	// MaxElems is the largest number of elements in one message.
	MaxElems = 256
	// MaxIDLen bounds message, user, group and conversation ids.
	MaxIDLen = 256
	// MaxImageURLLen bounds offlinePush.ios.image.
	MaxImageURLLen = 1024
)

// ChatType is the conversation kind of a message.
type ChatType string

// Chat types from the IM product specification: one-to-one and group conversations.
const (
	C2C   ChatType = "c2c"
	Group ChatType = "group"
)

// ElemType is the kind of one message element. The values are the element types of the IM
// product (its TIMElem subclasses); render decides how each is shown.
type ElemType string

// Element types. Text, voice, file, image and custom come from the product specification's
// push-rule table; the others are element types the IM product also has.
const (
	Text      ElemType = "text"
	Image     ElemType = "image"
	Voice     ElemType = "voice"
	File      ElemType = "file"
	Custom    ElemType = "custom"
	Video     ElemType = "video"
	Location  ElemType = "location"
	Face      ElemType = "face"
	Merger    ElemType = "merger"
	GroupTips ElemType = "groupTips"
	System    ElemType = "system"
)

// knownElemTypes lists the element types Decode accepts.
var knownElemTypes = map[ElemType]bool{
	Text: true, Image: true, Voice: true, File: true, Custom: true, Video: true,
	Location: true, Face: true, Merger: true, GroupTips: true, System: true,
}

// PushFlag is TIMOfflinePushFlag: whether the message is pushed offline at all.
type PushFlag string

// Push flags from TIMOfflinePushInfo.pushFlag.
const (
	PushDefault PushFlag = "default"
	NoPush      PushFlag = "noPush"
)

// NoSound is kIOSOfflinePushNoSound: as a sound it means the push plays no sound.
const NoSound = "push.no_sound"

// Priority is offlinePush.priority: how urgently APNs delivers the push.
type Priority string

// Priorities; empty is PriorityHigh.
const (
	PriorityHigh   Priority = "high"   // apns-priority 10: now
	PriorityNormal Priority = "normal" // apns-priority 5: when the device saves power
)

// PushType is offlinePush.ios.pushType (the SDK's iOSPushType).
type PushType string

// Push types; empty is PushAPNs.
const (
	PushAPNs PushType = "apns" // an ordinary alert
	PushVoIP PushType = "voip" // a PushKit call push, to the recipient's VoIP tokens
)

// InterruptionLevel is offlinePush.ios.interruptionLevel, Apple's aps.interruption-level.
type InterruptionLevel string

// Interruption levels (Apple, "Generating a remote notification").
const (
	Passive       InterruptionLevel = "passive"
	Active        InterruptionLevel = "active"
	TimeSensitive InterruptionLevel = "time-sensitive"
	Critical      InterruptionLevel = "critical"
)

// Kind is what an event is: a message, or the recall of an earlier one.
type Kind string

// Event kinds; empty is KindMessage.
const (
	KindMessage Kind = "message"
	// KindRevoke recalls the message Revokes: devices that got its push get a replacement
	// ("Alice recalled a message"), devices that did not will never get it.
	KindRevoke Kind = "revoke"
)

// Message is one IM message event as IM core publishes it.
type Message struct {
	ID          string       `json:"id"`
	Kind        Kind         `json:"kind,omitempty"`
	Revokes     string       `json:"revokes,omitempty"` // the recalled message's id (kind revoke)
	SDKAppID    int64        `json:"sdkAppId,omitempty"`
	ChatType    ChatType     `json:"chatType"`
	Sender      Sender       `json:"sender"`
	Group       *GroupInfo   `json:"group,omitempty"`
	Recipients  []string     `json:"recipients"`
	Elems       []Elem       `json:"elems"`
	AtUserIDs   []string     `json:"atUserIds,omitempty"`
	AtAll       bool         `json:"atAll,omitempty"`
	OfflinePush *OfflinePush `json:"offlinePush,omitempty"`
	// SentAt is when IM core accepted the message; zero when the producer did not say.
	SentAt time.Time `json:"sentAt,omitzero"`
}

// Sender is the author of a message.
type Sender struct {
	UserID        string `json:"userId"`
	Nickname      string `json:"nickname,omitempty"`
	GroupNameCard string `json:"groupNameCard,omitempty"`
}

// GroupInfo names the group of a group message.
type GroupInfo struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Elem is one element of a message body.
type Elem struct {
	Type ElemType `json:"type"`
	Text string   `json:"text,omitempty"`
	Desc string   `json:"desc,omitempty"`
	Data string   `json:"data,omitempty"`
}

// OfflinePush is TIMOfflinePushInfo: per-message overrides of the offline push.
type OfflinePush struct {
	Title    string   `json:"title,omitempty"`
	Desc     string   `json:"desc,omitempty"`
	Ext      string   `json:"ext,omitempty"`
	PushFlag PushFlag `json:"pushFlag,omitempty"`
	Priority Priority `json:"priority,omitempty"`
	IOS      *IOS     `json:"ios,omitempty"`
	Android  *Android `json:"android,omitempty"`
}

// IOS is TIMIOSOfflinePushConfig with the newer SDK's (V2TIMOfflinePushInfo) options.
type IOS struct {
	Sound       string   `json:"sound,omitempty"`
	IgnoreBadge bool     `json:"ignoreBadge,omitempty"`
	PushType    PushType `json:"pushType,omitempty"`
	// Image is a picture URL the app's notification service extension shows (iOSImage).
	Image             string            `json:"image,omitempty"`
	Subtitle          string            `json:"subtitle,omitempty"`
	InterruptionLevel InterruptionLevel `json:"interruptionLevel,omitempty"`
	// BackgroundNotification wakes the app in the background too (content-available).
	BackgroundNotification bool `json:"backgroundNotification,omitempty"`
}

// Android is TIMAndroidOfflinePushConfig; it is kept so replays stay faithful, APNs ignores it.
type Android struct {
	Title      string `json:"title,omitempty"`
	Sound      string `json:"sound,omitempty"`
	NotifyMode string `json:"notifyMode,omitempty"`
}

// IsRevoke reports whether the event recalls an earlier message.
func (m *Message) IsRevoke() bool { return m.Kind == KindRevoke }

// ConversationID is the conversation of the message as seen by recipient: "c2c:{peer}" for a
// one-to-one message (the peer is the sender) and "group:{id}" for a group message. Receive
// options are keyed by it.
func (m *Message) ConversationID() string {
	if m.ChatType == Group && m.Group != nil {
		return "group:" + m.Group.ID
	}
	return "c2c:" + m.Sender.UserID
}

// Key is the Kafka message key of the event: the conversation, so one conversation's messages
// stay ordered on one partition. A c2c conversation is keyed by its two users in sorted order.
func (m *Message) Key() string {
	if m.ChatType == Group && m.Group != nil {
		return "group:" + m.Group.ID
	}
	a, b := m.Sender.UserID, ""
	if len(m.Recipients) > 0 {
		b = m.Recipients[0]
	}
	if b < a {
		a, b = b, a
	}
	return "c2c:" + a + ":" + b
}

// IsMentioned reports whether userID is @-mentioned by the message (directly or by @all).
func (m *Message) IsMentioned(userID string) bool {
	if m.AtAll {
		return true
	}
	for _, u := range m.AtUserIDs {
		if u == userID {
			return true
		}
	}
	return false
}

// Narrow returns a copy of m addressed to the single recipient userID, as the dead-letter topic
// stores it so that a replay never re-pushes a whole group.
func (m *Message) Narrow(userID string) *Message {
	c := *m
	c.Recipients = []string{userID}
	if len(c.AtUserIDs) > 0 {
		c.AtUserIDs = nil
		if m.IsMentioned(userID) && !m.AtAll {
			c.AtUserIDs = []string{userID}
		}
	}
	return &c
}
