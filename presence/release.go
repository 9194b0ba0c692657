package presence

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Release forgets the dedupe records of a batch of claims in one round trip (their fields are
// deleted; a hash left empty goes with its last field). The pipeline releases a push it wrote
// to the dead-letter topic, so that replaying the record pushes the device (a done record
// would make the replay a duplicate). The badge taken by the claim is kept.
func (s *Store) Release(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		now := s.opts.Now()
		for _, c := range claims {
			f := dedupeField(c.MsgID, c.Token)
			keys, _ := s.appendHashes(c, now, nil, nil)
			for _, k := range keys {
				p.HDel(ctx, k, f)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release %d pushes: %w", len(claims), err)
	}
	return nil
}
