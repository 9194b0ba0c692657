package stateapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"offpush/stateapi"
)

// TestValidation: every rule, one row each, with the status and the exact error text; a
// rejected request writes nothing to Redis.
func TestValidation(t *testing.T) {
	e := newEnv(t)
	dev := "/v1/users/bob/devices/" + tokA
	cfg := "/v1/users/bob/apns-config"
	opts := "/v1/users/bob/receive-opts/"
	long := strings.Repeat("u", 257)
	tests := []struct {
		name, method, path, body string
		contentType              string // "" = application/json when there is a body
		code                     int
		err                      string
	}{
		// userId: longer than 256 bytes.
		{"user too long", "GET", "/v1/users/" + long + "/devices", "", "", 400, "userId: longer than 256 bytes"},
		// userId: '{' would break the hash tag {userId}.
		{"user {", "GET", "/v1/users/a%7Bb/devices", "", "", 400, "userId: must not contain '{' or '}'"},
		// userId: '}' as well.
		{"user }", "PUT", "/v1/users/%7D/devices/" + tokA, `{"busiId":2382}`, "", 400, "userId: must not contain '{' or '}'"},
		// userId: bytes that are not UTF-8.
		{"user not UTF-8", "GET", "/v1/users/%FF%FE/apns-config", "", "", 400, "userId: not valid UTF-8"},
		// userId: a C0 control character.
		{"user control", "POST", "/v1/users/a%01/devices/" + tokA + "/foreground", "", "", 400, "userId: must not contain control characters"},
		// userId: DEL is a control character too.
		{"user DEL", "DELETE", "/v1/users/a%7F/devices/" + tokA, "", "", 400, "userId: must not contain control characters"},
		// userId: NUL.
		{"user NUL", "GET", "/v1/users/%00/devices", "", "", 400, "userId: must not contain control characters"},
		// deviceToken: 63 digits, shorter than Apple's 64.
		{"token short", "PUT", "/v1/users/bob/devices/" + tokA[1:], `{"busiId":2382}`, "", 400, "deviceToken: must be 64 to 200 hex digits, got 63 characters"},
		// deviceToken: 202 digits.
		{"token long", "DELETE", "/v1/users/bob/devices/" + strings.Repeat("ab", 101), "", "", 400, "deviceToken: must be 64 to 200 hex digits, got 202 characters"},
		// deviceToken: a non-hex letter.
		{"token not hex", "POST", "/v1/users/bob/devices/" + tokA[:63] + "g/background", "", "", 400, "deviceToken: must be hex digits only"},
		// deviceToken: base64 punctuation.
		{"token base64", "PUT", "/v1/users/bob/devices/" + tokA[:62] + "+=", `{"busiId":2382}`, "", 400, "deviceToken: must be hex digits only"},
		// deviceToken: an odd number of digits is not bytes.
		{"token odd", "PUT", "/v1/users/bob/devices/" + tokA + "a", `{"busiId":2382}`, "", 400, "deviceToken: must be an even number of hex digits"},
		// busiId: missing.
		{"busiId missing", "PUT", dev, `{}`, "", 400, "busiId: required"},
		// busiId: null is missing.
		{"busiId null", "PUT", dev, `{"busiId":null}`, "", 400, "busiId: required"},
		// busiId: not a configured certificate.
		{"busiId unknown", "PUT", dev, `{"busiId":9999}`, "", 400, "busiId: 9999 is not a configured certificate"},
		// busiId: a string.
		{"busiId string", "PUT", dev, `{"busiId":"2382"}`, "", 400, "busiId: must be an integer"},
		// busiId: a fraction.
		{"busiId fraction", "PUT", dev, `{"busiId":2382.5}`, "", 400, "busiId: must be an integer"},
		// body: setToken needs one.
		{"no body", "PUT", dev, "", "", 400, "body: required"},
		// body: whitespace is no body.
		{"blank body", "PUT", dev, " \n", "", 400, "body: required"},
		// body: an array.
		{"body array", "PUT", dev, `[{"busiId":2382}]`, "", 400, "body: must be a JSON object"},
		// body: null.
		{"body null", "PUT", dev, `null`, "", 400, "body: must be a JSON object"},
		// body: a string.
		{"body string", "PUT", cfg, `"x"`, "", 400, "body: must be a JSON object"},
		// body: cut short.
		{"body truncated", "PUT", dev, `{"busiId":23`, "", 400, "body: invalid JSON"},
		// body: a second value after the object.
		{"trailing object", "PUT", dev, `{"busiId":2382} {}`, "", 400, "body: unexpected data after the JSON object"},
		// body: a stray brace after the object.
		{"trailing brace", "PUT", dev, `{"busiId":2382}}`, "", 400, "body: unexpected data after the JSON object"},
		// body: an unknown member.
		{"unknown field", "PUT", dev, `{"busiId":2382,"foo":1}`, "", 400, `body: unknown field "foo"`},
		// body: member names are case-sensitive.
		{"field case", "PUT", dev, `{"BusiId":2382}`, "", 400, `body: unknown field "BusiId"`},
		// body: a long unknown name is cut in the message.
		{"long unknown field", "PUT", cfg, `{"` + strings.Repeat("n", 100) + `":1}`, "", 400, `body: unknown field "` + strings.Repeat("n", 64) + `"…`},
		// body: not UTF-8.
		{"body not UTF-8", "PUT", cfg, "{\"c2cSound\":\"a\xff.caf\"}", "", 400, "body: not valid UTF-8"},
		// Content-Type: form encoding, as curl -d sends by default.
		{"form body", "PUT", dev, `{"busiId":2382}`, "application/x-www-form-urlencoded", 415, "Content-Type must be application/json"},
		// Content-Type: text/plain.
		{"text body", "POST", dev + "/background", `{"c2cUnread":1}`, "text/plain", 415, "Content-Type must be application/json"},
		// Content-Type: unparsable.
		{"bad content type", "PUT", cfg, `{}`, "application/json;;", 415, "Content-Type must be application/json"},
		// openPush: 3 is not a TIMAPNSConfig value.
		{"openPush 3", "PUT", cfg, `{"openPush":3}`, "", 400, "openPush: must be 0 (not set), 1 (on) or 2 (off)"},
		// openPush: negative.
		{"openPush -1", "PUT", cfg, `{"openPush":-1}`, "", 400, "openPush: must be 0 (not set), 1 (on) or 2 (off)"},
		// openPush: a string.
		{"openPush string", "PUT", cfg, `{"openPush":"1"}`, "", 400, "openPush: must be an integer"},
		// openPush: a boolean.
		{"openPush bool", "PUT", cfg, `{"openPush":true}`, "", 400, "openPush: must be an integer"},
		// setAPNS needs a body.
		{"setAPNS no body", "PUT", cfg, "", "", 400, "body: required"},
		// c2cSound: empty (leave it out instead).
		{"sound empty", "PUT", cfg, `{"c2cSound":""}`, "", 400, "c2cSound: must not be empty (leave it out for the default sound)"},
		// c2cSound: a parent directory.
		{"sound ..", "PUT", cfg, `{"c2cSound":"../x.caf"}`, "", 400, `c2cSound: must be a file name without '/', '\' or '..'`},
		// groupSound: a path.
		{"sound /", "PUT", cfg, `{"groupSound":"sounds/b.caf"}`, "", 400, `groupSound: must be a file name without '/', '\' or '..'`},
		// groupSound: a Windows path.
		{"sound backslash", "PUT", cfg, `{"groupSound":"a\\b.caf"}`, "", 400, `groupSound: must be a file name without '/', '\' or '..'`},
		// c2cSound: 256 bytes.
		{"sound long", "PUT", cfg, `{"c2cSound":"` + strings.Repeat("s", 252) + `.caf"}`, "", 400, "c2cSound: longer than 255 bytes"},
		// groupSound: a control character.
		{"sound control", "PUT", cfg, `{"groupSound":"a\u0007.caf"}`, "", 400, "groupSound: must not contain control characters"},
		// c2cSound: a number.
		{"sound number", "PUT", cfg, `{"c2cSound":1}`, "", 400, "c2cSound: must be a string"},
		// c2cUnread: negative.
		{"unread negative", "POST", dev + "/background", `{"c2cUnread":-1}`, "", 400, "c2cUnread: must be between 0 and 1000000"},
		// c2cUnread: above the limit.
		{"unread too big", "POST", dev + "/background", `{"c2cUnread":1000001}`, "", 400, "c2cUnread: must be between 0 and 1000000"},
		// c2cUnread: beyond int64.
		{"unread overflow", "POST", dev + "/background", `{"c2cUnread":99999999999999999999}`, "", 400, "c2cUnread: must be an integer"},
		// c2cUnread: exponent notation is a float.
		{"unread exponent", "POST", dev + "/background", `{"c2cUnread":1e3}`, "", 400, "c2cUnread: must be an integer"},
		// doForeground takes no members.
		{"foreground member", "POST", dev + "/foreground", `{"c2cUnread":1}`, "", 400, `body: unknown field "c2cUnread"`},
		// opt: missing.
		{"opt missing", "PUT", opts + "all", `{}`, "", 400, "opt: required"},
		// opt: not a receive option.
		{"opt unknown", "PUT", opts + "all", `{"opt":"mute"}`, "", 400, "opt: must be one of receive, notReceive, notNotify, notNotifyExceptAt, notReceiveExceptAt, silent"},
		// opt: case matters.
		{"opt case", "PUT", opts + "all", `{"opt":"NotNotify"}`, "", 400, "opt: must be one of receive, notReceive, notNotify, notNotifyExceptAt, notReceiveExceptAt, silent"},
		// opt: a number.
		{"opt number", "PUT", opts + "all", `{"opt":2}`, "", 400, "opt: must be a string"},
		// quiet hours: every bad window member is named.
		{"window startTime", "PUT", opts + "all", `{"opt":"notNotify","startTime":"22:00","duration":3600}`, "", 400, "startTime: want HH:MM:SS"},
		{"window hour 24", "PUT", opts + "all", `{"opt":"notNotify","startTime":"24:00:00","duration":3600}`, "", 400, "startTime: want HH:MM:SS"},
		{"window zone", "PUT", opts + "all", `{"opt":"notNotify","startTime":"22:00:00","duration":3600,"timeZone":"Mars/Base"}`, "", 400, `timeZone: unknown "Mars/Base"`},
		{"window duration 0", "PUT", opts + "all", `{"opt":"notNotify","startTime":"22:00:00","duration":0}`, "", 400, "duration: want 1..86400"},
		{"window duration day+1", "PUT", opts + "all", `{"opt":"notNotify","startTime":"22:00:00","duration":86401}`, "", 400, "duration: want 1..86400"},
		{"window once too long", "PUT", opts + "all", `{"opt":"notNotify","startTimestamp":1767225600,"duration":31536001}`, "", 400, "duration: want 1..31536000"},
		{"window no duration", "PUT", opts + "all", `{"opt":"notNotify","startTime":"22:00:00"}`, "", 400, "duration: required with a window"},
		{"window both starts", "PUT", opts + "all", `{"opt":"notNotify","startTime":"22:00:00","startTimestamp":1767225600,"duration":60}`, "", 400, "startTime: give startTime (daily) or startTimestamp (once), not both"},
		{"window duration alone", "PUT", opts + "all", `{"opt":"notNotify","duration":60}`, "", 400, "duration: needs startTime or startTimestamp"},
		{"window zone alone", "PUT", opts + "all", `{"opt":"notNotify","timeZone":"UTC"}`, "", 400, "timeZone: needs startTime"},
		{"window zone once", "PUT", opts + "all", `{"opt":"notNotify","startTimestamp":1767225600,"duration":60,"timeZone":"UTC"}`, "", 400, "timeZone: applies to a daily window (startTime) only"},
		{"window negative start", "PUT", opts + "all", `{"opt":"notNotify","startTimestamp":-5,"duration":60}`, "", 400, "startTimestamp: want unix seconds, got -5"},
		{"window on a conversation", "PUT", opts + "c2c:alice", `{"opt":"notNotify","startTime":"22:00:00","duration":60}`, "", 400, "conversationId: a time window applies to receive-opts/all only"},
		{"window duration string", "PUT", opts + "all", `{"opt":"notNotify","startTime":"22:00:00","duration":"1h"}`, "", 400, "duration: must be an integer"},
		// preview: not one of the three.
		{"preview unknown", "PUT", cfg, `{"preview":"blur"}`, "", 400, "preview: must be full, name or none"},
		{"preview empty", "PUT", cfg, `{"preview":""}`, "", 400, "preview: must be full, name or none"},
		// receive-opts needs a body.
		{"opt no body", "PUT", opts + "all", "", "", 400, "body: required"},
		// conversationId: an unknown kind.
		{"conv kind", "PUT", opts + "dm:alice", `{"opt":"notNotify"}`, "", 400, "conversationId: must be c2c:{peer}, group:{id} or all"},
		// conversationId: "ALL" is not "all".
		{"conv ALL", "PUT", opts + "ALL", `{"opt":"notNotify"}`, "", 400, "conversationId: must be c2c:{peer}, group:{id} or all"},
		// conversationId: no peer.
		{"conv no peer", "PUT", opts + "c2c:", `{"opt":"notNotify"}`, "", 400, "conversationId: the c2c id after ':' is required"},
		// conversationId: no group id.
		{"conv no group", "PUT", opts + "group:", `{"opt":"notNotify"}`, "", 400, "conversationId: the group id after ':' is required"},
		// conversationId: a group id longer than 256 bytes.
		{"conv long", "PUT", opts + "group:" + long, `{"opt":"notNotify"}`, "", 400, "conversationId: longer than 256 bytes"},
		// conversationId: a control character in the peer.
		{"conv control", "PUT", opts + "c2c:a%0Ab", `{"opt":"notNotify"}`, "", 400, "conversationId: must not contain control characters"},
		// conversationId: not UTF-8.
		{"conv not UTF-8", "PUT", opts + "group:%C3", `{"opt":"notNotify"}`, "", 400, "conversationId: not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := e.request(tt.method, tt.path, tt.body)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := e.send(req)
			r.must(t, tt.code)
			if got := r.errorText(); got != tt.err {
				t.Errorf("error %q, want %q", got, tt.err)
			}
		})
	}
	if n := e.rdb.DBSize(context.Background()).Val(); n != 0 {
		t.Errorf("rejected requests left %d keys in Redis", n)
	}
}

// TestBodyTooLarge: a body over MaxBodyBytes is 413, whether Content-Length announces it or
// it is streamed (chunked); the default limit is 64 KiB.
func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(o *stateapi.Options) { o.MaxBodyBytes = 100 })
	big := `{"c2cSound":"` + strings.Repeat("s", 100) + `"}`
	r := e.call("PUT", "/v1/users/bob/apns-config", big)
	r.must(t, http.StatusRequestEntityTooLarge)
	if r.errorText() != "body: larger than 100 bytes" {
		t.Errorf("error %q", r.errorText())
	}
	req := e.request("PUT", "/v1/users/bob/apns-config", "")
	req.Body = readCloser{strings.NewReader(big)}
	req.ContentLength = -1 // chunked
	e.send(req).must(t, http.StatusRequestEntityTooLarge)

	d := newEnv(t)
	pad := `{"openPush":1` + strings.Repeat(" ", stateapi.DefaultMaxBodyBytes) + `}`
	d.call("PUT", "/v1/users/bob/apns-config", pad).must(t, http.StatusRequestEntityTooLarge)
	ok := `{"openPush":1` + strings.Repeat(" ", stateapi.DefaultMaxBodyBytes-20) + `}`
	d.call("PUT", "/v1/users/bob/apns-config", ok).must(t, http.StatusOK)
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
