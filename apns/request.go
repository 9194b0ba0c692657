package apns

import "time"

// Request is one push as the provider API takes it: the request headers and the exact payload
// bytes, which the senders put on the wire without re-encoding.
type Request struct {
	ID         string    // apns-id, a UUID; empty lets APNs choose one
	Token      string    // device token: the :path is /3/device/{Token}
	Topic      string    // apns-topic: the app's bundle id (".voip" appended for VoIP pushes)
	PushType   string    // apns-push-type: "alert", "background" or "voip"
	Priority   int       // apns-priority: 10 (immediate) or 5 (power-considerate)
	Expiration time.Time // apns-expiration; zero sends "0": deliver once, do not store
	CollapseID string    // apns-collapse-id, at most 64 bytes; empty for none
	Payload    []byte    // the JSON payload
}
