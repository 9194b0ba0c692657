package render

// Skip is why a (message, recipient device) gets no push. The same words appear in logs,
// metric labels and `offpush render` output. The zero value means "push it".
type Skip uint8

// Skip reasons, from the IM product specification's rules (doc.go) and the pipeline.
const (
	NoSkip       Skip = iota
	Foreground        // the device's app is in the foreground: it got the message live
	PushDisabled      // user setting openPush = 2
	NoPushFlag        // offlinePush.pushFlag = noPush
	Muted             // receive option notReceive/notNotify, or notNotifyExceptAt without @
	EmptyCustom       // a custom elem with an empty desc and no offlinePush.desc
	NoContent         // nothing pushable (only system/tips elems)
	NoDevice          // the recipient has no registered device
	SelfMessage       // the recipient is the sender
	Expired           // the event is older than the push expiry window
	Duplicate         // this (message, device) was already pushed (pipeline dedupe)
	Revoked           // the message was recalled before this device got it
	// OtherKind is a device of the other kind: a VoIP token for an ordinary push, or an
	// ordinary token for a VoIP push. It is not a target of the message at all, so the
	// pipeline does not count it.
	OtherKind
	numSkips
)

var skipNames = [numSkips]string{
	NoSkip:       "",
	Foreground:   "foreground",
	PushDisabled: "push_disabled",
	NoPushFlag:   "no_push_flag",
	Muted:        "muted",
	EmptyCustom:  "empty_custom",
	NoContent:    "no_content",
	NoDevice:     "no_device",
	SelfMessage:  "self_message",
	Expired:      "expired",
	Duplicate:    "duplicate",
	Revoked:      "revoked",
	OtherKind:    "other_kind",
}

func (s Skip) String() string {
	if s < numSkips {
		return skipNames[s]
	}
	return "unknown"
}

// Skips lists every skip reason the pipeline counts (without NoSkip and OtherKind), for
// metrics that pre-register labels.
func Skips() []Skip {
	out := make([]Skip, 0, numSkips-2)
	for s := NoSkip + 1; s < numSkips; s++ {
		if s != OtherKind {
			out = append(out, s)
		}
	}
	return out
}
