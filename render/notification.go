package render

import (
	"crypto/sha1"
	"time"

	"github.com/google/uuid"
)

// Notification is one rendered push: the provider API headers and the exact payload bytes.
// The pipeline hands it to the apns package as an apns.Request, field for field.
type Notification struct {
	ID         string    // apns-id: APNsID(message id, Token)
	Token      string    // device token, the :path is /3/device/{Token}
	Topic      string    // apns-topic: the certificate's bundle id
	PushType   string    // apns-push-type: "alert" or "voip"
	Priority   int       // apns-priority: 10 (immediate) or 5
	Expiration time.Time // apns-expiration; zero means "0": deliver once, do not store
	CollapseID string    // apns-collapse-id: the message id, hashed when longer than 64 bytes
	Payload    []byte    // the APNs JSON payload, at most MaxPayload bytes
}

// MaxPayload is Apple's limit for a regular remote notification payload, in bytes.
const MaxPayload = 4096

// MaxVoIPPayload is Apple's limit for a VoIP notification payload, in bytes.
const MaxVoIPPayload = 5120

// apnsIDSpace is the namespace of APNsID: the name-based (SHA-1) UUID of the URL
// "offpush:apns-id".
var apnsIDSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("offpush:apns-id"))

// APNsID is the apns-id offpush sends with the push of message msgID to token: the
// name-based UUID (version 5) of msgID + "/" + token in apnsIDSpace. Every attempt, resend
// and replay of one push carries the same id, and support can derive it from the message id
// and token alone to quote it to Apple, without offpush storing it.
//
// It computes what uuid.NewSHA1 does (SHA-1 of the namespace and the name, then the version
// and variant bits) from one stack buffer, without NewSHA1's hash object and name copy.
func APNsID(msgID, token string) string {
	var buf [256]byte
	b := append(append(append(append(buf[:0], apnsIDSpace[:]...), msgID...), '/'), token...)
	sum := sha1.Sum(b)
	var id uuid.UUID
	copy(id[:], sum[:])
	id[6] = id[6]&0x0f | 5<<4 // version 5: name-based, SHA-1
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id.String()
}
