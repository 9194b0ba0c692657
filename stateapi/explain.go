package stateapi

import (
	"context"
	"net/http"
	"time"

	"offpush/presence"
	"offpush/render"
)

// PushReport is the response of GET /v1/users/{userId}/pushes/{msgId}: what offpush did with
// one message for each device of the user.
type PushReport struct {
	UserID  string       `json:"userId"`
	MsgID   string       `json:"msgId"`
	Devices []DevicePush `json:"devices"`
}

// DevicePush is the push of the message to one device. At, Badge and Attempts are left out
// when unknown (no push, a pending push's attempts, a push without badge).
type DevicePush struct {
	Token string `json:"token"`
	Kind  string `json:"kind"` // KindAPNs or KindVoIP
	// State is sent, pending, dead_letter, token_removed or none (presence.PushState).
	State    string     `json:"state"`
	At       *time.Time `json:"at,omitempty"`
	Badge    *int64     `json:"badge,omitempty"`
	Attempts int        `json:"attempts,omitempty"`
	// APNsID is the apns-id offpush sends for this push (render.APNsID), whether or not it
	// was sent: support can quote it to Apple.
	APNsID string `json:"apnsId"`
	// Registered is false for a token no longer registered (logged out, moved, or removed
	// after APNs declared it dead) that a push of the message touched.
	Registered bool `json:"registered"`
}

// Device kinds of Device.Kind and DevicePush.Kind.
const (
	KindAPNs = "apns" // an ordinary device token (setToken)
	KindVoIP = "voip" // a PushKit token (setVOIP)
)

// Explain is the push report of message msgID for userID from store, as the API answers it
// and `offpush explain` prints it.
func Explain(ctx context.Context, store *presence.Store, userID, msgID string) (PushReport, error) {
	recs, err := store.Explain(ctx, userID, msgID)
	if err != nil {
		return PushReport{}, err
	}
	out := PushReport{UserID: userID, MsgID: msgID, Devices: make([]DevicePush, len(recs))}
	for i, r := range recs {
		d := DevicePush{Token: r.Token, Kind: kindName(r.Kind), State: string(r.State), Attempts: r.Attempts,
			APNsID: render.APNsID(msgID, r.Token), Registered: r.Registered}
		if !r.At.IsZero() {
			at := r.At.UTC()
			d.At = &at
		}
		if r.Badge >= 0 {
			b := r.Badge
			d.Badge = &b
		}
		out.Devices[i] = d
	}
	return out, nil
}

// explain is GET /v1/users/{userId}/pushes/{msgId}.
func (a *api) explain(r *http.Request) (any, error) {
	user, err := userParam(r)
	if err != nil {
		return nil, err
	}
	msg := r.PathValue("msgId")
	if err := checkID("msgId", msg); err != nil {
		return nil, err
	}
	return Explain(r.Context(), a.store, user, msg)
}
