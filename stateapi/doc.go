// Package stateapi is offpush's HTTP JSON state API: the server side of
// the IM SDK calls setToken, logout, doBackground, doForeground, setAPNS, getAPNSConfig and
// setReceiveMessageOpt, over presence.Store. openapi.yaml documents every route, body and
// error; README.md has a curl example per route.
//
//	PUT    /v1/users/{userId}/devices/{deviceToken}             setToken {"busiId":2382} → 200 Device
//	DELETE /v1/users/{userId}/devices/{deviceToken}             logout → 204
//	POST   /v1/users/{userId}/devices/{deviceToken}/background  doBackground {"c2cUnread":3} → 200 Device
//	POST   /v1/users/{userId}/devices/{deviceToken}/foreground  doForeground (no body or {}) → 200 Device
//	GET    /v1/users/{userId}/devices                           → 200 DeviceList
//	PUT    /v1/users/{userId}/apns-config                       setAPNS {"openPush":1,"c2cSound":"a.caf","groupSound":"b.caf"} → 200 APNSConfig
//	GET    /v1/users/{userId}/apns-config                       getAPNSConfig → 200 APNSConfig
//	PUT    /v1/users/{userId}/receive-opts/{conversationId}     setReceiveMessageOpt {"opt":"notNotify"} → 200 ReceiveOpt
//
// Every request needs "Authorization: Bearer <token>" with one of Options.Tokens (401 and
// WWW-Authenticate: Bearer otherwise, unknown paths included). Every answer except 204 is
// JSON; errors are {"error":"…"}: 400 (validation; the message starts with the field or path
// parameter it is about: "busiId: 9999 is not a configured certificate"), 401, 404 (unknown
// path, or doBackground/doForeground of a device not registered for the user), 405 (with
// Allow), 413 (body over Options.MaxBodyBytes), 415 (a body without Content-Type
// application/json), 503 ({"error":"state store unavailable"}: Redis failed; the cause is
// logged, never sent), 500 (a recovered panic, logged with its stack, sent without it). Bad
// input is never a 500.
//
// # Decisions
//
//   - Bodies are strict: one JSON object, member names matched exactly (encoding/json alone
//     matches them case-insensitively), unknown members, trailing data and wrong types
//     rejected. null is the same as leaving a member out.
//   - A body must be application/json (charset parameters allowed); without one, 415. An
//     empty body is "no body": required for setToken, setAPNS and receive-opts, optional for
//     doBackground (c2cUnread defaults to 0) and doForeground.
//   - Device tokens are 64 to 200 hex digits, an even number of them, in either case, and are
//     stored and returned in lower case, so logout/doBackground/doForeground find a token
//     whatever case the client sends.
//   - setToken, doBackground and doForeground answer with the device as read back from
//     Redis (state, badge, updatedAt), one HGETALL more per call. A newly registered device is
//     "background": pushable until it reports doForeground.
//   - setAPNS replaces the whole TIMAPNSConfig, as a PUT does: an absent openPush is 0 (not
//     set), an absent (or null) sound removes it (the default sound). An empty sound is a 400.
//     "push.no_sound" is accepted and makes the user's pushes silent (render treats it so).
//   - getAPNSConfig returns only TIMAPNSConfig's fields, openPush, c2cSound and groupSound
//     (absent when unset), and preview ("full" when unset): its answer can be PUT back
//     unchanged. Receive options are not in it.
//   - Receive options apply to any conversation kind; notNotifyExceptAt and
//     notReceiveExceptAt on a c2c conversation act as notNotify (there are no @-mentions in
//     c2c). "receive" deletes the stored option (and, on "all", its window).
//   - A time window (startTime/timeZone/duration or startTimestamp/duration) is accepted on
//     "all" only, as the SDK's setAllReceiveMessageOpt; each bad member is a 400 naming it.
//   - logout of an unknown device and GET of an unknown user's devices or settings are not
//     errors (204, an empty list, the defaults): a user without state is not distinguishable
//     from an unknown one.
//   - A path the ServeMux would redirect to its clean form ("//", "/../") is a 404: API clients
//     do not follow redirects.
//   - Redis calls of one request are bounded by 5s, within NewServer's WriteTimeout.
//
// # Metrics
//
// offpush.api.requests (counter) and offpush.api.request.duration (histogram, seconds), both
// with attributes route (the ServeMux pattern, or "unmatched") and code (the HTTP status).
package stateapi
