package render

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"offpush/event"
)

// Options of rendering; the zero value is usable.
type Options struct {
	// Expiry is how long a push stays deliverable after the message's SentAt: it sets
	// apns-expiration and the Expired skip. Zero means no expiry. The pipeline uses DefaultExpiry.
	Expiry time.Duration
	// PreviewName replaces the content of the alert under preview "name" ("" is
	// DefaultPreviewName); PreviewNone is the whole body under preview "none" (""
	// is DefaultPreviewNone). Apps that localise on the server set them.
	PreviewName, PreviewNone string
	// Recalled ends the body of a recall's replacement, after the sender ("" is
	// DefaultRecalled): "Alice recalled a message".
	Recalled string
	// LocKeys sends Apple's loc-key/loc-args instead of the fixed texts (the preview texts, and
	// the bracketed word of a message made of one such elem), for apps that localise on the
	// device; see the package comment for the keys.
	LocKeys bool
}

// DefaultExpiry is the push expiry the pipeline uses by default (Options.Expiry).
const DefaultExpiry = 24 * time.Hour

// Default fixed texts of the previews (Options.PreviewName, Options.PreviewNone).
const (
	DefaultPreviewName = "New message"
	DefaultPreviewNone = "You have a new message"
	DefaultRecalled    = "recalled a message"
)

// maxCollapseID is Apple's limit for apns-collapse-id, in bytes.
const maxCollapseID = 64

// mentionSetMin is the number of @-mentions from which Prepare builds a set instead of
// scanning the list for every recipient.
const mentionSetMin = 16

// elemWords are the bracketed words of the elem types that render as one (package comment).
var elemWords = map[event.ElemType]string{
	event.Voice:    "[voice]",
	event.File:     "[file]",
	event.Image:    "[image]",
	event.Video:    "[video]",
	event.Location: "[location]",
	event.Face:     "[sticker]",
	event.Merger:   "[chat history]",
}

// elemLocKeys are the loc-keys that replace elemWords under Options.LocKeys.
var elemLocKeys = map[event.ElemType]string{
	event.Voice:    "OFFPUSH_VOICE",
	event.File:     "OFFPUSH_FILE",
	event.Image:    "OFFPUSH_IMAGE",
	event.Video:    "OFFPUSH_VIDEO",
	event.Location: "OFFPUSH_LOCATION",
	event.Face:     "OFFPUSH_STICKER",
	event.Merger:   "OFFPUSH_CHAT_HISTORY",
}

// Loc-keys of the previews under Options.LocKeys; a key with the fromSuffix takes the sender
// as its one loc-arg.
const (
	locNewMessage  = "OFFPUSH_NEW_MESSAGE"
	locRecalled    = "OFFPUSH_RECALLED"
	locPreviewNone = "OFFPUSH_PREVIEW_NONE"
	fromSuffix     = "_FROM"
)

// Prepared is the per-message part of rendering, computed once by Prepare and shared by every
// recipient. Its methods are safe for concurrent use.
type Prepared struct {
	msgID      string
	sender     string
	group      bool
	skip       Skip   // message-level: NoPushFlag, EmptyCustom, NoContent or NoSkip
	body       string // prefix + content
	from       string // the sender as the prefix names it ("Alice", "Ali (Hiking)"), "" for none
	elemKey    string // the loc-key of a content that is one bracketed elem word, else ""
	title      string
	subtitle   string // offlinePush.ios.subtitle
	ext        string
	image      string                  // offlinePush.ios.image: mutable-content and payload key "image"
	level      event.InterruptionLevel // offlinePush.ios.interruptionLevel, "" for none
	background bool                    // offlinePush.ios.backgroundNotification: content-available
	priority   int                     // apns-priority
	voip       bool                    // offlinePush.ios.pushType voip: a PushKit call push
	caller     string                  // a VoIP push's "from": the sender's display name
	revoke     bool                    // a recall: Notification is the replacement of Revokes
	recalled   string                  // the replacement's body
	tooLarge   bool                    // image, ext and ids alone leave no room in MaxPayload
	msgSound   string                  // offlinePush.ios.sound, "" when unset
	noBadge    bool
	threadID   string
	conv       string
	collapseID string
	expiresAt  time.Time // zero: never expires
	atAll      bool
	atUsers    []string
	atSet      map[string]struct{} // atUsers as a set, when there are many

	previewName, previewNone string
	locKeys                  bool

	first    atomic.Pointer[firstPayload] // the first payload built
	payloads sync.Map                     // payloadKey → []byte, the others
	cached   atomic.Int32                 // payloads stored, first included
}

// payloadKey identifies one cached payload of a Prepared.
type payloadKey struct {
	style Style
	badge int64 // -1: no badge key
}

// Prepare does the per-message work of rendering m once: content text, title, thread id,
// collapse id, expiration and the message-level skip reasons. m must not change afterwards.
func Prepare(m *event.Message, opts Options) *Prepared {
	p := &Prepared{
		msgID:      m.ID,
		sender:     m.Sender.UserID,
		group:      m.ChatType == event.Group,
		threadID:   threadID(m),
		conv:       m.ConversationID(),
		collapseID: collapseID(m.ID),
		atAll:      m.AtAll,
		atUsers:    m.AtUserIDs,

		previewName: cmp.Or(opts.PreviewName, DefaultPreviewName),
		previewNone: cmp.Or(opts.PreviewNone, DefaultPreviewNone),
		locKeys:     opts.LocKeys,
	}
	if !m.SentAt.IsZero() && opts.Expiry > 0 {
		p.expiresAt = m.SentAt.Add(opts.Expiry)
	}
	if len(m.AtUserIDs) >= mentionSetMin {
		p.atSet = make(map[string]struct{}, len(m.AtUserIDs))
		for _, u := range m.AtUserIDs {
			p.atSet[u] = struct{}{}
		}
	}
	if m.IsRevoke() {
		p.prepareRevoke(m, opts)
		return p
	}
	p.prepareText(m)
	if p.voip {
		p.tooLarge = len(p.voipPayload()) > MaxVoIPPayload
	} else {
		p.tooLarge = p.minPayload() > MaxPayload
	}
	return p
}

// prepareText sets the body, title, ext, sound and badge flag, and the message-level skip.
func (p *Prepared) prepareText(m *event.Message) {
	op := m.OfflinePush
	if op == nil {
		op = &event.OfflinePush{}
	}
	p.title, p.ext = op.Title, op.Ext
	p.priority = PriorityImmediate
	if op.Priority == event.PriorityNormal {
		p.priority = PriorityConserve
	}
	if ios := op.IOS; ios != nil {
		p.msgSound, p.noBadge = ios.Sound, ios.IgnoreBadge
		p.subtitle, p.image, p.level, p.background = ios.Subtitle, ios.Image, ios.InterruptionLevel, ios.BackgroundNotification
		p.voip = ios.PushType == event.PushVoIP
	}
	p.caller = caller(m)
	text, emptyCustom := content(m.Elems)
	switch {
	case op.PushFlag == event.NoPush:
		p.skip = NoPushFlag
	case op.Desc != "":
		text = op.Desc
	case emptyCustom:
		p.skip = EmptyCustom
	case text == "":
		p.skip = NoContent
	case len(m.Elems) == 1:
		p.elemKey = elemLocKeys[m.Elems[0].Type]
	}
	p.from = from(m)
	p.body = text
	if p.from != "" {
		p.body = p.from + ": " + text
	}
}

// content renders the elems in order (package comment) and reports whether one of them is a
// custom elem with an empty desc.
func content(elems []event.Elem) (text string, emptyCustom bool) {
	var b strings.Builder
	for _, e := range elems {
		switch e.Type {
		case event.Text:
			b.WriteString(e.Text)
		case event.Custom:
			emptyCustom = emptyCustom || e.Desc == ""
			b.WriteString(e.Desc)
		default:
			b.WriteString(elemWords[e.Type])
		}
	}
	return b.String(), emptyCustom
}

// from is the sender as the alert body's prefix names it: "Nickname" (c2c, "" without a
// nickname) or "Name (GroupName)".
func from(m *event.Message) string {
	s := m.Sender
	if m.ChatType != event.Group || m.Group == nil {
		return s.Nickname
	}
	name := cmp.Or(s.GroupNameCard, s.Nickname, s.UserID)
	return name + " (" + cmp.Or(m.Group.Name, m.Group.ID) + ")"
}

// prepareRevoke prepares the replacement of a recalled message's push: the recalled message's
// collapse id (iOS replaces the notification shown), body "Alice recalled a message".
func (p *Prepared) prepareRevoke(m *event.Message, opts Options) {
	p.revoke = true
	p.collapseID = collapseID(m.Revokes)
	p.from = from(m)
	p.recalled = cmp.Or(p.from, m.Sender.UserID) + " " + cmp.Or(opts.Recalled, DefaultRecalled)
}

// caller is the sender as a VoIP push's "from" names it: the group name card (group), else
// the nickname, else the user id.
func caller(m *event.Message) string {
	s := m.Sender
	if m.ChatType == event.Group {
		return cmp.Or(s.GroupNameCard, s.Nickname, s.UserID)
	}
	return cmp.Or(s.Nickname, s.UserID)
}

// threadID is the conversation as the recipient sees it: the c2c peer or the group id.
func threadID(m *event.Message) string {
	if m.ChatType == event.Group && m.Group != nil {
		return m.Group.ID
	}
	return m.Sender.UserID
}

// collapseID is the message id, or its hex SHA-256 when longer than Apple allows.
func collapseID(id string) string {
	if len(id) <= maxCollapseID {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
