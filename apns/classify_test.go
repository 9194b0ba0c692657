package apns

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/sideshow/apns2"
)

// TestClassify maps every status/reason APNs documents (every apns2 Reason constant) to its class.
func TestClassify(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Err: errors.New("connection refused")}
	cases := []struct {
		status int
		reason string
		err    error
		want   Class
	}{
		{0, "", netErr, Retry},                   // no answer: network error
		{0, "", context.DeadlineExceeded, Retry}, // no answer: per-request timeout
		{0, "", context.Canceled, Retry},         // no answer: caller cancelled (caller checks ctx)
		{200, "", nil, Sent},                     // accepted

		{400, apns2.ReasonBadCollapseID, nil, Permanent},          // collapse id > 64 bytes: our bug
		{400, apns2.ReasonBadDeviceToken, nil, TokenDead},         // token malformed or wrong environment
		{400, apns2.ReasonBadExpirationDate, nil, Permanent},      // bad apns-expiration
		{400, apns2.ReasonBadMessageID, nil, Permanent},           // bad apns-id
		{400, apns2.ReasonBadPriority, nil, Permanent},            // bad apns-priority
		{400, apns2.ReasonBadTopic, nil, Permanent},               // bad apns-topic
		{400, apns2.ReasonDeviceTokenNotForTopic, nil, TokenDead}, // token belongs to another app
		{400, apns2.ReasonDuplicateHeaders, nil, Permanent},       // repeated headers
		{400, apns2.ReasonIdleTimeout, nil, Retry},                // connection idle timeout: resend
		{400, apns2.ReasonInvalidPushType, nil, Permanent},        // bad apns-push-type
		{400, apns2.ReasonMissingDeviceToken, nil, Permanent},     // empty token in :path
		{400, apns2.ReasonMissingTopic, nil, Permanent},           // apns-topic required
		{400, apns2.ReasonPayloadEmpty, nil, Permanent},           // empty body
		{400, apns2.ReasonTopicDisallowed, nil, Permanent},        // topic not allowed for this auth
		{400, "SomethingNew", nil, Permanent},                     // an unknown 400 reason

		{403, apns2.ReasonBadCertificate, nil, Permanent},            // certificate rejected
		{403, apns2.ReasonBadCertificateEnvironment, nil, Permanent}, // sandbox cert on production
		{403, apns2.ReasonExpiredProviderToken, nil, RefreshAuth},    // JWT older than 1h: regenerate
		{403, apns2.ReasonForbidden, nil, Permanent},                 // action not allowed
		{403, apns2.ReasonInvalidProviderToken, nil, Permanent},      // JWT signature/kid/team wrong
		{403, apns2.ReasonMissingProviderToken, nil, Permanent},      // neither certificate nor JWT

		{404, apns2.ReasonBadPath, nil, Permanent},          // bad :path
		{405, apns2.ReasonMethodNotAllowed, nil, Permanent}, // not POST

		{410, apns2.ReasonExpiredToken, nil, TokenDead},    // token expired
		{410, apns2.ReasonUnregistered, nil, TokenDead},    // app uninstalled
		{410, "SomethingNew", nil, TokenDead},              // any 410: the token is gone
		{413, apns2.ReasonPayloadTooLarge, nil, Permanent}, // payload > 4096 bytes

		{429, apns2.ReasonTooManyProviderTokenUpdates, nil, Retry}, // JWT refreshed too often
		{429, apns2.ReasonTooManyRequests, nil, Retry},             // too many pushes to one token

		{500, apns2.ReasonInternalServerError, nil, Retry}, // APNs internal error
		{502, "", nil, Retry},                              // a proxy in between failed
		{503, apns2.ReasonServiceUnavailable, nil, Retry},  // APNs unavailable
		{503, apns2.ReasonShutdown, nil, Retry},            // server shutting down: reconnect
	}
	for _, c := range cases {
		if got := Classify(c.status, c.reason, c.err); got != c.want {
			t.Errorf("Classify(%d, %q, %v) = %v, want %v", c.status, c.reason, c.err, got, c.want)
		}
	}
}

// TestClassString pins the words used in logs and metric labels.
func TestClassString(t *testing.T) {
	want := map[Class]string{Sent: "sent", TokenDead: "token_dead", Retry: "retry",
		RefreshAuth: "refresh_auth", Permanent: "permanent", numClasses: "unknown"}
	for c, w := range want {
		if c.String() != w {
			t.Errorf("Class(%d).String() = %q, want %q", c, c.String(), w)
		}
	}
}
