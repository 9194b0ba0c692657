package stateapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"offpush/presence"
	"offpush/recipient"
)

// routeTable is every route of the API, documented in openapi.yaml.
var routeTable = []struct {
	pattern string
	fn      handlerFunc
}{
	{"PUT /v1/users/{userId}/devices/{deviceToken}", (*api).setToken},
	{"DELETE /v1/users/{userId}/devices/{deviceToken}", (*api).logout},
	{"POST /v1/users/{userId}/devices/{deviceToken}/background", (*api).background},
	{"POST /v1/users/{userId}/devices/{deviceToken}/foreground", (*api).foreground},
	{"GET /v1/users/{userId}/devices", (*api).devices},
	{"PUT /v1/users/{userId}/apns-config", (*api).setAPNS},
	{"GET /v1/users/{userId}/apns-config", (*api).getAPNSConfig},
	{"PUT /v1/users/{userId}/receive-opts/{conversationId}", (*api).setReceiveOpt},
	{"PUT /v1/users/{userId}/voip-devices/{deviceToken}", (*api).setVoIP},
	{"DELETE /v1/users/{userId}/voip-devices/{deviceToken}", (*api).logout},
	{"GET /v1/users/{userId}/pushes/{msgId}", (*api).explain},
	{"PUT /v1/groups/{groupId}/members/{userId}", (*api).joinGroup},
	{"DELETE /v1/groups/{groupId}/members/{userId}", (*api).leaveGroup},
	{replaceMembersRoute, (*api).replaceMembers},
	{"GET /v1/groups/{groupId}/members", (*api).groupMembers},
}

// Device states of the device responses.
const (
	StateForeground = "foreground" // doForeground, not yet expired: not pushed
	StateBackground = "background" // registered and not in the foreground: pushed
)

// Device is a device in responses.
type Device struct {
	Token     string    `json:"token"`
	Kind      string    `json:"kind"` // KindAPNs or KindVoIP
	BusiID    int       `json:"busiId"`
	State     string    `json:"state"` // StateForeground or StateBackground
	Badge     int64     `json:"badge"`
	UpdatedAt time.Time `json:"updatedAt"` // last setToken
}

// DeviceList is the response of GET /v1/users/{userId}/devices.
type DeviceList struct {
	UserID  string   `json:"userId"`
	Devices []Device `json:"devices"`
}

// APNSConfig is TIMAPNSConfig, the body of setAPNS and the response of getAPNSConfig. An
// absent sound is the default sound.
type APNSConfig struct {
	OpenPush   int    `json:"openPush"`
	C2CSound   string `json:"c2cSound,omitempty"`
	GroupSound string `json:"groupSound,omitempty"`
	Preview    string `json:"preview"` // full, name or none
}

// ReceiveOpt is the response of setReceiveMessageOpt.
type ReceiveOpt struct {
	ConversationID string `json:"conversationId"`
	Opt            string `json:"opt"`
	// The quiet-hours window of "all", when one was set: startTime, duration and timeZone
	// (daily) or startTimestamp and duration (once).
	StartTime      string `json:"startTime,omitempty"`
	StartTimestamp int64  `json:"startTimestamp,omitempty"`
	Duration       int64  `json:"duration,omitempty"`
	TimeZone       string `json:"timeZone,omitempty"`
}

func toDevice(d recipient.Device) Device {
	state := StateBackground
	if d.Foreground {
		state = StateForeground
	}
	return Device{Token: d.Token, Kind: kindName(d.Kind), BusiID: d.BusiID, State: state, Badge: d.Badge, UpdatedAt: d.UpdatedAt}
}

// kindName is the API's name of a device kind.
func kindName(k recipient.DeviceKind) string {
	if k == recipient.KindVoIP {
		return KindVoIP
	}
	return KindAPNs
}

// setToken registers or refreshes a device for a configured certificate and returns it.
func (a *api) setToken(r *http.Request) (any, error) { return a.register(r, a.store.SetToken) }

// setVoIP is setToken for a PushKit (VoIP) token: it receives VoIP pushes only.
func (a *api) setVoIP(r *http.Request) (any, error) { return a.register(r, a.store.SetVoIPToken) }

// register validates a registration and stores it with set.
func (a *api) register(r *http.Request, set func(ctx context.Context, user, token string, busiID int) error) (any, error) {
	user, token, err := deviceParams(r)
	if err != nil {
		return nil, err
	}
	var busiID *int
	if err := decodeBody(r, true, members{"busiId": &busiID}); err != nil {
		return nil, err
	}
	if busiID == nil {
		return nil, badRequest("busiId", "required")
	}
	if !a.certs(*busiID) {
		return nil, badRequest("busiId", "%d is not a configured certificate", *busiID)
	}
	if err := set(r.Context(), user, token, *busiID); err != nil {
		return nil, err
	}
	return a.device(r.Context(), user, token)
}

// logout forgets a device; an unknown one is not an error. 204.
func (a *api) logout(r *http.Request) (any, error) {
	user, token, err := deviceParams(r)
	if err != nil {
		return nil, err
	}
	return nil, a.store.Logout(r.Context(), user, token)
}

// background is doBackground: the device becomes pushable with badge base c2cUnread.
func (a *api) background(r *http.Request) (any, error) {
	user, token, err := deviceParams(r)
	if err != nil {
		return nil, err
	}
	var unread *int64
	if err := decodeBody(r, false, members{"c2cUnread": &unread}); err != nil {
		return nil, err
	}
	n := int64(0)
	if unread != nil {
		n = *unread
	}
	if err := checkUnread(n); err != nil {
		return nil, err
	}
	if err := a.store.Background(r.Context(), user, token, n); err != nil {
		return nil, noDevice(err, user, token)
	}
	return a.device(r.Context(), user, token)
}

// foreground is doForeground: the device is not pushed until the state expires.
func (a *api) foreground(r *http.Request) (any, error) {
	user, token, err := deviceParams(r)
	if err != nil {
		return nil, err
	}
	if err := decodeBody(r, false, nil); err != nil {
		return nil, err
	}
	if err := a.store.Foreground(r.Context(), user, token); err != nil {
		return nil, noDevice(err, user, token)
	}
	return a.device(r.Context(), user, token)
}

// device reads one device of the user back from Redis.
func (a *api) device(ctx context.Context, user, token string) (any, error) {
	devs, err := a.store.Devices(ctx, user)
	if err != nil {
		return nil, err
	}
	for _, d := range devs {
		if d.Token == token {
			return toDevice(d), nil
		}
	}
	// Moved to another user or logged out since this request wrote it.
	return nil, noDevice(presence.ErrNoDevice, user, token)
}

// noDevice turns presence.ErrNoDevice into a 404; other errors pass.
func noDevice(err error, user, token string) error {
	if errors.Is(err, presence.ErrNoDevice) {
		return &apiError{http.StatusNotFound, fmt.Sprintf("device %s not registered for user %q", token, user)}
	}
	return err
}

// devices lists the user's devices (an unknown user has none).
func (a *api) devices(r *http.Request) (any, error) {
	user, err := userParam(r)
	if err != nil {
		return nil, err
	}
	devs, err := a.store.Devices(r.Context(), user)
	if err != nil {
		return nil, err
	}
	out := DeviceList{UserID: user, Devices: make([]Device, len(devs))}
	for i, d := range devs {
		out.Devices[i] = toDevice(d)
	}
	return out, nil
}

// setAPNS replaces the user's TIMAPNSConfig: an absent openPush is 0 (not set), an absent
// sound the default sound.
func (a *api) setAPNS(r *http.Request) (any, error) {
	user, err := userParam(r)
	if err != nil {
		return nil, err
	}
	var openPush *int
	var c2c, group, preview *string
	fields := members{"openPush": &openPush, "c2cSound": &c2c, "groupSound": &group, "preview": &preview}
	if err := decodeBody(r, true, fields); err != nil {
		return nil, err
	}
	cfg, err := apnsConfig(openPush, c2c, group, preview)
	if err != nil {
		return nil, err
	}
	st := recipient.Settings{OpenPush: cfg.OpenPush, C2CSound: cfg.C2CSound, GroupSound: cfg.GroupSound, Preview: recipient.Preview(cfg.Preview)}
	if err := a.store.SetSettings(r.Context(), user, st); err != nil {
		return nil, err
	}
	return cfg, nil
}

// apnsConfig validates setAPNS's members.
func apnsConfig(openPush *int, c2c, group, preview *string) (APNSConfig, error) {
	cfg := APNSConfig{Preview: string(recipient.PreviewFull)}
	if preview != nil {
		if err := checkPreview(*preview); err != nil {
			return cfg, err
		}
		cfg.Preview = *preview
	}
	if openPush != nil {
		if err := checkOpenPush(*openPush); err != nil {
			return cfg, err
		}
		cfg.OpenPush = *openPush
	}
	for _, s := range []struct {
		field string
		in    *string
		out   *string
	}{{"c2cSound", c2c, &cfg.C2CSound}, {"groupSound", group, &cfg.GroupSound}} {
		if s.in == nil {
			continue
		}
		if err := checkSound(s.field, *s.in); err != nil {
			return cfg, err
		}
		*s.out = *s.in
	}
	return cfg, nil
}

// getAPNSConfig reads the user's TIMAPNSConfig from Redis (no cache). Receive options are not
// part of TIMAPNSConfig and are left out, so that the response can be PUT back as it is.
func (a *api) getAPNSConfig(r *http.Request) (any, error) {
	user, err := userParam(r)
	if err != nil {
		return nil, err
	}
	st, err := a.store.GetSettings(r.Context(), user)
	if err != nil {
		return nil, err
	}
	return APNSConfig{OpenPush: st.OpenPush, C2CSound: st.C2CSound, GroupSound: st.GroupSound,
		Preview: string(cmp.Or(st.Preview, recipient.PreviewFull))}, nil
}

// setReceiveOpt is setReceiveMessageOpt for one conversation or "all", and, with a window in
// the body, setAllReceiveMessageOpt(WithTimestamp): quiet hours on "all".
func (a *api) setReceiveOpt(r *http.Request) (any, error) {
	user, err := userParam(r)
	if err != nil {
		return nil, err
	}
	conv, err := convParam(r)
	if err != nil {
		return nil, err
	}
	var opt *string
	var spec recipient.WindowSpec
	fields := members{"opt": &opt, "startTime": &spec.StartTime, "startTimestamp": &spec.StartTimestamp,
		"duration": &spec.Duration, "timeZone": &spec.TimeZone}
	if err := decodeBody(r, true, fields); err != nil {
		return nil, err
	}
	if err := checkOpt(opt); err != nil {
		return nil, err
	}
	w, err := window(conv, spec)
	if err != nil {
		return nil, err
	}
	o := recipient.ReceiveOpt(*opt)
	out := ReceiveOpt{ConversationID: conv, Opt: *opt}
	if w == nil || o == recipient.Receive {
		if err := a.store.SetReceiveOpt(r.Context(), user, conv, o); err != nil {
			return nil, err
		}
		return out, nil
	}
	if err := a.store.SetReceiveWindow(r.Context(), user, o, *w); err != nil {
		return nil, err
	}
	out.Duration, out.TimeZone = w.Duration, w.TimeZone
	if w.Daily {
		out.StartTime = w.StartTime()
	} else {
		out.StartTimestamp = w.Start
	}
	return out, nil
}
