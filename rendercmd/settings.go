package rendercmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"offpush/recipient"
	"slices"
)

// settingsFile is the --settings file: what Redis would hold.
type settingsFile struct {
	Users        map[string]userState `json:"users"`
	Certificates []certificate        `json:"certificates"`

	defaults bool // no file: every user has one default device
}

// userState is one user's settings and devices.
type userState struct {
	APNSConfig  apnsConfig              `json:"apnsConfig"`
	ReceiveOpts map[string]receiveValue `json:"receiveOpts"`
	Devices     []device                `json:"devices"`
}

// apnsConfig is TIMAPNSConfig as setAPNS stores it.
type apnsConfig struct {
	OpenPush   int               `json:"openPush"`
	C2CSound   string            `json:"c2cSound"`
	GroupSound string            `json:"groupSound"`
	Preview    recipient.Preview `json:"preview"`
}

// receiveValue is a receive option: the option string, or the state API's body object
// {"opt":…} with a quiet-hours window (on "all"). validate builds Window.
type receiveValue struct {
	Opt    recipient.ReceiveOpt
	spec   recipient.WindowSpec
	Window *recipient.Window
}

// UnmarshalJSON takes the option string or the body object, strictly.
func (v *receiveValue) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &v.Opt)
	}
	var body struct {
		Opt recipient.ReceiveOpt `json:"opt"`
		recipient.WindowSpec
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return err
	}
	v.Opt, v.spec = body.Opt, body.WindowSpec
	return nil
}

// device is one registered device token with its state.
type device struct {
	Token  string `json:"token"`
	Kind   string `json:"kind"` // "apns" (also when empty) or "voip" (setVOIP)
	BusiID int    `json:"busiId"`
	State  string `json:"state"` // "background" (also when empty) or "foreground"
	Badge  int64  `json:"badge"` // the current count; the push carries badge+1
}

// certificate maps a busiId to its bundle id, the apns-topic (VoIP pushes go to its .voip
// topic), and the kinds of push it sends.
type certificate struct {
	ID       int    `json:"id"`
	BundleID string `json:"bundleId"`
	// Kinds is what the certificate sends: ["apns"] by default (certificate auth), ["voip"]
	// for a VoIP Services certificate, both for a token-auth key.
	Kinds []string `json:"kinds"`
}

// sends reports whether c sends VoIP pushes (voip) or ordinary ones.
func (c certificate) sends(voip bool) bool {
	kinds := c.Kinds
	if len(kinds) == 0 {
		kinds = []string{kindAPNs}
	}
	want := kindAPNs
	if voip {
		want = kindVoIP
	}
	return slices.Contains(kinds, want)
}

// Kinds of devices and certificates in the settings file.
const (
	kindAPNs = "apns"
	kindVoIP = "voip"
)

// Device states of the settings file.
const (
	stateBackground = "background"
	stateForeground = "foreground"
)

// devCertificates are the certificates of `offpush dev`, used when the settings
// give none.
var devCertificates = []certificate{
	{ID: 2382, BundleID: "com.example.im"},
	{ID: 2383, BundleID: "com.example.im"},
	{ID: 2516, BundleID: "com.example.im.enterprise", Kinds: []string{kindAPNs, kindVoIP}},
	{ID: 2390, BundleID: "com.example.im", Kinds: []string{kindVoIP}},
}

// defaultDevice is the one device of every recipient when there is no settings file.
var defaultDevice = device{Token: "-", BusiID: 2382, State: stateBackground}

// parseSettings decodes a settings file strictly: unknown fields, trailing data and invalid
// values are errors that name the field.
func parseSettings(data []byte) (*settingsFile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f settingsFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the settings object")
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	if len(f.Certificates) == 0 {
		f.Certificates = devCertificates
	}
	return &f, nil
}

// validate checks the values encoding/json cannot.
func (f *settingsFile) validate() error {
	seen := map[int]bool{}
	for i, c := range f.Certificates {
		switch {
		case c.BundleID == "":
			return fmt.Errorf("certificates[%d].bundleId: required", i)
		case seen[c.ID]:
			return fmt.Errorf("certificates[%d].id: %d listed twice", i, c.ID)
		}
		for _, k := range c.Kinds {
			if k != kindAPNs && k != kindVoIP {
				return fmt.Errorf("certificates[%d].kinds: %q, want apns or voip", i, k)
			}
		}
		seen[c.ID] = true
	}
	for name, u := range f.Users {
		if err := u.validate(); err != nil {
			return fmt.Errorf("users.%s.%w", name, err)
		}
	}
	return nil
}

// validate checks one user's settings; errors start with the field path below the user.
func (u *userState) validate() error {
	if o := u.APNSConfig.OpenPush; o < recipient.OpenPushUnset || o > recipient.OpenPushOff {
		return fmt.Errorf("apnsConfig.openPush: %d, want 0, 1 or 2", o)
	}
	if !u.APNSConfig.Preview.Valid() {
		return fmt.Errorf("apnsConfig.preview: %q, want full, name or none", u.APNSConfig.Preview)
	}
	for conv, o := range u.ReceiveOpts {
		if !o.Opt.Valid() {
			return fmt.Errorf("receiveOpts[%q]: unknown option %q", conv, o.Opt)
		}
		w, err := o.spec.Window()
		switch {
		case err != nil:
			return fmt.Errorf("receiveOpts[%q].%w", conv, err)
		case w != nil && conv != recipient.AllConversations:
			return fmt.Errorf("receiveOpts[%q]: a time window applies to \"all\" only", conv)
		}
		o.Window = w
		u.ReceiveOpts[conv] = o
	}
	for i, d := range u.Devices {
		switch {
		case d.Token == "":
			return fmt.Errorf("devices[%d].token: required", i)
		case d.Kind != "" && d.Kind != kindAPNs && d.Kind != kindVoIP:
			return fmt.Errorf("devices[%d].kind: %q, want apns or voip", i, d.Kind)
		case d.State != "" && d.State != stateBackground && d.State != stateForeground:
			return fmt.Errorf("devices[%d].state: %q, want background or foreground", i, d.State)
		case d.Badge < 0:
			return fmt.Errorf("devices[%d].badge: %d, want >= 0", i, d.Badge)
		}
	}
	return nil
}

// settings is the user's settings in the form render takes.
func (u *userState) settings() *recipient.Settings {
	s := &recipient.Settings{
		OpenPush:   u.APNSConfig.OpenPush,
		C2CSound:   u.APNSConfig.C2CSound,
		GroupSound: u.APNSConfig.GroupSound,
		Preview:    u.APNSConfig.Preview,
	}
	if len(u.ReceiveOpts) > 0 {
		s.ReceiveOpts = make(map[string]recipient.ReceiveOpt, len(u.ReceiveOpts))
		for conv, o := range u.ReceiveOpts {
			s.ReceiveOpts[conv] = o.Opt
			if conv == recipient.AllConversations {
				s.AllWindow = o.Window
			}
		}
	}
	return s
}

// asPresence is the device in the form render takes.
func (d *device) asPresence() *recipient.Device {
	pd := &recipient.Device{Token: d.Token, BusiID: d.BusiID, Foreground: d.State == stateForeground, Badge: d.Badge}
	if d.Kind == kindVoIP {
		pd.Kind = recipient.KindVoIP
	}
	return pd
}

// certificate is the certificate busiID, or false when there is none.
func (f *settingsFile) certificate(busiID int) (certificate, bool) {
	for _, c := range f.Certificates {
		if c.ID == busiID {
			return c, true
		}
	}
	return certificate{}, false
}
