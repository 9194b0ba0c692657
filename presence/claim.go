package presence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claim asks to push message MsgID to device Token of UserID. Claim, Done, Release and
// DedupeStates take it; the last three ignore IgnoreBadge.
type Claim struct {
	UserID, MsgID, Token string
	// SentAt is the message's sentAt (event.Message.SentAt). It picks the dedupe bucket, so
	// every claim, Done and Release of one push must carry the same SentAt: a redelivered or
	// replayed event its original one. Zero (the producer did not say) works too: such a push
	// goes to the bucket of the Store's clock now and is looked for in every bucket of the
	// last DedupeTTL, a few more reads per claim.
	SentAt time.Time
	// IgnoreBadge (the message's ios.ignoreBadge) pushes without touching the badge.
	IgnoreBadge bool
	// Outcome and Attempts are how the push ended and after how many APNs requests: Done and
	// Release record them for Explain; Claim ignores them.
	Outcome  Outcome
	Attempts int
}

// Outcome is how a finished push ended, as Done records it.
type Outcome uint8

// Outcomes of Done.
const (
	OutcomeSent         Outcome = iota // APNs accepted it
	OutcomeTokenRemoved                // APNs declared the token dead; it was removed
)

// outcomeCode is the state letter settleSrc writes for an Outcome.
var outcomeCode = [...]string{OutcomeSent: "s", OutcomeTokenRemoved: "r"}

// ClaimState is what Claim found for a (message, device) pair.
type ClaimState uint8

// Claim states, from the dedupe key and the device registration.
const (
	_            ClaimState = iota
	ClaimNew                // first claim: push it with the returned badge
	ClaimResend             // claimed before, unfinished past the lease (its worker died): push again, same badge
	ClaimDone               // already finished: skip as a duplicate
	ClaimGone               // the device is no longer registered: skip
	ClaimBusy               // claimed by a worker within the lease: in flight elsewhere, claim again later
	ClaimRevoked            // the message was recalled (Revoke) before this device got it: skip, never push
)

var claimStateNames = [...]string{"invalid", "new", "resend", "done", "gone", "busy", "revoked"}

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
// its dedupe field pending and, unless IgnoreBadge, adds 1 to the device badge, so concurrent
// claims for one device get distinct, rising badges. A pending claim younger than
// Options.ClaimLease answers ClaimBusy; an older one is handed over as ClaimResend with its
// badge. Results are in input order. On an error some claims may have been made.
func (s *Store) Claim(ctx context.Context, claims []Claim) ([]ClaimResult, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	now := s.opts.Now()
	cmds, err := s.evalChunked(ctx, s.claim, len(claims), []any{s.ttlArg, s.leaseArg, s.capArg},
		func(i int, keys []string, args []any) ([]string, []any) {
			c := claims[i]
			ignore := argZero
			if c.IgnoreBadge {
				ignore = argOne
			}
			keys = append(keys, s.userKey(c.UserID))
			at, k := len(args), len(keys)
			args = append(args, nil, c.Token, dedupeField(c.MsgID, c.Token), ignore)
			keys, args = s.appendHashes(c, now, keys, args)
			args[at] = countArg(len(keys) - k)
			return keys, args
		})
	if err != nil {
		return nil, fmt.Errorf("claim %d pushes: %w", len(claims), err)
	}
	out := make([]ClaimResult, len(claims))
	for c, cmd := range cmds {
		lo, hi := s.chunkRange(c, len(claims))
		v, err := cmd.Int64Slice()
		if err != nil || len(v) != 2*(hi-lo) {
			return nil, fmt.Errorf("claim %s: unexpected reply %v: %w", claims[lo].MsgID, cmd.Val(), err)
		}
		for i := lo; i < hi; i++ {
			out[i] = ClaimResult{State: ClaimState(v[2*(i-lo)]), Badge: v[2*(i-lo)+1]}
		}
	}
	return out, nil
}

// Done marks a batch of claimed pushes finished in one round trip: sent, or, with Outcome
// OutcomeTokenRemoved, not sent because APNs declared the token dead. A later claim answers
// ClaimDone. (Release is for pushes written to the DLQ.) Each record keeps the claim's badge
// and gets the time and Attempts, for Explain. The dedupe hash keeps its expiry, extended if
// needed to DedupeTTL past the later of now and its bucket's end; Done of a push whose hash
// expired (or was never written) writes it anew.
func (s *Store) Done(ctx context.Context, dones []Claim) error {
	if err := s.settleBatch(ctx, dones, ""); err != nil {
		return fmt.Errorf("done %d pushes: %w", len(dones), err)
	}
	return nil
}

// settleBatch runs settleSrc for every claim: state "" takes each claim's Outcome.
func (s *Store) settleBatch(ctx context.Context, claims []Claim, state string) error {
	if len(claims) == 0 {
		return nil
	}
	now := s.opts.Now()
	_, err := s.evalChunked(ctx, s.settle, len(claims), []any{s.ttlArg, s.capArg},
		func(i int, keys []string, args []any) ([]string, []any) {
			c := claims[i]
			st := state
			if st == "" {
				st = outcomeCode[c.Outcome]
			}
			at, k := len(args), len(keys)
			args = append(args, nil, dedupeField(c.MsgID, c.Token), st, strconv.Itoa(max(c.Attempts, 0)))
			keys, args = s.appendHashes(c, now, keys, args)
			args[at] = countArg(len(keys) - k)
			return keys, args
		})
	return err
}

// DedupeStates reads the dedupe records of a batch of pushes in one round trip and changes
// nothing: pending (claimed, unfinished), done, or absent. Results are in input order. It is
// for tests and tools that check what the pipeline left (the chaos harness, crash tests):
// nothing else should need to know where dedupe records live.
func (s *Store) DedupeStates(ctx context.Context, claims []Claim) ([]DedupeState, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	now := s.opts.Now()
	cmds := make([][]*redis.StringCmd, len(claims))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range claims {
			f := dedupeField(c.MsgID, c.Token)
			keys, _ := s.appendHashes(c, now, nil, nil)
			cmds[i] = make([]*redis.StringCmd, len(keys))
			for j, k := range keys {
				cmds[i][j] = p.HGet(ctx, k, f)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("dedupe states of %d pushes: %w", len(claims), err)
	}
	out := make([]DedupeState, len(claims))
	for i, cs := range cmds {
		for _, c := range cs {
			v, err := c.Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("dedupe states of %d pushes: %w", len(claims), err)
			}
			out[i] = parseDedupe(v)
			break
		}
	}
	return out, nil
}

// Script arguments that are always the same: boxed once.
var argZero, argOne any = "0", "1"

// dedupeChunk is how many pushes one claim or settle script call takes on a single node or
// behind Sentinel (a *redis.Client): one EVALSHA, one reply and one pass of the script's
// setup instead of 64, for a call that holds Redis for about half a millisecond. Against Redis
// Cluster (or any client that spreads keys over nodes) a call takes one push, since every
// user's keys have a slot of their own.
const dedupeChunk = 64

// evalChunked runs sc over n pushes, s.chunk to a call, all calls in one pipeline (see
// evalBatch). Every call's arguments start with head; add appends push i's keys and
// arguments. Call c holds the pushes chunkRange(c, n).
func (s *Store) evalChunked(ctx context.Context, sc *redis.Script, n int, head []any, add func(i int, keys []string, args []any) ([]string, []any)) ([]*redis.Cmd, error) {
	return s.evalBatch(ctx, sc, (n+s.chunk-1)/s.chunk, func(p redis.Pipeliner, c int) *redis.Cmd {
		lo, hi := s.chunkRange(c, n)
		keys := make([]string, 0, 2*(hi-lo))
		args := make([]any, len(head), len(head)+6*(hi-lo))
		copy(args, head)
		for i := lo; i < hi; i++ {
			keys, args = add(i, keys, args)
		}
		return sc.EvalSha(ctx, p, keys, args...)
	})
}

// chunkRange is the pushes [lo, hi) of call c of evalChunked over n.
func (s *Store) chunkRange(c, n int) (lo, hi int) { return c * s.chunk, min(n, (c+1)*s.chunk) }

// countArgs are the script arguments "0".."15", boxed once.
var countArgs = func() (a [16]any) {
	for i := range a {
		a[i] = strconv.Itoa(i)
	}
	return a
}()

func countArg(n int) any {
	if n < len(countArgs) {
		return countArgs[n]
	}
	return strconv.Itoa(n)
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
