package apns

import (
	"testing"

	"github.com/sideshow/apns2"
)

// TestClassify maps every status/reason APNs documents (every apns2 Reason constant) to its class.
func TestClassify(t *testing.T) {
	cases := []struct {
		status int
		reason string
		want   Class
	}{
		{200, "", Sent}, // accepted

		{400, apns2.ReasonBadCollapseID, Permanent},          // collapse id > 64 bytes: our bug
		{400, apns2.ReasonBadDeviceToken, TokenDead},         // token malformed or wrong environment
		{400, apns2.ReasonBadExpirationDate, Permanent},      // bad apns-expiration
		{400, apns2.ReasonBadMessageID, Permanent},           // bad apns-id
		{400, apns2.ReasonBadPriority, Permanent},            // bad apns-priority
		{400, apns2.ReasonBadTopic, Permanent},               // bad apns-topic
		{400, apns2.ReasonDeviceTokenNotForTopic, TokenDead}, // token belongs to another app
		{400, apns2.ReasonDuplicateHeaders, Permanent},       // repeated headers
		{400, apns2.ReasonIdleTimeout, Retry},                // connection idle timeout: resend
		{400, apns2.ReasonInvalidPushType, Permanent},        // bad apns-push-type
		{400, apns2.ReasonMissingDeviceToken, Permanent},     // empty token in :path
		{400, apns2.ReasonMissingTopic, Permanent},           // apns-topic required
		{400, apns2.ReasonPayloadEmpty, Permanent},           // empty body
		{400, apns2.ReasonTopicDisallowed, Permanent},        // topic not allowed for this auth
		{400, "SomethingNew", Permanent},                     // an unknown 400 reason

		{403, apns2.ReasonBadCertificate, Permanent},            // certificate rejected
		{403, apns2.ReasonBadCertificateEnvironment, Permanent}, // sandbox cert on production
		{403, apns2.ReasonExpiredProviderToken, RefreshAuth},    // JWT older than 1h: regenerate
		{403, apns2.ReasonForbidden, Permanent},                 // action not allowed
		{403, apns2.ReasonInvalidProviderToken, Permanent},      // JWT signature/kid/team wrong
		{403, apns2.ReasonMissingProviderToken, Permanent},      // neither certificate nor JWT

		{404, apns2.ReasonBadPath, Permanent},          // bad :path
		{405, apns2.ReasonMethodNotAllowed, Permanent}, // not POST

		{410, apns2.ReasonExpiredToken, TokenDead},    // token expired
		{410, apns2.ReasonUnregistered, TokenDead},    // app uninstalled
		{410, "SomethingNew", TokenDead},              // any 410: the token is gone
		{413, apns2.ReasonPayloadTooLarge, Permanent}, // payload > 4096 bytes

		{429, apns2.ReasonTooManyProviderTokenUpdates, Retry}, // JWT refreshed too often
		{429, apns2.ReasonTooManyRequests, Retry},             // too many pushes to one token

		{500, apns2.ReasonInternalServerError, Retry}, // APNs internal error
		{502, "", Retry}, // a proxy in between failed
		{503, apns2.ReasonServiceUnavailable, Retry}, // APNs unavailable
		{503, apns2.ReasonShutdown, Retry},           // server shutting down: reconnect
	}
	for _, c := range cases {
		if got := Classify(c.status, c.reason); got != c.want {
			t.Errorf("Classify(%d, %q) = %v, want %v", c.status, c.reason, got, c.want)
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
