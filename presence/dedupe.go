package presence

import (
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"strings"
	"time"
)

// fieldLen is the size of a dedupe field: the first 8 bytes of SHA-256(msgID, token), raw.
// Collisions only matter within one user's bucket: with n pushes there the odds are about
// n²/2⁶⁵ (7e-15 at 512 pushes; 7e-12 a day over 10 M user-buckets of 5 pushes). A collision
// would skip one push as a duplicate (or share a pending claim's badge). Raw bytes rather
// than 11 base64 characters: 3 bytes less per push in the listpack.
const fieldLen = 8

// dedupeField is the field of (msgID, token) in a user's dedupe hash. The message id is
// length-prefixed so that no two pairs hash the same input.
func dedupeField(msgID, token string) string {
	var buf [256]byte // on the stack for usual ids and tokens
	b := binary.AppendUvarint(buf[:0], uint64(len(msgID)))
	b = append(b, msgID...)
	b = append(b, token...)
	sum := sha256.Sum256(b)
	return string(sum[:fieldLen])
}

// floorDiv is a/b rounded towards minus infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// bucketKey names the dedupe hash of userID for the bucket [start, start+size), start in
// unix ms: P:{U}:dd:<start in unix seconds>.
func (s *Store) bucketKey(userID string, startMs int64) string {
	return s.opts.Prefix + ":{" + userID + "}:dd:" + strconv.FormatInt(floorDiv(startMs, 1000), 10)
}

// appendHashes appends to keys the dedupe hashes the field of c may be in, the one a first
// write goes to first, and to ends (unless nil) their bucket ends in unix ms as script
// arguments: each hash must outlive its bucket's end by DedupeTTL. A claim with SentAt has
// one hash: the bucket of SentAt. A zero SentAt takes the bucket of the Store's clock now, of
// size zeroBucket, and is also looked for in every such bucket that a claim within the last
// DedupeTTL may have written, one bucket of clock skew between workers allowed either way.
func (s *Store) appendHashes(c Claim, now time.Time, keys []string, ends []any) ([]string, []any) {
	add := func(start, size int64) {
		keys = append(keys, s.bucketKey(c.UserID, start))
		if ends != nil {
			ends = append(ends, strconv.FormatInt(start+size, 10))
		}
	}
	if !c.SentAt.IsZero() {
		b := s.bucketMs
		add(floorDiv(c.SentAt.UnixMilli(), b)*b, b)
		return keys, ends
	}
	z := s.zeroBucketMs
	nowMs := now.UnixMilli()
	cur := floorDiv(nowMs, z)
	lo, hi := floorDiv(nowMs-s.opts.DedupeTTL.Milliseconds(), z)-1, cur+1
	add(cur*z, z)
	for i := hi; i >= lo; i-- {
		if i != cur {
			add(i*z, z)
		}
	}
	return keys, ends
}

// zeroBucket is the bucket size of claims without SentAt: DedupeBucket, but at least a
// quarter of DedupeTTL (whole seconds), so that they search at most 7 hashes.
func zeroBucket(o Options) time.Duration {
	q := (o.DedupeTTL/4 + time.Second - 1).Truncate(time.Second)
	return max(o.DedupeBucket, q)
}

// DedupeStatus is what the dedupe record of one push says.
type DedupeStatus uint8

// Dedupe statuses.
const (
	DedupeAbsent  DedupeStatus = iota // never claimed, released (dead-lettered), or expired: a claim is new
	DedupePending                     // claimed, not finished (in flight, or its worker died)
	DedupeDone                        // finished: a claim answers ClaimDone
)

var dedupeStatusNames = [...]string{"absent", "pending", "done"}

// String returns the status's lower-case name.
func (s DedupeStatus) String() string {
	if int(s) < len(dedupeStatusNames) {
		return dedupeStatusNames[s]
	}
	return "invalid"
}

// DedupeState is the dedupe record of one (message, device) push, as DedupeStates reads it.
type DedupeState struct {
	Status DedupeStatus
	// Badge and ClaimedAt are those of a pending claim: the badge it pushes (-1: ignoreBadge)
	// and when it was last claimed (Redis clock, ms). Zero otherwise.
	Badge     int64
	ClaimedAt time.Time
}

// parseDedupe reads a dedupe field value ("" = absent), leniently as the claim script does:
// a dead-lettered record is absent (claimable); a sent, token-removed or recalled one done;
// "p…" and "P…" (a recall asked it to stop) pending.
func parseDedupe(v string) DedupeState {
	switch {
	case v == "" || v[0] == 'd':
		return DedupeState{}
	case v[0] == 's' || v[0] == 'r' || v[0] == 'v' || v[0] == 'w':
		return DedupeState{Status: DedupeDone}
	}
	st := DedupeState{Status: DedupePending, Badge: -1}
	b, at, _ := strings.Cut(v[min(2, len(v)):], ":")
	if n, err := strconv.ParseInt(b, 10, 64); err == nil {
		st.Badge = n
	}
	if ms, err := strconv.ParseInt(at, 10, 64); err == nil {
		st.ClaimedAt = time.UnixMilli(ms)
	}
	return st
}
