package apns

import (
	"errors"
	"net/http"
	"time"

	"github.com/sideshow/apns2"
)

// Class is what the pipeline should do with a notification after one APNs answer. Every answer
// is classified once, here, by Classify; the words of String are used in logs and metric labels.
type Class uint8

// Classes of an APNs answer, from Apple's "Handling notification responses from APNs" (status
// codes and reason strings, mirrored by the apns2 Reason constants): every answer is
// classified once, here.
const (
	Sent        Class = iota // 200: APNs accepted the notification
	TokenDead                // 410, BadDeviceToken, DeviceTokenNotForTopic: remove the device token
	Retry                    // 429, 5xx, network errors, timeouts: send again later
	RefreshAuth              // 403 ExpiredProviderToken: the JWT was regenerated, send again
	Permanent                // anything else: the request itself is wrong; dead-letter it
	numClasses
)

var classNames = [numClasses]string{
	Sent:        "sent",
	TokenDead:   "token_dead",
	Retry:       "retry",
	RefreshAuth: "refresh_auth",
	Permanent:   "permanent",
}

func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "unknown"
}

// ReasonUnknownCertificate is the Result.Reason (and the DLQ offpush-reason) of a notification
// whose busiId has no configured certificate.
const ReasonUnknownCertificate = "unknown_certificate"

// ErrUnknownCertificate is the Result.Err of a notification whose busiId has no certificate.
var ErrUnknownCertificate = errors.New("apns: unknown certificate")

// Classify maps one APNs answer to a Class: the HTTP status and reason APNs gave
// (apns2.Response.StatusCode and Reason). A request without an answer (network failure,
// timeout) is Retry; the sender classifies it so without asking Classify.
func Classify(status int, reason string) Class {
	switch reason {
	case apns2.ReasonBadDeviceToken, apns2.ReasonDeviceTokenNotForTopic:
		return TokenDead
	case apns2.ReasonExpiredProviderToken:
		return RefreshAuth
	case apns2.ReasonIdleTimeout:
		// The connection, not the notification, timed out: a fresh request succeeds.
		return Retry
	}
	switch {
	case status == http.StatusOK:
		return Sent
	case status == http.StatusGone:
		return TokenDead
	case status == http.StatusTooManyRequests, status >= http.StatusInternalServerError:
		return Retry
	}
	return Permanent
}

// Result is the outcome of one Send: the class, what APNs answered, and how long it took.
type Result struct {
	Class  Class
	Status int    // HTTP status from APNs; 0 when there was no answer
	Reason string // APNs reason ("BadDeviceToken"), or ReasonUnknownCertificate
	ApnsID string // apns-id response header

	// Timestamp is, for 410, the last time APNs confirmed the token was invalid for the topic.
	Timestamp time.Time

	// RetryAfter is a hint for Retry answers: the Retry-After header when APNs sends one,
	// else 1s for 429 and 0 otherwise.
	RetryAfter time.Duration

	Err      error         // no answer (network, timeout, ctx), or ErrUnknownCertificate
	Duration time.Duration // the HTTP/2 exchange, without the wait for an in-flight slot
}

// UnknownCertificate reports whether the notification named a busiId without a certificate.
func (r Result) UnknownCertificate() bool { return errors.Is(r.Err, ErrUnknownCertificate) }
