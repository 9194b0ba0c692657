package pipeline

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"

	"offpush/apns"
	"offpush/presence"
)

// Store is the pipeline's view of Redis: recipients' devices and settings, and the dedupe
// claims of pushes. *presence.Store implements it.
type Store interface {
	// Lookup returns the recipients of userIDs, in input order.
	Lookup(ctx context.Context, userIDs []string) ([]presence.Recipient, error)
	// Claim claims pushes atomically per device; results are in input order.
	Claim(ctx context.Context, claims []presence.Claim) ([]presence.ClaimResult, error)
	// Done marks claimed pushes finished; Release forgets them (dead letters).
	Done(ctx context.Context, claims []presence.Claim) error
	Release(ctx context.Context, claims []presence.Claim) error
	// RemoveDeadToken removes a token APNs declared dead unless it was registered again
	// after unregisteredAt.
	RemoveDeadToken(ctx context.Context, userID, token string, unregisteredAt time.Time) (presence.TokenRemoval, error)
}

// Sender sends one push with the certificate of busiID and classifies the answer.
// The lane orders waiting sends: small events' pushes before large ones'. *apns.Pool
// implements it.
type Sender interface {
	Send(ctx context.Context, busiID int, req *apns.Request, lane apns.Lane) apns.Result
	// Topic is the apns-topic of busiID's certificate; false when it is not configured.
	Topic(busiID int) (string, bool)
	// Sends reports whether busiID's certificate sends pushes of kind k.
	Sends(busiID int, k apns.Kinds) bool
}

// deadLetterWriter writes dead-letter records; a *kafka.Writer in production.
type deadLetterWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}
