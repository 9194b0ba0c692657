package presence

import (
	"context"
	"fmt"
)

// Release marks a batch of claims dead-lettered in one round trip: the pipeline wrote them to
// the dead-letter topic. A later Claim treats the record as absent, so that replaying the
// DLQ record pushes the device (a done record would make the replay a duplicate); Explain
// reads it as a dead letter with its time and Attempts. The badge taken by the claim is kept.
// A push already finished (sent, token removed) stays finished.
func (s *Store) Release(ctx context.Context, claims []Claim) error {
	if err := s.settleBatch(ctx, claims, "d"); err != nil {
		return fmt.Errorf("release %d pushes: %w", len(claims), err)
	}
	return nil
}
