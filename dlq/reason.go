package dlq

// Reason is why a push (or a whole event) went to the dead-letter topic. The words are the
// offpush-reason header of DLQ records and metric labels.
type Reason uint8

// The reasons.
const (
	InvalidEvent       Reason = iota + 1 // the event failed event.Decode
	UnknownCertificate                   // the device's busiId is not a configured certificate
	PayloadTooLarge                      // over APNs' size limit: render cannot fit it, or APNs answered 413
	RetryExhausted                       // retryable APNs answers past the retry budget
	Rejected                             // APNs answered a permanent error (400/403/405 …)
	numReasons
)

var reasonNames = [numReasons]string{
	InvalidEvent:       "invalid_event",
	UnknownCertificate: "unknown_certificate",
	PayloadTooLarge:    "payload_too_large",
	RetryExhausted:     "apns_retry_exhausted",
	Rejected:           "apns_rejected",
}

// String is the reason's word (offpush-reason).
func (f Reason) String() string {
	if f > 0 && f < numReasons {
		return reasonNames[f]
	}
	return "unknown"
}

// Reasons lists every reason.
func Reasons() []Reason {
	var out []Reason
	for f := InvalidEvent; f < numReasons; f++ {
		out = append(out, f)
	}
	return out
}
