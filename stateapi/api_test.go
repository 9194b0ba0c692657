package stateapi_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"offpush/recipient"
	"offpush/stateapi"
)

// TestSetToken: setToken stores the device lower-cased for the certificate and answers with
// it as read back; a refresh keeps badge and state and may change the certificate.
func TestSetToken(t *testing.T) {
	e := newEnv(t)
	before := time.Now().Truncate(time.Millisecond)
	r := e.call("PUT", "/v1/users/bob/devices/"+strings.ToUpper(tokA), `{"busiId":2382}`)
	got := decode[stateapi.Device](t, r, http.StatusOK)
	if got.Token != tokA || got.BusiID != 2382 || got.State != stateapi.StateBackground || got.Badge != 0 || got.UpdatedAt.Before(before) {
		t.Errorf("response %+v, want token %s busiId 2382 background badge 0 updated now", got, tokA)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	devs := e.devices("bob")
	if len(devs) != 1 || devs[0].Token != tokA || devs[0].BusiID != 2382 {
		t.Fatalf("store has %+v, want %s with busiId 2382", devs, tokA)
	}

	must(t, e.store.Background(context.Background(), "bob", tokA, 7))
	got = decode[stateapi.Device](t, e.call("PUT", "/v1/users/bob/devices/"+tokA, `{"busiId":2516}`), http.StatusOK)
	if got.BusiID != 2516 || got.Badge != 7 {
		t.Errorf("refresh answered %+v, want busiId 2516 and the badge 7 kept", got)
	}
	if devs := e.devices("bob"); devs[0].BusiID != 2516 {
		t.Errorf("store has busiId %d after refresh, want 2516", devs[0].BusiID)
	}
}

// TestSetTokenCharset: a charset parameter on application/json is fine.
func TestSetTokenCharset(t *testing.T) {
	e := newEnv(t)
	req := e.request("PUT", "/v1/users/bob/devices/"+tokA, `{"busiId":2383}`)
	req.Header.Set("Content-Type", "Application/JSON; charset=utf-8")
	e.send(req).must(t, http.StatusOK)
	if devs := e.devices("bob"); len(devs) != 1 || devs[0].BusiID != 2383 {
		t.Errorf("store has %+v", devs)
	}
}

// TestTokenMovesBetweenUsers: a phone changes hands; the old user loses the token and can no
// longer change its state.
func TestTokenMovesBetweenUsers(t *testing.T) {
	e := newEnv(t)
	e.register("alice", tokA)
	e.register("bob", tokA)
	if devs := e.devices("alice"); len(devs) != 0 {
		t.Errorf("alice still has %+v", devs)
	}
	if devs := e.devices("bob"); len(devs) != 1 || devs[0].Token != tokA {
		t.Errorf("bob has %+v, want %s", devs, tokA)
	}
	r := e.call("POST", "/v1/users/alice/devices/"+tokA+"/background", `{"c2cUnread":1}`)
	r.must(t, http.StatusNotFound)
	if want := "device " + tokA + ` not registered for user "alice"`; r.errorText() != want {
		t.Errorf("error %q, want %q", r.errorText(), want)
	}
}

// TestLogout: logout forgets the device (any case of the token) and answers 204 without a
// body; logging out an unknown device is not an error.
func TestLogout(t *testing.T) {
	e := newEnv(t)
	e.register("bob", tokA)
	e.register("bob", tokB)
	if body := e.call("DELETE", "/v1/users/bob/devices/"+strings.ToUpper(tokA), "").must(t, http.StatusNoContent); body != "" {
		t.Errorf("204 with body %q", body)
	}
	if devs := e.devices("bob"); len(devs) != 1 || devs[0].Token != tokB {
		t.Errorf("after logout bob has %+v, want only %s", devs, tokB)
	}
	e.call("DELETE", "/v1/users/bob/devices/"+tokA, "").must(t, http.StatusNoContent)
}

// TestBackgroundForeground: doBackground sets the badge base and clears the foreground state,
// doForeground sets it and resets the badge; both answer with the device as stored.
func TestBackgroundForeground(t *testing.T) {
	e := newEnv(t)
	e.register("bob", tokA)
	path := "/v1/users/bob/devices/" + tokA
	tests := []struct {
		name, method, path, body string
		state                    string
		badge                    int64
	}{
		// Foreground without a body.
		{"foreground", "POST", path + "/foreground", "", stateapi.StateForeground, 0},
		// Background with an unread count: pushable, badge base 3.
		{"background", "POST", path + "/background", `{"c2cUnread":3}`, stateapi.StateBackground, 3},
		// Foreground with an empty object.
		{"foreground {}", "POST", path + "/foreground", `{}`, stateapi.StateForeground, 0},
		// Background without a body: unread 0.
		{"background no body", "POST", path + "/background", "", stateapi.StateBackground, 0},
		// Background with {} and then with the largest unread count.
		{"background {}", "POST", path + "/background", `{}`, stateapi.StateBackground, 0},
		{"background max", "POST", path + "/background", `{"c2cUnread":1000000}`, stateapi.StateBackground, 1000000},
	}
	for _, tt := range tests {
		got := decode[stateapi.Device](t, e.call(tt.method, tt.path, tt.body), http.StatusOK)
		if got.State != tt.state || got.Badge != tt.badge || got.Token != tokA {
			t.Errorf("%s: answered %+v, want %s badge %d", tt.name, got, tt.state, tt.badge)
		}
		d := e.devices("bob")[0]
		if d.Foreground != (tt.state == stateapi.StateForeground) || d.Badge != tt.badge {
			t.Errorf("%s: store has foreground=%v badge %d", tt.name, d.Foreground, d.Badge)
		}
	}
}

// TestStateOfUnknownDevice: doBackground and doForeground of a token the user has not
// registered are 404 naming device and user, and write nothing.
func TestStateOfUnknownDevice(t *testing.T) {
	e := newEnv(t)
	e.register("alice", tokA)
	for _, p := range []string{"/background", "/foreground"} {
		r := e.call("POST", "/v1/users/bob/devices/"+strings.ToUpper(tokA)+p, "")
		r.must(t, http.StatusNotFound)
		if want := "device " + tokA + ` not registered for user "bob"`; r.errorText() != want {
			t.Errorf("%s: error %q, want %q", p, r.errorText(), want)
		}
	}
	if devs := e.devices("bob"); len(devs) != 0 {
		t.Errorf("bob has %+v", devs)
	}
	if d := e.devices("alice"); d[0].Foreground {
		t.Error("alice's device went to the foreground")
	}
}

// TestDevices: the support listing shows each device's state and badge, sorted by token;
// an unknown user has an empty list (not null).
func TestDevices(t *testing.T) {
	e := newEnv(t)
	e.register("bob", tokB)
	e.register("bob", tokA)
	e.call("POST", "/v1/users/bob/devices/"+tokA+"/foreground", "").must(t, http.StatusOK)
	e.call("POST", "/v1/users/bob/devices/"+tokB+"/background", `{"c2cUnread":4}`).must(t, http.StatusOK)
	got := decode[stateapi.DeviceList](t, e.call("GET", "/v1/users/bob/devices", ""), http.StatusOK)
	if got.UserID != "bob" || len(got.Devices) != 2 {
		t.Fatalf("got %+v", got)
	}
	a, b := got.Devices[0], got.Devices[1]
	if a.Token != tokA || a.State != "foreground" || a.Badge != 0 || b.Token != tokB || b.State != "background" || b.Badge != 4 || b.BusiID != 2382 {
		t.Errorf("devices %+v", got.Devices)
	}
	if body := e.call("GET", "/v1/users/nobody/devices", "").must(t, http.StatusOK); body != `{"userId":"nobody","devices":[]}`+"\n" {
		t.Errorf("unknown user: %s", body)
	}
}

// TestAPNSConfig: setAPNS stores TIMAPNSConfig, replacing it as a whole; getAPNSConfig reads it
// back, and reads Redis every time: a change made behind the API's back shows at once.
func TestAPNSConfig(t *testing.T) {
	e := newEnv(t)
	path := "/v1/users/bob/apns-config"
	if body := e.call("GET", path, "").must(t, http.StatusOK); body != `{"openPush":0,"preview":"full"}`+"\n" {
		t.Errorf("defaults: %s", body)
	}
	put := decode[stateapi.APNSConfig](t, e.call("PUT", path, `{"openPush":1,"c2cSound":"a.caf","groupSound":"b.caf"}`), http.StatusOK)
	want := stateapi.APNSConfig{OpenPush: 1, C2CSound: "a.caf", GroupSound: "b.caf", Preview: "full"}
	if put != want {
		t.Errorf("PUT answered %+v", put)
	}
	if st := e.settings("bob"); st.OpenPush != 1 || st.C2CSound != "a.caf" || st.GroupSound != "b.caf" {
		t.Errorf("store has %+v", st)
	}
	r := e.call("GET", path, "")
	if got := decode[stateapi.APNSConfig](t, r, http.StatusOK); got != want {
		t.Errorf("GET %+v, want %+v", got, want)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}

	must(t, e.store.SetSettings(context.Background(), "bob", recipient.Settings{OpenPush: 2, GroupSound: "push.no_sound"}))
	if body := e.call("GET", path, "").must(t, http.StatusOK); body != `{"openPush":2,"groupSound":"push.no_sound","preview":"full"}`+"\n" {
		t.Errorf("after a direct store change GET answered %s", body)
	}

	// A PUT without sounds (or with null) removes them; its answer can be PUT back.
	e.call("PUT", path, `{"openPush":2,"c2cSound":null}`).must(t, http.StatusOK)
	if st := e.settings("bob"); st.OpenPush != 2 || st.C2CSound != "" || st.GroupSound != "" {
		t.Errorf("store has %+v after PUT without sounds", st)
	}
	body := e.call("GET", path, "").must(t, http.StatusOK)
	e.call("PUT", path, body).must(t, http.StatusOK)
}

// TestReceiveOpts: setReceiveMessageOpt per c2c peer, group and "all"; "receive" deletes.
func TestReceiveOpts(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		conv, opt string
		want      map[string]recipient.ReceiveOpt
	}{
		// A group muted.
		{"group:g-42", "notNotify", map[string]recipient.ReceiveOpt{"group:g-42": recipient.NotNotify}},
		// A c2c peer not received; ids may hold any printable UTF-8, braces included.
		{"c2c:al{i}ce-é", "notReceive", map[string]recipient.ReceiveOpt{"group:g-42": recipient.NotNotify, "c2c:al{i}ce-é": recipient.NotReceive}},
		// Everything: only @-mentions.
		{"all", "notNotifyExceptAt", map[string]recipient.ReceiveOpt{"group:g-42": recipient.NotNotify, "c2c:al{i}ce-é": recipient.NotReceive, "all": recipient.NotNotifyExceptAt}},
		// receive is the default: the stored option goes away.
		{"group:g-42", "receive", map[string]recipient.ReceiveOpt{"c2c:al{i}ce-é": recipient.NotReceive, "all": recipient.NotNotifyExceptAt}},
	}
	for _, tt := range tests {
		r := e.call("PUT", "/v1/users/bob/receive-opts/"+escape(tt.conv), `{"opt":"`+tt.opt+`"}`)
		got := decode[stateapi.ReceiveOpt](t, r, http.StatusOK)
		if got.ConversationID != tt.conv || got.Opt != tt.opt {
			t.Errorf("%s %s: answered %+v", tt.conv, tt.opt, got)
		}
		if st := e.settings("bob"); !reflect.DeepEqual(st.ReceiveOpts, tt.want) {
			t.Errorf("%s %s: store has %v, want %v", tt.conv, tt.opt, st.ReceiveOpts, tt.want)
		}
	}
}

// escape percent-encodes what a path segment cannot hold as is (a segment of dots would be
// cleaned away).
func escape(s string) string {
	if strings.Trim(s, ".") == "" {
		return strings.Repeat("%2E", len(s))
	}
	r := strings.NewReplacer("{", "%7B", "}", "%7D", "/", "%2F", "?", "%3F", "#", "%23", "%", "%25")
	return r.Replace(s)
}

// TestUserIDs: user ids with spaces, slashes, non-ASCII and 256 bytes work end to end.
func TestUserIDs(t *testing.T) {
	e := newEnv(t)
	for _, user := range []string{"a b", "a/b", "ü-用户", strings.Repeat("x", 256), "%", ".."} {
		e.call("PUT", "/v1/users/"+escape(user)+"/devices/"+tokA, `{"busiId":2382}`).must(t, http.StatusOK)
		if devs := e.devices(user); len(devs) != 1 {
			t.Errorf("user %q has %+v", user, devs)
		}
	}
}
