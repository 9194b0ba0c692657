package stateapi

import (
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"offpush/event"
	"offpush/recipient"
)

// Limits of the values the API accepts.
const (
	// MaxIDLen bounds user, peer and group ids, as in message events.
	MaxIDLen = event.MaxIDLen
	// MinTokenLen and MaxTokenLen bound a device token in hex digits. Apple's tokens are 32
	// bytes (64 digits) today; Apple reserves the right to make them longer.
	MinTokenLen = 64
	MaxTokenLen = 200
	// MaxSoundLen bounds a sound file name in bytes.
	MaxSoundLen = 255
	// MaxUnread bounds doBackground's c2cUnread.
	MaxUnread = 1_000_000
)

// userParam returns the valid {userId} of the path.
func userParam(r *http.Request) (string, error) {
	u := r.PathValue("userId")
	if err := checkUserID(u); err != nil {
		return "", err
	}
	return u, nil
}

// checkUserID: non-empty, at most MaxIDLen bytes of UTF-8 without control characters, and
// without '{' or '}', which would break the Redis Cluster hash tag {userId} of the user's keys.
func checkUserID(u string) error {
	if err := checkID("userId", u); err != nil {
		return err
	}
	if strings.ContainsAny(u, "{}") {
		return badRequest("userId", "must not contain '{' or '}'")
	}
	return nil
}

// checkID: non-empty, at most MaxIDLen bytes of UTF-8 without control characters.
func checkID(field, s string) error {
	switch {
	case s == "":
		return badRequest(field, "required")
	case len(s) > MaxIDLen:
		return badRequest(field, "longer than %d bytes", MaxIDLen)
	case !utf8.ValidString(s):
		return badRequest(field, "not valid UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return badRequest(field, "must not contain control characters")
	}
	return nil
}

// deviceParams returns the valid {userId} and {deviceToken} of the path, the token in lower
// case as stored.
func deviceParams(r *http.Request) (user, token string, err error) {
	if user, err = userParam(r); err != nil {
		return "", "", err
	}
	token = r.PathValue("deviceToken")
	if err := checkToken(token); err != nil {
		return "", "", err
	}
	return user, strings.ToLower(token), nil
}

// checkToken: an even number of hex digits (a token is bytes), MinTokenLen to MaxTokenLen of
// them, in either case.
func checkToken(t string) error {
	if len(t) < MinTokenLen || len(t) > MaxTokenLen {
		return badRequest("deviceToken", "must be %d to %d hex digits, got %d characters", MinTokenLen, MaxTokenLen, len(t))
	}
	for i := 0; i < len(t); i++ {
		if !isHex(t[i]) {
			return badRequest("deviceToken", "must be hex digits only")
		}
	}
	if len(t)%2 != 0 {
		return badRequest("deviceToken", "must be an even number of hex digits")
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// convParam returns the valid {conversationId} of the path: "all", "c2c:{peer}" or
// "group:{id}", the peer and group id checked like ids in message events (braces are allowed:
// they are part of a hash field, not of a key).
func convParam(r *http.Request) (string, error) {
	c := r.PathValue("conversationId")
	if c == "all" {
		return c, nil
	}
	kind, id, _ := strings.Cut(c, ":")
	switch {
	case kind != "c2c" && kind != "group":
		return "", badRequest("conversationId", "must be c2c:{peer}, group:{id} or all")
	case id == "":
		return "", badRequest("conversationId", "the %s id after ':' is required", kind)
	}
	return c, checkID("conversationId", id)
}

// checkOpenPush: TIMAPNSConfig.openPush is 0 (not set), 1 (on) or 2 (off).
func checkOpenPush(v int) error {
	if v < recipient.OpenPushUnset || v > recipient.OpenPushOff {
		return badRequest("openPush", "must be 0 (not set), 1 (on) or 2 (off)")
	}
	return nil
}

// checkSound: a sound is the file name of a sound in the app bundle (IM product
// specification), so a plain, non-empty name of at most MaxSoundLen bytes: no path ('/', '\'),
// no "..", no control characters. "push.no_sound" is a valid name and means silent pushes.
func checkSound(field, s string) error {
	switch {
	case s == "":
		return badRequest(field, "must not be empty (leave it out for the default sound)")
	case len(s) > MaxSoundLen:
		return badRequest(field, "longer than %d bytes", MaxSoundLen)
	case strings.ContainsAny(s, `/\`) || strings.Contains(s, ".."):
		return badRequest(field, "must be a file name without '/', '\\' or '..'")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return badRequest(field, "must not contain control characters")
	}
	return nil
}

// checkUnread: doBackground's c2cUnread is 0 to MaxUnread.
func checkUnread(n int64) error {
	if n < 0 || n > MaxUnread {
		return badRequest("c2cUnread", "must be between 0 and %d", MaxUnread)
	}
	return nil
}

// checkOpt: one of the IM product's receive options.
func checkOpt(o *string) error {
	if o == nil {
		return badRequest("opt", "required")
	}
	if !recipient.ReceiveOpt(*o).Valid() {
		return badRequest("opt", "must be one of receive, notReceive, notNotify, notNotifyExceptAt, notReceiveExceptAt, silent")
	}
	return nil
}

// checkPreview: apns-config preview is full, name or none.
func checkPreview(p string) error {
	if p == "" || !recipient.Preview(p).Valid() {
		return badRequest("preview", "must be full, name or none")
	}
	return nil
}

// window builds the quiet-hours window of setAllReceiveMessageOpt's members (nil when the
// body has no window: the option is permanent). Errors name the member.
func window(conv string, spec recipient.WindowSpec) (*recipient.Window, error) {
	if conv != recipient.AllConversations && (spec.StartTime != nil || spec.StartTimestamp != nil) {
		return nil, badRequest("conversationId", "a time window applies to receive-opts/all only")
	}
	w, err := spec.Window()
	if err != nil {
		return nil, &apiError{http.StatusBadRequest, err.Error()}
	}
	return w, nil
}
