package presence

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Release forgets the dedupe keys of a batch of claims in one round trip. The pipeline releases
// a push it wrote to the dead-letter topic, so that replaying the record pushes the device
// (a done key would make the replay a duplicate). The badge taken by the claim is kept.
func (s *Store) Release(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, c := range claims {
			p.Del(ctx, s.dedupeKey(c.UserID, c.MsgID, c.Token))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release %d pushes: %w", len(claims), err)
	}
	return nil
}
