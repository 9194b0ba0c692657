package render

import "time"

// Notification is one APNs request as offpush sends it: the provider API headers and the exact
// payload bytes. The apns package turns it into an HTTP/2 request without re-encoding.
type Notification struct {
	Token      string    // device token, the :path is /3/device/{Token}
	Topic      string    // apns-topic: the certificate's bundle id
	PushType   string    // apns-push-type: "alert"
	Priority   int       // apns-priority: 10 (immediate)
	Expiration time.Time // apns-expiration; zero means "0": deliver once, do not store
	CollapseID string    // apns-collapse-id: the message id, hashed when longer than 64 bytes
	Payload    []byte    // the APNs JSON payload, at most MaxPayload bytes
}

// MaxPayload is Apple's limit for a regular remote notification payload, in bytes.
const MaxPayload = 4096
