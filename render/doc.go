// Package render turns a message event into the APNs requests of its offline push: whether a
// recipient device gets a push at all (a Skip reason) and, if so, the exact headers and payload
// bytes. It is pure: no I/O, no clock (the caller passes now), no globals changed at run time.
//
// The pipeline calls Prepare once per message, which does the per-message work (content text,
// title, thread id, collapse id, message-level skip reasons), then for every recipient
// Prepared.Decide, for every device Prepared.SkipDevice, and Prepared.Notification (or
// Prepared.Render, all three in one). Payload bytes are cached inside Prepared per (style,
// badge), up to 4096 pairs, so the devices of a 100k-recipient group share a handful of byte
// slices. Render is the one-call form `offpush render` uses: the worker and the verb decide
// through the same Decide.
//
// # Alert text (product specification "General push rules")
//
//   - c2c: "Nickname: content"; without a nickname just "content".
//   - group: "Name (GroupName): content". Name is the sender's group name card, else the
//     nickname, else the sender's user id (the specification has no third choice; the user id
//     is what the IM apps show for a user without a name). GroupName is the group's name, else
//     its id.
//   - offlinePush.desc, when set, replaces content only: the "Nickname: " / "Name (GroupName): "
//     prefix is kept, so the recipient still sees who wrote. It also makes a message pushable
//     that would be EmptyCustom or NoContent.
//   - offlinePush.title becomes aps.alert.title; there is no title by default.
//
// content is the elems in order, concatenated with no separator (text "hi" and an image give
// "hi[image]"), as a text elem carries its own spacing. Each elem renders as:
//
//	text   its text        video     [video]
//	voice  [voice]         location  [location]
//	file   [file]          face      [sticker]
//	image  [image]         merger    [chat history]
//	custom its desc        groupTips, system, unknown types: nothing (not pushed)
//
// A custom elem with an empty desc makes the whole message not pushed offline (EmptyCustom),
// as the specification says, unless offlinePush.desc is set. A message whose content is empty
// (only tips/system elems, empty texts) is not pushed (NoContent).
//
// # Skip reasons
//
// Prepared.Decide checks, in this order: the message-level reasons, which hold for every
// recipient alike (so the worker skips a whole fan-out for them without looking anyone up):
// NoPushFlag (offlinePush.pushFlag noPush), EmptyCustom, NoContent, Expired (now is after
// SentAt+Options.Expiry; never when either is zero); then the recipient's: SelfMessage (the
// recipient is the sender), NoDevice (no registered device), PushDisabled (openPush 2),
// Muted. Prepared.SkipDevice adds Foreground per device. A nil *recipient.Settings is the
// default settings.
//
// Muted follows the receive option that applies: the option of the conversation
// (event.Message ConversationID, "c2c:{sender}" or "group:{id}") if the user set one, else the
// option of "all" while its window holds (Settings.AllWindow, quiet hours; a permanent "all"
// option has none), else receive. notReceive and notNotify mute; notNotifyExceptAt and
// notReceiveExceptAt mute a group message unless the recipient is @-mentioned or the message
// is @all, and always mute a c2c message (a c2c message has no @-mentions). silent does not
// mute: see Style. An unknown option value counts as receive. Windows are judged at now, the
// time of the push (the caller's clock), not at SentAt: what matters is when the phone would
// buzz.
//
// # Style: silent and preview
//
// Decide returns the Style of the user's pushes. Receive option silent: no sound (whatever
// the message or the user set) and "interruption-level":"passive"; the badge still counts.
// apns-config preview: "full" (or unset) shows the alert as rendered; "name" keeps the sender
// prefix and the title and replaces the content (offlinePush.desc included) by
// Options.PreviewName ("New message"; without a sender name the body is that text alone);
// "none" drops the title and makes the body Options.PreviewNone ("You have a new message").
// Badge and sound follow the usual rules under every preview; ext, which the app reads and the
// user does not see, stays.
//
// With Options.LocKeys the fixed texts go as Apple's loc-key (and the sender, when there is
// one, as the only loc-arg, with the key's _FROM form), for apps that localise on the device:
//
//	preview none                            {"loc-key":"OFFPUSH_PREVIEW_NONE"}
//	preview name                            {"loc-key":"OFFPUSH_NEW_MESSAGE_FROM","loc-args":["Alice"]}
//	a message of one elem shown as a word   OFFPUSH_IMAGE, OFFPUSH_VOICE, OFFPUSH_FILE,
//	(no offlinePush.desc)                   OFFPUSH_VIDEO, OFFPUSH_LOCATION, OFFPUSH_STICKER,
//	                                        OFFPUSH_CHAT_HISTORY (+ _FROM with the sender)
//
// The loc-arg is the sender as the prefix names it ("Alice", "Ali (Hiking)"). Content that
// mixes text and words ("look [image]") stays text: one key cannot say it.
//
// # Sound and badge
//
// Sound: offlinePush.ios.sound, else the user's c2cSound or groupSound by chat type, else
// "default". "push.no_sound" (event.NoSound), wherever it comes from, means the payload has
// no "sound" key. Badge: Render puts NextBadge(device's badge) into aps.badge (the badge + 1,
// a negative count taken as 0), or no badge key when offlinePush.ios.ignoreBadge is set.
//
// # Payload
//
// The payload is written by hand, keys in this fixed order, optional keys left out when empty:
//
//	{"aps":{"alert":{"title":T,"subtitle":U,"body":B},"badge":N,"sound":S,"interruption-level":L,
//	 "content-available":1,"mutable-content":1,"thread-id":C},"ext":E,"image":I,"conv":V}
//
// With a loc-key, {"loc-key":K,"loc-args":[A]} takes the place of "body" in the alert. The
// newer SDK's options (offlinePush.ios): subtitle is aps.alert.subtitle; interruptionLevel is
// aps.interruption-level (the user's silent option makes it "passive" whatever the message
// says); backgroundNotification adds "content-available":1 (the app is woken too); image adds
// "mutable-content":1 and the payload key "image", the URL the app's notification service
// extension downloads and shows. Preview "none" drops subtitle and image.
//
// aps.alert is always an object (never the bare-string form), so apps read one shape whether
// or not a title is set. thread-id is the conversation as the recipient sees it: the sender's
// user id for c2c, the group id for a group, so iOS groups the notifications per chat. "ext" is
// offlinePush.ext. "conv" is the only key of our own: the conversation id ("c2c:alice",
// "group:g-42", the same id receive options use), because thread-id alone cannot tell a user
// from a group with the same id and the app needs to know which chat to open on tap.
//
// Strings are escaped as JSON requires: '"', '\\' and control characters below U+0020 (as
// \n, \r, \t, \b, \f or \u00XX), plus U+2028 and U+2029 (which some JavaScript consumers
// treat as line ends); other runes are written as UTF-8. An invalid UTF-8 byte, which
// event.Decode never lets through, is written as \ufffd, so the payload is valid UTF-8 and
// valid JSON whatever the input.
//
// # Size limit
//
// A payload longer than MaxPayload (measured after escaping) is shortened until it fits. First
// a sound name longer than 255 bytes (longer than any file name) becomes "default"; iOS plays
// the default sound for a name it cannot find anyway. Then the body, the title, the subtitle
// and the loc-arg share the bytes left equally: one that fits in its share stays whole, the
// others are cut to the share on a UTF-8 rune boundary and end with "…". So a long text loses
// its tail while a short title stays. ext and the image URL are never cut: a cut URL or a cut
// ext (the app's data) is worse than none. A message whose ext and image cannot fit whole
// with every other string cut to "…", the longest kept sound and badge included, is TooLarge
// for every recipient: the pipeline writes it to the DLQ as payload_too_large. thread-id and conv are never cut. For
// a message that passes event.Validate (ids at most event.MaxIDLen bytes) the result always
// fits: what is never cut stays under 3.5 KB even when every id byte needs a 6-byte escape.
//
// # Headers
//
// apns-push-type is "alert", apns-priority 10 (5 for offlinePush.priority "normal"), apns-topic the certificate's bundle id (passed
// in), apns-expiration SentAt+Options.Expiry (zero, meaning "0", when either is zero), and
// apns-collapse-id the message id, or, when the id is longer than 64 bytes (Apple's limit),
// the hex SHA-256 of the id (exactly 64 characters), so a redelivered push replaces its twin on
// the phone.
package render
