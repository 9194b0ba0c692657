package rendercmd

import (
	"offpush/render"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunUserControls: quiet hours judged at --at, silent, the previews and, through
// --config, the worker's render texts.
func TestRunUserControls(t *testing.T) {
	st := file(t, `{"users":{
"bob":{"receiveOpts":{"all":{"opt":"notNotify","startTime":"22:00:00","duration":28800,"timeZone":"Asia/Shanghai"}},"devices":[{"token":"aa","busiId":2382}]},
"carol":{"receiveOpts":{"all":"silent"},"apnsConfig":{"preview":"name"},"devices":[{"token":"bb","busiId":2382}]},
"dave":{"apnsConfig":{"preview":"none"},"devices":[{"token":"cc","busiId":2382}]}}}`)
	ev := file(t, `{"id":"m1","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob","carol","dave"],
"elems":[{"type":"image"}],"sentAt":"2026-12-02T14:00:00Z"}`)
	h := func(token string) string {
		return `"headers":{"apns-topic":"com.example.im","apns-push-type":"alert","apns-priority":"10","apns-expiration":"1796306400","apns-collapse-id":"m1","apns-id":"` +
			render.APNsID("m1", token) + `"}`
	}
	carol := `{"userId":"carol","token":"bb","skip":null,` + h("bb") + `,"payload":{"aps":{"alert":{"body":"Alice: New message"},"badge":1,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}}`
	dave := `{"userId":"dave","token":"cc","skip":null,` + h("cc") + `,"payload":{"aps":{"alert":{"body":"You have a new message"},"badge":1,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}}`
	// 23:30 in Shanghai: bob's quiet hours.
	out, err := run(t, "", "--event", ev, "--settings", st, "--at", "2026-12-02T23:30:00+08:00")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"userId":"bob","token":"aa","skip":"muted","headers":null,"payload":null}`, carol, dave}
	if got := strings.Split(strings.TrimSpace(out), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("at 23:30 +08:00:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// 21:59:59 in Shanghai: not yet.
	out, err = run(t, "", "--event", ev, "--settings", st, "--at", "2026-12-02T13:59:59Z")
	if err != nil {
		t.Fatal(err)
	}
	bob := `{"userId":"bob","token":"aa","skip":null,` + h("aa") + `,"payload":{"aps":{"alert":{"body":"Alice: [image]"},"badge":1,"sound":"default","thread-id":"alice"},"conv":"c2c:alice"}}`
	if first := strings.Split(out, "\n")[0]; first != bob {
		t.Errorf("before the window:\n got %s\nwant %s", first, bob)
	}

	// The worker's configuration: server-side texts and loc-keys.
	cfg := filepath.Join(t.TempDir(), "offpush.yaml")
	if err := os.WriteFile(cfg, []byte("render:\n  previewName: 新消息\n  locKeys: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "", "--event", ev, "--settings", st, "--at", "2026-12-02T13:00:00Z", "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, w := range []string{
		`"alert":{"loc-key":"OFFPUSH_IMAGE_FROM","loc-args":["Alice"]}`,
		`"alert":{"loc-key":"OFFPUSH_NEW_MESSAGE_FROM","loc-args":["Alice"]}`,
		`"alert":{"loc-key":"OFFPUSH_PREVIEW_NONE"}`,
	} {
		if !strings.Contains(lines[i], w) {
			t.Errorf("with --config line %d = %s, want %s", i, lines[i], w)
		}
	}
}

// TestRunVoIP: a call goes to VoIP tokens only (ordinary ones read other_kind), with the
// PushKit headers, and needs a certificate that sends VoIP pushes; an ordinary message skips
// the VoIP token.
func TestRunVoIP(t *testing.T) {
	st := file(t, `{"users":{"bob":{"devices":[{"token":"aa","busiId":2382},{"token":"vv","kind":"voip","busiId":2390},
{"token":"vx","kind":"voip","busiId":2382}]}}}`)
	call := file(t, `{"id":"c1","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"],
"elems":[{"type":"text","text":"call"}],"offlinePush":{"ios":{"pushType":"voip"}}}`)
	out, err := run(t, "", "--event", call, "--settings", st)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"userId":"bob","token":"aa","skip":"other_kind","headers":null,"payload":null}`,
		`{"userId":"bob","token":"vv","skip":null,"headers":{"apns-topic":"com.example.im.voip","apns-push-type":"voip","apns-priority":"10","apns-expiration":"0","apns-collapse-id":"c1","apns-id":"` +
			render.APNsID("c1", "vv") + `"},"payload":{"aps":{},"conv":"c2c:alice","msgId":"c1","from":"Alice"}}`,
		`{"userId":"bob","token":"vx","skip":null,"error":"unknown_certificate","headers":null,"payload":null}`,
	}
	if got := strings.TrimSpace(out); got != strings.Join(want, "\n") {
		t.Errorf("call:\n got %s\nwant %s", got, strings.Join(want, "\n"))
	}
	msg := file(t, `{"id":"m1","chatType":"c2c","sender":{"userId":"alice"},"recipients":["bob"],"elems":[{"type":"text","text":"hi"}]}`)
	out, err = run(t, "", "--event", msg, "--settings", st)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"token":"aa","skip":null`) || !strings.Contains(lines[1], `"token":"vv","skip":"other_kind"`) {
		t.Errorf("ordinary message:\n%s", out)
	}
	if _, err := run(t, "", "--event", msg, "--settings", file(t, `{"users":{"bob":{"devices":[{"token":"a","kind":"pushkit"}]}}}`)); err == nil ||
		!strings.Contains(err.Error(), `users.bob.devices[0].kind: "pushkit", want apns or voip`) {
		t.Errorf("bad kind: %v", err)
	}
}

// TestRunRecall: a recall shows the replacement per ordinary device; a group event without
// recipients is refused with a message saying why.
func TestRunRecall(t *testing.T) {
	st := file(t, `{"users":{"bob":{"devices":[{"token":"aa","busiId":2382,"badge":3},{"token":"vv","kind":"voip","busiId":2390}]}}}`)
	ev := file(t, `{"id":"r-9","kind":"revoke","revokes":"m-42","chatType":"c2c","sender":{"userId":"alice","nickname":"Alice"},"recipients":["bob"]}`)
	out, err := run(t, "", "--event", ev, "--settings", st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"userId":"bob","token":"aa","skip":null,"headers":{"apns-topic":"com.example.im","apns-push-type":"alert","apns-priority":"10","apns-expiration":"0","apns-collapse-id":"m-42","apns-id":"` +
		render.APNsID("r-9", "aa") + `"},"payload":{"aps":{"alert":{"body":"Alice recalled a message"},"badge":2,"interruption-level":"passive","thread-id":"alice"},"conv":"c2c:alice"}}` + "\n" +
		`{"userId":"bob","token":"vv","skip":"other_kind","headers":null,"payload":null}` + "\n"
	if out != want {
		t.Errorf("recall:\n got %s\nwant %s", out, want)
	}
	members := file(t, `{"id":"g1","chatType":"group","group":{"id":"g-7"},"sender":{"userId":"alice"},"elems":[{"type":"text","text":"hi"}]}`)
	if _, err := run(t, "", "--event", members); err == nil || !strings.Contains(err.Error(), "group g-7's membership") {
		t.Errorf("group event without recipients: %v", err)
	}
}
