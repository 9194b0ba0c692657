package pipeline

// Failure is why a push (or a whole event) went to the dead-letter topic. The words are the
// offpush-reason header of DLQ records and metric labels.
type Failure uint8

// Failure reasons.
const (
	InvalidEvent       Failure = iota + 1 // the event failed event.Decode
	UnknownCertificate                    // the device's busiId is not a configured certificate
	PayloadTooLarge                       // APNs answered 413 PayloadTooLarge
	RetryExhausted                        // retryable APNs answers past the retry budget
	Rejected                              // APNs answered a permanent error (400/403/405 …)
	numFailures
)

var failureNames = [numFailures]string{
	InvalidEvent:       "invalid_event",
	UnknownCertificate: "unknown_certificate",
	PayloadTooLarge:    "payload_too_large",
	RetryExhausted:     "apns_retry_exhausted",
	Rejected:           "apns_rejected",
}

func (f Failure) String() string {
	if f > 0 && f < numFailures {
		return failureNames[f]
	}
	return "unknown"
}

// Failures lists every failure reason.
func Failures() []Failure {
	var out []Failure
	for f := InvalidEvent; f < numFailures; f++ {
		out = append(out, f)
	}
	return out
}
