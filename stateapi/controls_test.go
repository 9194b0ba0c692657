package stateapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"offpush/presence"
	"offpush/recipient"
	"offpush/render"
	"offpush/stateapi"
)

// TestQuietHours: setAllReceiveMessageOpt with a daily window and WithTimestamp with a
// one-time window store the window the answer echoes; a body without a window makes the
// option permanent again; silent and notReceiveExceptAt are accepted.
func TestQuietHours(t *testing.T) {
	e := newEnv(t)
	path := "/v1/users/bob/receive-opts/all"
	got := decode[stateapi.ReceiveOpt](t, e.call("PUT", path,
		`{"opt":"notNotify","startTime":"22:00:00","duration":28800,"timeZone":"Asia/Shanghai"}`), http.StatusOK)
	want := stateapi.ReceiveOpt{ConversationID: "all", Opt: "notNotify", StartTime: "22:00:00", Duration: 28800, TimeZone: "Asia/Shanghai"}
	if got != want {
		t.Errorf("daily: answered %+v, want %+v", got, want)
	}
	st := e.settings("bob")
	if st.ReceiveOpts["all"] != recipient.NotNotify || st.AllWindow == nil || !st.AllWindow.Daily ||
		st.AllWindow.Start != 22*3600 || st.AllWindow.TimeZone != "Asia/Shanghai" {
		t.Fatalf("store has %+v, window %+v", st, st.AllWindow)
	}
	// 23:00 in Shanghai is inside, 12:00 is not.
	if !st.AllWindow.Holds(time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)) || st.AllWindow.Holds(time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)) {
		t.Error("the stored window does not hold where it should")
	}

	got = decode[stateapi.ReceiveOpt](t, e.call("PUT", path, `{"opt":"silent","startTimestamp":1767225600,"duration":3600}`), http.StatusOK)
	if want := (stateapi.ReceiveOpt{ConversationID: "all", Opt: "silent", StartTimestamp: 1767225600, Duration: 3600}); got != want {
		t.Errorf("once: answered %+v, want %+v", got, want)
	}
	if st := e.settings("bob"); st.ReceiveOpts["all"] != recipient.Silent || st.AllWindow == nil || st.AllWindow.Daily || st.AllWindow.Start != 1767225600 {
		t.Fatalf("store has %+v, window %+v", st, st.AllWindow)
	}

	e.call("PUT", path, `{"opt":"notReceiveExceptAt"}`).must(t, http.StatusOK)
	if st := e.settings("bob"); st.ReceiveOpts["all"] != recipient.NotReceiveExceptAt || st.AllWindow != nil {
		t.Fatalf("a permanent option kept the window: %+v", st)
	}
	e.call("PUT", "/v1/users/bob/receive-opts/group:g-42", `{"opt":"silent"}`).must(t, http.StatusOK)
	if st := e.settings("bob"); st.ReceiveOpts["group:g-42"] != recipient.Silent {
		t.Fatalf("store has %+v", st)
	}
}

// TestPreview: setAPNS stores preview, getAPNSConfig reads it back, and a PUT without it is
// full again.
func TestPreview(t *testing.T) {
	e := newEnv(t)
	path := "/v1/users/bob/apns-config"
	put := decode[stateapi.APNSConfig](t, e.call("PUT", path, `{"openPush":1,"preview":"none"}`), http.StatusOK)
	if put != (stateapi.APNSConfig{OpenPush: 1, Preview: "none"}) {
		t.Errorf("PUT answered %+v", put)
	}
	if st := e.settings("bob"); st.Preview != recipient.PreviewNone {
		t.Fatalf("store has preview %q", st.Preview)
	}
	if body := e.call("GET", path, "").must(t, http.StatusOK); body != `{"openPush":1,"preview":"none"}`+"\n" {
		t.Errorf("GET answered %s", body)
	}
	e.call("PUT", path, `{"preview":"name"}`).must(t, http.StatusOK)
	if st := e.settings("bob"); st.Preview != recipient.PreviewName {
		t.Fatalf("store has preview %q", st.Preview)
	}
	e.call("PUT", path, `{"openPush":1}`).must(t, http.StatusOK)
	if st := e.settings("bob"); st.Preview != "" {
		t.Fatalf("a PUT without preview left %q", st.Preview)
	}
}

// TestExplainRoute: the report of a sent push, a device without one and an unknown message,
// with the apns-id of each push; a bad msgId is a 400.
func TestExplainRoute(t *testing.T) {
	e := newEnv(t)
	e.register("bob", tokA)
	e.register("bob", tokB)
	c := presence.Claim{UserID: "bob", MsgID: "m-42", Token: tokA, SentAt: time.Now()}
	if _, err := e.store.Claim(context.Background(), []presence.Claim{c}); err != nil {
		t.Fatal(err)
	}
	c.Attempts = 1
	must(t, e.store.Done(context.Background(), []presence.Claim{c}))

	got := decode[stateapi.PushReport](t, e.call("GET", "/v1/users/bob/pushes/m-42", ""), http.StatusOK)
	if got.UserID != "bob" || got.MsgID != "m-42" || len(got.Devices) != 2 {
		t.Fatalf("report %+v", got)
	}
	a, b := got.Devices[0], got.Devices[1]
	if a.Token != tokA || a.State != "sent" || a.Badge == nil || *a.Badge != 1 || a.Attempts != 1 || a.At == nil ||
		a.APNsID != render.APNsID("m-42", tokA) || a.Kind != "apns" || !a.Registered {
		t.Errorf("sent device: %+v", a)
	}
	if b.Token != tokB || b.State != "none" || b.Badge != nil || b.At != nil || b.APNsID != render.APNsID("m-42", tokB) {
		t.Errorf("device without a push: %+v", b)
	}
	body := e.call("GET", "/v1/users/bob/pushes/nope", "").must(t, http.StatusOK)
	want := `{"userId":"bob","msgId":"nope","devices":[{"token":"` + tokA + `","kind":"apns","state":"none","apnsId":"` +
		render.APNsID("nope", tokA) + `","registered":true},{"token":"` + tokB + `","kind":"apns","state":"none","apnsId":"` +
		render.APNsID("nope", tokB) + `","registered":true}]}` + "\n"
	if body != want {
		t.Errorf("unknown message:\n got %s\nwant %s", body, want)
	}
	if r := e.call("GET", "/v1/users/bob/pushes/"+strings.Repeat("m", 257), ""); r.code != http.StatusBadRequest || r.errorText() != "msgId: longer than 256 bytes" {
		t.Errorf("long msgId: %d %s", r.code, r.body)
	}
	if r := e.call("GET", "/v1/users/bob/pushes/a%0Ab", ""); r.code != http.StatusBadRequest || r.errorText() != "msgId: must not contain control characters" {
		t.Errorf("control character: %d %s", r.code, r.body)
	}
}

// TestVoIPDevices: setVOIP registers a VoIP token listed with kind voip next to the ordinary
// one; it needs a configured busiId like setToken; DELETE forgets it.
func TestVoIPDevices(t *testing.T) {
	e := newEnv(t)
	e.register("bob", tokA)
	got := decode[stateapi.Device](t, e.call("PUT", "/v1/users/bob/voip-devices/"+tokB, `{"busiId":2383}`), http.StatusOK)
	if got.Token != tokB || got.Kind != "voip" || got.BusiID != 2383 {
		t.Errorf("setVOIP answered %+v", got)
	}
	list := decode[stateapi.DeviceList](t, e.call("GET", "/v1/users/bob/devices", ""), http.StatusOK)
	if len(list.Devices) != 2 || list.Devices[0].Kind != "apns" || list.Devices[1].Kind != "voip" {
		t.Errorf("devices %+v, want one apns and one voip", list.Devices)
	}
	if r := e.call("PUT", "/v1/users/bob/voip-devices/"+tokB, `{"busiId":9}`); r.code != http.StatusBadRequest || r.errorText() != "busiId: 9 is not a configured certificate" {
		t.Errorf("unknown busiId: %d %s", r.code, r.body)
	}
	if r := e.call("PUT", "/v1/users/bob/voip-devices/xyz", `{"busiId":2383}`); r.code != http.StatusBadRequest {
		t.Errorf("bad token: %d %s", r.code, r.body)
	}
	e.call("DELETE", "/v1/users/bob/voip-devices/"+tokB, "").must(t, http.StatusNoContent)
	if devs := e.devices("bob"); len(devs) != 1 || devs[0].Token != tokA {
		t.Errorf("after DELETE: %+v", devs)
	}
}
