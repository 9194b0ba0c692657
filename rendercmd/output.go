package rendercmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"offpush/event"
	"offpush/render"
)

// line is one output line: the request for one device, or why there is none.
type line struct {
	UserID  string          `json:"userId"`
	Token   *string         `json:"token"`
	Skip    *string         `json:"skip"`
	Error   string          `json:"error,omitempty"`
	Headers *headers        `json:"headers"`
	Payload json.RawMessage `json:"payload"`
}

// headers are the APNs request headers as HTTP sends them.
type headers struct {
	Topic      string `json:"apns-topic"`
	PushType   string `json:"apns-push-type"`
	Priority   string `json:"apns-priority"`
	Expiration string `json:"apns-expiration"`
	CollapseID string `json:"apns-collapse-id"`
	ID         string `json:"apns-id"`
}

// write prints the lines of every recipient of m; sf nil means no settings file.
func write(ctx context.Context, w io.Writer, m *event.Message, sf *settingsFile, opts render.Options, now time.Time) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // the payload is printed byte for byte
	if m.ToMembers() {
		return fmt.Errorf("event %s has no recipients: the worker reads them from group %s's membership in Redis; list recipients to preview it", m.ID, m.Group.ID)
	}
	p := render.Prepare(m, opts)
	if sf == nil {
		sf = &settingsFile{Certificates: devCertificates, defaults: true}
	}
	for _, userID := range m.Recipients {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, l := range sf.lines(p, userID, now) {
			if err := enc.Encode(l); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	}
	return nil
}

// lines renders the message for every device of userID.
func (f *settingsFile) lines(p *render.Prepared, userID string, now time.Time) []line {
	u, ok := f.Users[userID]
	if f.defaults {
		u, ok = userState{Devices: []device{defaultDevice}}, true
	}
	if p.Revoke() {
		return f.recallLines(p, userID, u)
	}
	s := u.settings()
	targets := 0
	for _, d := range u.Devices {
		if p.Targets(d.asPresence()) {
			targets++
		}
	}
	var out []line
	if !ok || targets == 0 { // the user's skip reason, else no_device
		_, skip := p.Render(userID, s, nil, "", now)
		out = append(out, line{UserID: userID, Skip: skipName(skip)})
	}
	for _, d := range u.Devices {
		c, known := f.certificate(d.BusiID)
		n, skip := p.Render(userID, s, d.asPresence(), c.BundleID, now)
		l := line{UserID: userID, Token: &d.Token}
		switch {
		case skip != render.NoSkip:
			l.Skip = skipName(skip)
		case !known || !c.sends(p.VoIP()):
			l.Error = unknownCertificate
		default:
			l.Headers, l.Payload = headersOf(n), n.Payload
		}
		out = append(out, l)
	}
	return out
}

// recallLines shows a recall's replacement for every ordinary device of the user, as if the
// original had been sent and had counted a badge (the settings file cannot say what was
// sent: the worker reads that from the dedupe records): the badge one below the device's.
func (f *settingsFile) recallLines(p *render.Prepared, userID string, u userState) []line {
	var out []line
	for _, d := range u.Devices {
		l := line{UserID: userID, Token: &d.Token}
		c, known := f.certificate(d.BusiID)
		switch {
		case d.Kind == kindVoIP:
			l.Skip = skipName(render.OtherKind)
		case !known || !c.sends(false):
			l.Error = unknownCertificate
		default:
			n := p.Notification(d.Token, c.BundleID, render.Style{}, max(d.Badge-1, 0))
			l.Headers, l.Payload = headersOf(n), n.Payload
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		out = append(out, line{UserID: userID, Skip: skipName(render.NoDevice)})
	}
	return out
}

func skipName(s render.Skip) *string {
	name := s.String()
	return &name
}

// headersOf is the HTTP form of n's headers.
func headersOf(n render.Notification) *headers {
	exp := "0"
	if !n.Expiration.IsZero() {
		exp = strconv.FormatInt(n.Expiration.Unix(), 10)
	}
	return &headers{
		Topic:      n.Topic,
		PushType:   n.PushType,
		Priority:   strconv.Itoa(n.Priority),
		Expiration: exp,
		CollapseID: n.CollapseID,
		ID:         n.ID,
	}
}
