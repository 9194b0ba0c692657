package presence

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Claim asks to push message MsgID to device Token of UserID.
type Claim struct {
	UserID, MsgID, Token string
	// IgnoreBadge (the message's ios.ignoreBadge) pushes without touching the badge.
	IgnoreBadge bool
}

// ClaimState is what Claim found for a (message, device) pair.
type ClaimState uint8

// Claim states, from the dedupe key and the device registration.
const (
	_           ClaimState = iota
	ClaimNew               // first claim: push it with the returned badge
	ClaimResend            // claimed before, unfinished past the lease (its worker died): push again, same badge
	ClaimDone              // already finished: skip as a duplicate
	ClaimGone              // the device is no longer registered: skip
	ClaimBusy              // claimed by a worker within the lease: in flight elsewhere, claim again later
)

var claimStateNames = [...]string{"invalid", "new", "resend", "done", "gone", "busy"}

// String returns the state's lower-case name.
func (s ClaimState) String() string {
	if int(s) < len(claimStateNames) {
		return claimStateNames[s]
	}
	return claimStateNames[0]
}

// ClaimResult is the answer to one Claim.
type ClaimResult struct {
	State ClaimState
	// Badge is the badge to push for New and Resend; -1 when the claim ignored the badge (and
	// for Done and Gone).
	Badge int64
}

// Claim claims a batch of pushes in one round trip, atomically per device: a new claim marks
// its dedupe key pending and, unless IgnoreBadge, adds 1 to the device badge, so concurrent
// claims for one device get distinct, rising badges. A pending claim younger than
// Options.ClaimLease answers ClaimBusy; an older one is handed over as ClaimResend with its
// badge. Results are in input order. On an error some claims may have been made.
func (s *Store) Claim(ctx context.Context, claims []Claim) ([]ClaimResult, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	cmds, err := s.evalBatch(ctx, s.claim, len(claims), func(p redis.Pipeliner, i int) *redis.Cmd {
		c := claims[i]
		ignore := "0"
		if c.IgnoreBadge {
			ignore = "1"
		}
		keys := []string{s.userKey(c.UserID), s.dedupeKey(c.UserID, c.MsgID, c.Token)}
		return s.claim.EvalSha(ctx, p, keys, c.Token, ignore, s.ttlMs, s.leaseMs)
	})
	if err != nil {
		return nil, fmt.Errorf("claim %d pushes: %w", len(claims), err)
	}
	out := make([]ClaimResult, len(claims))
	for i, cmd := range cmds {
		v, err := cmd.Int64Slice()
		if err != nil || len(v) != 2 {
			return nil, fmt.Errorf("claim %s: unexpected reply %v: %w", claims[i].MsgID, cmd.Val(), err)
		}
		out[i] = ClaimResult{State: ClaimState(v[0]), Badge: v[1]}
	}
	return out, nil
}

// Done marks a batch of claimed pushes finished (sent, or the token is dead) in one round
// trip; a later claim answers ClaimDone. (Release is for pushes written to the DLQ.) Their dedupe keys keep their TTL; one that expired is written with a fresh
// DedupeTTL.
func (s *Store) Done(ctx context.Context, dones []Claim) error {
	if len(dones) == 0 {
		return nil
	}
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, d := range dones {
			key := s.dedupeKey(d.UserID, d.MsgID, d.Token)
			p.SetArgs(ctx, key, "s", redis.SetArgs{Mode: "XX", KeepTTL: true})
			p.SetNX(ctx, key, "s", s.opts.DedupeTTL)
		}
		return nil
	})
	// SET XX answers nil when the key is absent: not an error. Pipelined reports only the
	// first failed command, which may be such a nil.
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("done %d pushes: %w", len(dones), err)
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("done %d pushes: %w", len(dones), err)
		}
	}
	return nil
}

// evalBatch queues n EVALSHA calls of sc in one pipeline and returns their commands. Calls
// that failed with NOSCRIPT (script cache flushed, a new node) are retried once after loading
// the script; any other error is returned.
func (s *Store) evalBatch(ctx context.Context, sc *redis.Script, n int, queue func(redis.Pipeliner, int) *redis.Cmd) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, n)
	todo := make([]int, n)
	for i := range todo {
		todo[i] = i
	}
	for attempt := 0; ; attempt++ {
		_, perr := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range todo {
				cmds[i] = queue(p, i)
			}
			return nil
		})
		var retry []int
		for _, i := range todo {
			if err := cmds[i].Err(); err == nil {
				continue
			} else if attempt > 0 || !redis.HasErrorPrefix(err, "NOSCRIPT") {
				return nil, err
			}
			retry = append(retry, i)
		}
		if len(retry) == 0 {
			return cmds, perr
		}
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return nil, fmt.Errorf("load script: %w", err)
		}
		todo = retry
	}
}
