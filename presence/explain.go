package presence

import (
	"context"
	"errors"
	"fmt"
	"offpush/recipient"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// PushState is what offpush did with one push (message, device), as Explain reads it.
type PushState string

// Push states.
const (
	PushNone         PushState = "none"          // no push was made (skipped, or not consumed yet)
	PushPending      PushState = "pending"       // claimed, not finished: in flight, retrying, or its worker died
	PushSent         PushState = "sent"          // APNs accepted it
	PushDeadLetter   PushState = "dead_letter"   // written to the dead-letter topic
	PushTokenRemoved PushState = "token_removed" // APNs declared the token dead; it was removed
	// PushRevoked: the message was recalled. Its push was replaced by the recall's (Attempts
	// and Badge are the replacement's), or, when Attempts is 0, never sent.
	PushRevoked PushState = "revoked"
)

// PushRecord is the push of one message to one device, for support.
type PushRecord struct {
	Token string
	Kind  recipient.DeviceKind
	// Registered is whether the token is one of the user's devices now; a removed token is
	// listed only when a push of the message touched it.
	Registered bool
	State      PushState
	// At is when the push was claimed (pending) or finished; zero when unknown (none, or a
	// record written before offpush kept times).
	At time.Time
	// Badge is the badge the push carried; -1 when none (ignoreBadge, or unknown).
	Badge int64
	// Attempts is the APNs requests made for a finished push; 0 when unknown or pending.
	Attempts int
}

// Explain reads what offpush did with message msgID for each device of userID: the user's
// current devices, and the tokens removed within DedupeTTL that a push of the message
// touched, sorted by token. It reads the dedupe records, so it knows what they know, for as
// long as they live (DedupeTTL past their bucket); an unknown message reads as none for
// every device. It changes nothing.
func (s *Store) Explain(ctx context.Context, userID, msgID string) ([]PushRecord, error) {
	h, err := s.rdb.HGetAll(ctx, s.userKey(userID)).Result()
	if err != nil {
		return nil, fmt.Errorf("explain %s of %s: %w", msgID, userID, err)
	}
	now := s.opts.Now()
	registered := map[string]bool{}
	kinds := map[string]recipient.DeviceKind{}
	for f, v := range h {
		switch {
		case strings.HasPrefix(f, "d:"):
			registered[f[2:]] = true
			kinds[f[2:]] = parseDevice(f[2:], v).Kind
		case strings.HasPrefix(f, "x:"):
			at, kind, _ := strings.Cut(v, "|")
			if ms, _ := strconv.ParseInt(at, 10, 64); now.Sub(time.UnixMilli(ms)) <= s.opts.DedupeTTL {
				if _, ok := registered[f[2:]]; !ok {
					registered[f[2:]] = false
					if kind == "v" {
						kinds[f[2:]] = recipient.KindVoIP
					}
				}
			}
		}
	}
	tokens := slices.Sorted(func(yield func(string) bool) {
		for t := range registered {
			if !yield(t) {
				return
			}
		}
	})
	keys := s.explainKeys(userID, now)
	cmds := make([][]*redis.StringCmd, len(tokens))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tokens {
			f := dedupeField(msgID, t)
			cmds[i] = make([]*redis.StringCmd, len(keys))
			for j, k := range keys {
				cmds[i][j] = p.HGet(ctx, k.name, f)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("explain %s of %s: %w", msgID, userID, err)
	}
	out := make([]PushRecord, 0, len(tokens))
	for i, t := range tokens {
		r := PushRecord{Token: t, Kind: kinds[t], Registered: registered[t], State: PushNone, Badge: -1}
		for j, c := range cmds[i] {
			v, err := c.Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("explain %s of %s: %w", msgID, userID, err)
			}
			if got := parseRecord(v, keys[j].start); rank(got.State) > rank(r.State) {
				got.Token, got.Kind, got.Registered = t, r.Kind, r.Registered
				r = got
			}
		}
		if r.Registered || r.State != PushNone {
			out = append(out, r)
		}
	}
	return out, nil
}

// explainKey is a dedupe hash a record of the message may be in, with its bucket start and
// end (unix ms).
type explainKey struct {
	name  string
	start time.Time
	endMs int64
}

// explainKeys are the user's dedupe hashes that can hold a live record: every bucket, of
// either size (with sentAt, and the zero-sentAt size), from DedupeTTL before the earliest
// bucket that can still be alive to the bucket after now (a sentAt in the future is capped
// there).
func (s *Store) explainKeys(userID string, now time.Time) []explainKey {
	var out []explainKey
	seen := map[int64]bool{}
	nowMs := now.UnixMilli()
	for _, size := range []int64{s.bucketMs, s.zeroBucketMs} {
		lo := floorDiv(nowMs-s.opts.DedupeTTL.Milliseconds()-size, size)
		hi := floorDiv(nowMs+size, size)
		for i := hi; i >= lo; i-- {
			start := i * size
			if !seen[start] {
				seen[start] = true
				out = append(out, explainKey{s.bucketKey(userID, start), time.UnixMilli(floorDiv(start, 1000) * 1000), start + size})
			}
		}
	}
	return out
}

// rank orders what one record can say, when a push has records in several buckets (a
// message without sentAt claimed again on another day): finished beats pending beats a dead
// letter (a replay followed it) beats nothing.
func rank(s PushState) int {
	switch s {
	case PushRevoked:
		return 4
	case PushSent, PushTokenRemoved:
		return 3
	case PushPending:
		return 2
	case PushDeadLetter:
		return 1
	}
	return 0
}

// parseRecord reads a dedupe field value of a hash whose bucket starts at start:
// "p:N:A" (A unix ms), "S:N:T:K" (S s, r or d; T seconds after start; K attempts), or the
// bare "s" of records written before offpush kept times. Malformed numbers read as unknown.
func parseRecord(v string, start time.Time) PushRecord {
	r := PushRecord{Badge: -1}
	parts := strings.Split(v, ":")
	num := func(i int) (int64, bool) {
		if i >= len(parts) {
			return 0, false
		}
		n, err := strconv.ParseInt(parts[i], 10, 64)
		return n, err == nil
	}
	if n, ok := num(1); ok {
		r.Badge = n
	}
	switch parts[0] {
	case "p", "P", "w":
		r.State = PushPending
		if parts[0] == "w" {
			r.State = PushRevoked // the replacement is in flight
		}
		if ms, ok := num(2); ok {
			r.At = time.UnixMilli(ms)
		}
		return r
	case "s":
		r.State = PushSent
	case "r":
		r.State = PushTokenRemoved
	case "d":
		r.State = PushDeadLetter
	case "v":
		r.State = PushRevoked
	default:
		return PushRecord{State: PushNone, Badge: -1}
	}
	if sec, ok := num(2); ok {
		r.At = start.Add(time.Duration(sec) * time.Second)
	}
	if k, ok := num(3); ok {
		r.Attempts = int(k)
	}
	return r
}
