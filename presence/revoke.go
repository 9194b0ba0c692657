package presence

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RevokeResult is what Revoke found for the push of a recalled message to one device.
type RevokeResult struct {
	State RevokeState
	// Badge is the replacement's badge for RevokeReplace: one below the device's count when
	// the original counted one (never below 0), -1 for no badge.
	Badge int64
}

// RevokeState says what a recall does on one device.
type RevokeState uint8

// Revoke states.
const (
	_             RevokeState = iota
	RevokePrevent             // never pushed: now it never will be (nothing to send)
	RevokeReplace             // pushed (or maybe, its worker died mid-send): send the replacement
	RevokeDone                // recalled already: nothing to do
	RevokeBusy                // the original or a replacement is in flight: Revoke again later
	RevokeGone                // the device is no longer registered: nothing to send
)

var revokeStateNames = [...]string{"invalid", "prevent", "replace", "done", "busy", "gone"}

// String returns the state's lower-case name.
func (s RevokeState) String() string {
	if int(s) < len(revokeStateNames) {
		return revokeStateNames[s]
	}
	return revokeStateNames[0]
}

// Revoke recalls, in one round trip, the pushes of a message to a batch of devices: each
// Claim names the recalled message (MsgID), the device (UserID, Token) and, in SentAt, the
// recall's own time. The original's record is looked for in every live dedupe hash of the
// user (the recall does not know the original's sentAt); where there is none, a tombstone goes
// into the hash of the recall's time and the one before, where a claim of the original,
// sent at most DedupeBucket before the recall, looks. See revokeSrc for each case. A
// RevokeReplace result must be finished with RevokeDone once its replacement was sent.
func (s *Store) Revoke(ctx context.Context, claims []Claim) ([]RevokeResult, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	now := s.opts.Now()
	cmds, err := s.evalBatch(ctx, s.revoke, len(claims), func(p redis.Pipeliner, i int) *redis.Cmd {
		c := claims[i]
		keys, ends := s.revokeKeys(c, now)
		args := make([]any, 5, 5+len(ends))
		args[0], args[1], args[2], args[3], args[4] = c.Token, dedupeField(c.MsgID, c.Token), s.leaseArg, s.ttlArg, s.capArg
		args = append(args, ends...)
		return s.revoke.EvalSha(ctx, p, append([]string{s.userKey(c.UserID)}, keys...), args...)
	})
	if err != nil {
		return nil, fmt.Errorf("revoke %d pushes: %w", len(claims), err)
	}
	out := make([]RevokeResult, len(claims))
	for i, cmd := range cmds {
		v, err := cmd.Int64Slice()
		if err != nil || len(v) != 2 {
			return nil, fmt.Errorf("revoke %s: unexpected reply %v: %w", claims[i].MsgID, cmd.Val(), err)
		}
		out[i] = RevokeResult{State: RevokeState(v[0]), Badge: v[1]}
	}
	return out, nil
}

// RevokeDone records that the replacements of a batch of RevokeReplace results were sent:
// Explain reads them as revoked, with the replacement's badge and Attempts.
func (s *Store) RevokeDone(ctx context.Context, claims []Claim) error {
	if len(claims) == 0 {
		return nil
	}
	now := s.opts.Now()
	_, err := s.evalChunked(ctx, s.settle, len(claims), []any{s.ttlArg, s.capArg},
		func(i int, keys []string, args []any) ([]string, []any) {
			c := claims[i]
			ks, ends := s.revokeKeys(c, now)
			keys = append(keys, ks...)
			args = append(args, countArg(len(ks)), dedupeField(c.MsgID, c.Token), "v", strconv.Itoa(max(c.Attempts, 0)))
			return keys, append(args, ends...)
		})
	if err != nil {
		return fmt.Errorf("revoke done %d pushes: %w", len(claims), err)
	}
	return nil
}

// StopIfRevoked is the check a push makes before each retry: true when a recall asked it to
// stop while it was in flight. The push is then never sent: its record becomes recalled and
// the badge its claim took is given back.
func (s *Store) StopIfRevoked(ctx context.Context, c Claim) (bool, error) {
	keys, _ := s.appendHashes(c, s.opts.Now(), []string{s.userKey(c.UserID)}, nil)
	n, err := s.stopIfRevoked.Run(ctx, s.rdb, keys, c.Token, dedupeField(c.MsgID, c.Token)).Int64()
	if err != nil {
		return false, fmt.Errorf("check recall of %s: %w", c.MsgID, err)
	}
	return n == 1, nil
}

// revokeKeys are the hashes revokeSrc and RevokeDone take: the tombstone hashes (the bucket of
// c.SentAt, or of now without one, and the bucket before), then every live hash, with their
// bucket ends (unix ms) as script arguments.
func (s *Store) revokeKeys(c Claim, now time.Time) ([]string, []any) {
	at := c.SentAt
	if at.IsZero() {
		at = now
	}
	b := s.bucketMs
	cur := floorDiv(at.UnixMilli(), b) * b
	keys := []string{s.bucketKey(c.UserID, cur), s.bucketKey(c.UserID, cur-b)}
	ends := []any{strconv.FormatInt(cur+b, 10), strconv.FormatInt(cur, 10)}
	for _, k := range s.explainKeys(c.UserID, now) {
		keys = append(keys, k.name)
		ends = append(ends, strconv.FormatInt(k.endMs, 10))
	}
	return keys, ends
}
