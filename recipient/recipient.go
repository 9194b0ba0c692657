// Package recipient holds what offpush knows of a message's recipient: push settings and
// receive options (per conversation and for all, with quiet-hour windows), the notification
// preview, and registered device tokens with their kind, state and badge. The types are
// leaves: the presence store keeps them in Redis, render decides and renders on them, and
// neither of those packages is needed to use them.
package recipient

import "time"

// Push settings values of TIMAPNSConfig.openPush (IM product specification).
const (
	OpenPushUnset = 0 // not set: push is on
	OpenPushOn    = 1
	OpenPushOff   = 2 // no offline push to any of the user's devices
)

// ReceiveOpt is the IM product's message receive option for a conversation (or "all").
type ReceiveOpt string

// Receive options, per conversation or global (conversation id "all").
const (
	Receive           ReceiveOpt = "receive"           // default: pushed
	NotReceive        ReceiveOpt = "notReceive"        // not received at all: no push
	NotNotify         ReceiveOpt = "notNotify"         // received silently: no push
	NotNotifyExceptAt ReceiveOpt = "notNotifyExceptAt" // group: pushed only when @-mentioned or @all
	// NotReceiveExceptAt is the SDK's V2TIM_NOT_RECEIVE_MESSAGE_EXCEPT_AT: for offline push it
	// acts as NotNotifyExceptAt.
	NotReceiveExceptAt ReceiveOpt = "notReceiveExceptAt"
	// Silent is offpush's own: pushed with no sound and interruption-level passive (no
	// buzz, no screen wake); the badge still counts.
	Silent ReceiveOpt = "silent"
)

// AllConversations is the conversation id of the user's global receive option.
const AllConversations = "all"

// Valid reports whether o is one of the receive options.
func (o ReceiveOpt) Valid() bool {
	switch o {
	case Receive, NotReceive, NotNotify, NotNotifyExceptAt, NotReceiveExceptAt, Silent:
		return true
	}
	return false
}

// Preview is how much of a message the user's notifications show (apns-config.preview).
type Preview string

// Previews; the empty Preview reads as PreviewFull.
const (
	PreviewFull Preview = "full" // the alert as rendered
	PreviewName Preview = "name" // the sender prefix kept, the content replaced by a fixed text
	PreviewNone Preview = "none" // a fixed text only: no sender, title, subtitle or image
)

// Valid reports whether p is a preview value ("" included, as full).
func (p Preview) Valid() bool {
	switch p {
	case "", PreviewFull, PreviewName, PreviewNone:
		return true
	}
	return false
}

// Settings are a user's push settings: TIMAPNSConfig plus the receive options keyed by
// conversation id ("c2c:{peer}", "group:{id}" or "all").
type Settings struct {
	OpenPush    int                   `json:"openPush"`
	C2CSound    string                `json:"c2cSound,omitempty"`
	GroupSound  string                `json:"groupSound,omitempty"`
	Preview     Preview               `json:"preview,omitempty"`
	ReceiveOpts map[string]ReceiveOpt `json:"receiveOpts,omitempty"`
	// AllWindow, when set, limits the "all" receive option to a time window (quiet hours):
	// inside it ReceiveOpts["all"] holds, outside it the user receives.
	AllWindow *Window `json:"allWindow,omitempty"`
}

// DeviceKind is the kind of a device token: an ordinary APNs token or a PushKit (VoIP) one.
type DeviceKind string

// Device kinds; the empty kind is KindAPNs.
const (
	KindAPNs DeviceKind = "apns" // setToken: ordinary notifications
	KindVoIP DeviceKind = "voip" // setVOIP: PushKit call pushes only
)

// Device is one registered device token of a user, with its state as the pipeline sees it.
type Device struct {
	Token  string     `json:"token"`
	BusiID int        `json:"busiId"`
	Kind   DeviceKind `json:"kind,omitempty"` // "" is KindAPNs
	// Foreground is true while the app reported doForeground and the state has not expired.
	Foreground bool `json:"foreground"`
	// Badge is the current badge count: the unread count reported at doBackground plus one
	// per offline push sent since.
	Badge int64 `json:"badge"`
	// UpdatedAt is when the token was last registered (setToken).
	UpdatedAt time.Time `json:"updatedAt"`
}
